//! Command-line parsing for the harness and the hidden child entry point.
//!
//! No argument-parsing crate: the grammar is four flags and a list of case
//! names, and the child form is positional and written only by the harness.

use std::path::PathBuf;

use crate::cases::{self, Case};
use crate::peer::Peer;

pub const USAGE: &str = "\
usage: compare all [options]          run every case
       compare CASE [CASE...] [options]
       compare list                   list cases and peers

options:
  --quick          small sizes and one run: proves every case still works,
                   says nothing about speed (what CI runs)
  --runs K         runs per peer (default 5, quick 1); peers alternate run by run
  --peers a,b,...  only these peers (default: all)
  --out DIR        where latest.json and the SVG charts go
                   (default compare/results, quick: target/compare-quick)
";

/// What one invocation asks for.
pub enum Command {
    Compare(Options),
    /// Hidden: run one cell in this process and print one JSON line.
    Child {
        peer: Peer,
        case: &'static Case,
        size: u64,
    },
    List,
    Help,
}

/// The harness's settings, after defaults are filled in.
pub struct Options {
    pub cases: Vec<&'static Case>,
    pub peers: Vec<Peer>,
    pub quick: bool,
    pub runs: usize,
    /// `None`: the default folder, which depends on `quick`.
    pub out: Option<PathBuf>,
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => Ok(Command::Help),
        Some("list") => Ok(Command::List),
        Some("child") => parse_child(&args[1..]),
        Some(_) => parse_compare(args).map(Command::Compare),
    }
}

fn parse_child(args: &[String]) -> Result<Command, String> {
    let [peer, case, size] = args else {
        return Err("child takes PEER CASE SIZE".into());
    };
    let peer = Peer::from_name(peer).ok_or_else(|| format!("unknown peer `{peer}`"))?;
    let case = cases::find(case).ok_or_else(|| format!("unknown case `{case}`"))?;
    let size = size
        .parse()
        .map_err(|_| format!("size `{size}` is not a whole number"))?;
    Ok(Command::Child { peer, case, size })
}

fn parse_compare(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        cases: Vec::new(),
        peers: Peer::ALL.to_vec(),
        quick: false,
        runs: 0,
        out: None,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--runs" => {
                let value = rest.next().ok_or("--runs needs a number")?;
                options.runs = value
                    .parse()
                    .ok()
                    .filter(|&runs| runs > 0)
                    .ok_or_else(|| format!("--runs `{value}` is not a positive number"))?;
            }
            "--peers" => {
                let value = rest.next().ok_or("--peers needs a list")?;
                options.peers = value
                    .split(',')
                    .map(|name| {
                        Peer::from_name(name).ok_or_else(|| format!("unknown peer `{name}`"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--out" => {
                let value = rest.next().ok_or("--out needs a folder")?;
                options.out = Some(PathBuf::from(value));
            }
            "all" => options.cases = cases::ALL.to_vec(),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            name => {
                let case = cases::find(name).ok_or_else(|| format!("unknown case `{name}`"))?;
                if !options.cases.iter().any(|known| known.name == case.name) {
                    options.cases.push(case);
                }
            }
        }
    }
    if options.cases.is_empty() {
        return Err("name `all` or at least one case".into());
    }
    if options.runs == 0 {
        options.runs = if options.quick { 1 } else { 5 };
    }
    Ok(options)
}

pub fn print_list() {
    println!("cases:");
    for case in cases::ALL {
        println!("  {:<15} {}", case.name, case.summary);
    }
    let peers: Vec<&str> = Peer::ALL.iter().map(|peer| peer.name()).collect();
    println!("peers: {}", peers.join(", "));
}
