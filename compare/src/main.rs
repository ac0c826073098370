//! `compare`: one command that measures `goroutines` against Go, tokio, may
//! and std threads, case by case, side by side.
//!
//! The binary plays two roles:
//!
//! 1. **Harness** (`compare all`, `compare CASE...`): builds the Go peer,
//!    then runs every (case, size, peer) cell as a separate child process,
//!    run 1 of every peer before run 2 of any, prints a markdown table per
//!    case and writes `latest.json` plus one SVG chart per case.
//! 2. **Child** (`compare child PEER CASE SIZE`, hidden): runs one cell in a
//!    fresh process, so RSS, worker counts and runtime state never leak from
//!    one measurement into the next, and prints one JSON line.
//!
//! Layout: `cases/` holds one file per case with every Rust peer's
//! counterpart side by side (the Go counterpart sits in `compare/go/` under
//! the same name); `peer.rs` builds each peer's runtime; `harness/` runs
//! children and builds Go; `load/` drives the network cases; `report/` turns
//! raw runs into tables, JSON and SVG.

mod cases;
mod child;
mod cli;
mod harness;
mod load;
mod measure;
mod peer;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args) {
        Ok(cli::Command::Child { peer, case, size }) => child::run(peer, case, size),
        Ok(cli::Command::List) => {
            cli::print_list();
            ExitCode::SUCCESS
        }
        Ok(cli::Command::Help) => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(cli::Command::Compare(options)) => harness::compare(&options),
        Err(message) => {
            eprintln!("compare: {message}\n\n{}", cli::USAGE);
            ExitCode::from(2)
        }
    }
}
