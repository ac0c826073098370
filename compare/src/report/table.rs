//! Markdown tables, one per (case, size, metric): peer, median, min–max,
//! ratio to Go, runs, and the worst VM steal during a run. The heading names the unit and which way is better;
//! the case's fairness notes follow the table.

use std::fmt::Write as _;

use super::summary::{format_value, summarize, values, Summary};
use super::{CaseResults, RunContext, RunOutcome, STEAL_KEY};
use crate::cases::{thousands, Better};
use crate::peer::Peer;

/// The lines above all tables: when, where, with what.
pub fn heading(context: &RunContext) -> String {
    let features = if context.ours_features.is_empty() {
        "none".to_string()
    } else {
        context.ours_features.join(", ")
    };
    format!(
        "## compare, {}\n\n{} cores, {}, {:.0} GiB, Linux {}; {}; {}; ours features: {features}\n",
        context.date_utc,
        context.cores,
        context.cpu_model,
        context.memory_gib,
        context.kernel,
        context.go_version.as_deref().unwrap_or("no Go"),
        context
            .rustc_version
            .as_deref()
            .unwrap_or("rustc (version unknown)"),
    )
}

/// The markdown for every table of one case.
pub fn render(results: &CaseResults, runs_per_peer: usize) -> String {
    let case = results.case;
    let mut out = String::new();
    for size in &results.sizes {
        for metric in case.metrics {
            let better = match metric.better {
                Better::Lower => "lower is better",
                Better::Higher => "higher is better",
            };
            let _ = writeln!(
                out,
                "### {} — {}: {}\n",
                case.name,
                case.size_unit.describe(size.size),
                metric.key
            );
            let _ = writeln!(
                out,
                "{}. Unit: {}; {better}. Ratio = peer median / go median. \
                 {runs_per_peer} run(s) per peer, alternating. Steal: the most CPU \
                 time (ms) the hypervisor took from one vCPU during a run, the \
                 worst of the cell's runs.\n",
                case.summary, metric.unit
            );
            let go_median = size
                .cells
                .iter()
                .find(|cell| cell.peer == Peer::Go)
                .and_then(|cell| summarize(&cell.runs, metric.key).median());
            out.push_str("| peer | median | min – max | vs go | runs | steal |\n");
            out.push_str("|---|---:|---:|---:|---:|---:|\n");
            for cell in &size.cells {
                let summary = summarize(&cell.runs, metric.key);
                out.push_str(&row(
                    cell.peer,
                    &summary,
                    go_median,
                    worst_steal(&cell.runs),
                ));
            }
            out.push('\n');
        }
    }
    for (peer, note) in case.notes {
        if results
            .sizes
            .iter()
            .flat_map(|size| &size.cells)
            .any(|cell| cell.peer == *peer)
        {
            let _ = writeln!(out, "- {}: {note}", peer.name());
        }
    }
    if let Some(load) = &results.load {
        let _ = writeln!(out, "- load: {load}");
    }
    out
}

/// The largest steal any of `runs` recorded ([`STEAL_KEY`]), if one did.
fn worst_steal(runs: &[RunOutcome]) -> Option<f64> {
    values(runs, STEAL_KEY).reduce(f64::max)
}

fn row(peer: Peer, summary: &Summary, go_median: Option<f64>, steal: Option<f64>) -> String {
    let steal = steal.map_or_else(String::new, |ms| format!("{ms:.0}"));
    match summary {
        Summary::Text(_, text) => {
            format!("| {} | {} | | | | {steal} |\n", peer.name(), escape(text))
        }
        Summary::Numbers {
            median,
            min,
            max,
            runs,
            verdicts,
        } => {
            let ratio = match go_median {
                Some(go) if go > 0.0 => format!("{:.2}×", median / go),
                _ => "–".to_string(),
            };
            let also = match verdicts.first() {
                Some(verdict) => format!(" ({verdict} in {} more)", verdicts.len()),
                None => String::new(),
            };
            format!(
                "| {} | {}{also} | {} – {} | {ratio} | {} | {steal} |\n",
                peer.name(),
                format_value(*median),
                format_value(*min),
                format_value(*max),
                thousands(*runs as u64),
            )
        }
    }
}

/// Keeps a reason from breaking the table: no pipes, no newlines, bounded.
fn escape(text: &str) -> String {
    const LIMIT: usize = 160;
    let flat: String = text
        .chars()
        .map(|c| match c {
            '|' => '/',
            '\n' | '\r' => ' ',
            other => other,
        })
        .collect();
    if flat.chars().count() > LIMIT {
        let cut: String = flat.chars().take(LIMIT).collect();
        format!("{cut}…")
    } else {
        flat
    }
}
