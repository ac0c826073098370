//! The harness: plan the cells, run each as a child process, report.
//!
//! Order: for each case and size, run 1 of every peer, then run 2 of every
//! peer, and so on, so slow drift on a shared machine (another build, a
//! thermal change) spreads over all peers instead of landing on one.
//! Children run one at a time, never concurrently. A cell that is not built,
//! unsupported or skipped is asked once; a cell that timed out is not run
//! again (its later runs would only burn the same timeout).

mod child_process;
mod go_peer;
mod machine;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::cases::{Case, Execution};
use crate::cli::Options;
use crate::load;
use crate::peer::{Peer, Procs};
use crate::report::{self, CaseResults, Cell, RunOutcome, SizeResults};
use child_process::Invocation;
use go_peer::GoPeer;

/// Quick runs prove that cases work; a hung peer should not eat minutes.
const QUICK_TIMEOUT_SECS: u64 = 30;

pub fn compare(options: &Options) -> ExitCode {
    let this_binary = match std::env::current_exe() {
        Ok(path) => path,
        Err(error) => {
            eprintln!("compare: cannot find this binary: {error}");
            return ExitCode::FAILURE;
        }
    };
    let target = target_dir(&this_binary);
    let go = if options.peers.contains(&Peer::Go) {
        eprintln!("building the Go peer from compare/go ...");
        go_peer::prepare(&target)
    } else {
        GoPeer::Missing("not requested (--peers)".into())
    };
    let go_version = match &go {
        GoPeer::Ready { version, .. } => Some(version.clone()),
        GoPeer::Missing(_) | GoPeer::BuildFailed(_) => None,
    };
    let context = machine::context(options.quick, options.runs, go_version);
    println!("{}", report::table::heading(&context));
    if options.peers.contains(&Peer::Go) {
        match &go {
            GoPeer::Ready { .. } => {}
            GoPeer::Missing(reason) => println!("**go: {reason}** — the go column is skipped.\n"),
            GoPeer::BuildFailed(reason) => println!("**go: {reason}** — every go cell fails.\n"),
        }
    }
    if options.quick {
        println!("Quick mode: small sizes, one run. These numbers prove every case runs; they say nothing about speed.\n");
    }
    let mut all_results = Vec::new();
    for case in &options.cases {
        let results = run_case(case, options, &this_binary, &go);
        print!("{}", report::table::render(&results, options.runs));
        println!();
        let _ = std::io::stdout().flush();
        all_results.push(results);
    }
    let out = options.out.clone().unwrap_or_else(|| {
        if options.quick {
            target.join("compare-quick")
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("results")
        }
    });
    match write_reports(&out, &context, &all_results, options.runs) {
        Ok(()) => {
            eprintln!("wrote {}/latest.json and one SVG per case", out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("compare: writing reports to {}: {error}", out.display());
            ExitCode::FAILURE
        }
    }
}

/// `target/` from `target/<profile>/compare`.
fn target_dir(this_binary: &Path) -> PathBuf {
    this_binary
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}

fn run_case(
    case: &'static Case,
    options: &Options,
    this_binary: &Path,
    go: &GoPeer,
) -> CaseResults {
    let sizes = if options.quick {
        case.quick_sizes
    } else {
        case.sizes
    };
    let mut size_results = Vec::new();
    for &size in sizes {
        let mut cells: Vec<Cell> = options
            .peers
            .iter()
            .map(|&peer| Cell {
                peer,
                runs: Vec::new(),
            })
            .collect();
        for run in 1..=options.runs {
            for cell in &mut cells {
                if cell.runs.last().is_some_and(|last| {
                    last.is_final() || matches!(last, RunOutcome::Timeout { .. })
                }) {
                    continue;
                }
                eprint!(
                    "[run {run}/{}] {} {} {} ... ",
                    options.runs,
                    case.name,
                    case.size_unit.describe(size),
                    cell.peer.name()
                );
                let _ = std::io::stderr().flush();
                let steal_before = machine::vcpu_steal_ms();
                let mut outcome = run_cell(case, cell.peer, size, options.quick, this_binary, go);
                if let (RunOutcome::Metrics(metrics), Some(before), Some(after)) =
                    (&mut outcome, steal_before, machine::vcpu_steal_ms())
                {
                    metrics.push((
                        report::STEAL_KEY.to_string(),
                        machine::most_stolen_ms(&before, &after),
                    ));
                }
                eprintln!("{}", progress_line(case, &outcome));
                cell.runs.push(outcome);
            }
        }
        size_results.push(SizeResults { size, cells });
    }
    let load = match case.execution {
        Execution::Server(kind) => Some(load::describe(kind)),
        Execution::InProcess => None,
    };
    CaseResults {
        case,
        sizes: size_results,
        load,
    }
}

fn run_cell(
    case: &Case,
    peer: Peer,
    size: u64,
    quick: bool,
    this_binary: &Path,
    go: &GoPeer,
) -> RunOutcome {
    let (program, args) = match (peer, go) {
        (Peer::Go, GoPeer::Ready { binary, .. }) => (
            binary.clone(),
            vec![case.name.to_string(), size.to_string()],
        ),
        (Peer::Go, GoPeer::Missing(reason)) => return RunOutcome::Skipped(reason.clone()),
        (Peer::Go, GoPeer::BuildFailed(reason)) => return RunOutcome::Failed(reason.clone()),
        _ => (
            this_binary.to_path_buf(),
            vec![
                "child".to_string(),
                peer.name().to_string(),
                case.name.to_string(),
                size.to_string(),
            ],
        ),
    };
    let invocation = Invocation {
        program,
        args,
        one_proc: case.procs == Procs::One,
    };
    let timeout = Duration::from_secs(if quick {
        case.timeout_secs.min(QUICK_TIMEOUT_SECS)
    } else {
        case.timeout_secs
    });
    match case.execution {
        Execution::InProcess => child_process::run_measuring(&invocation, timeout),
        Execution::Server(kind) => {
            child_process::run_serving(&invocation, kind, Duration::from_secs(size), timeout)
        }
    }
}

/// The end of a progress line on stderr: the first metric, or what happened.
fn progress_line(case: &Case, outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::Metrics(metrics) => {
            let first = case.metrics[0].key;
            metrics.iter().find(|(key, _)| key == first).map_or_else(
                || format!("no {first}"),
                |(_, value)| format!("{} {first}", report::summary::format_value(*value)),
            )
        }
        RunOutcome::Verdict(verdict) => verdict.clone(),
        RunOutcome::Failed(reason) => format!("failed: {reason}"),
        RunOutcome::Timeout { after_secs } => format!("timeout after {after_secs} s"),
        RunOutcome::Unsupported(reason) => format!("unsupported: {reason}"),
        RunOutcome::NotBuilt(features) => format!("not built (needs {})", features.join(", ")),
        RunOutcome::Skipped(reason) => format!("skipped: {reason}"),
    }
}

/// latest.json and one SVG per case, each written to a `.tmp` file first and
/// renamed, so a reader never sees half a file.
fn write_reports(
    out: &Path,
    context: &report::RunContext,
    results: &[CaseResults],
    runs: usize,
) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let json = report::json::render(context, results);
    let text = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
    write_atomically(&out.join("latest.json"), &(text + "\n"))?;
    for case_results in results {
        let svg = report::svg::render(case_results, runs);
        write_atomically(&out.join(format!("{}.svg", case_results.case.name)), &svg)?;
    }
    Ok(())
}

fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, contents)?;
    std::fs::rename(&temporary, path)
}
