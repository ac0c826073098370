//! `latest.json`: when and where the run happened, and every run's raw
//! outcome, so anyone can recompute the tables or plot something else.
//!
//! ```text
//! { "date_utc", "mode", "runs_per_peer", "machine": {...}, "go_version",
//!   "ours_features": [...],
//!   "cases": [ { "case", "summary", "size", "size_label", "load",
//!                "metrics": [ { "key", "unit", "better" } ],
//!                "peers": [ { "peer", "runs": [ run, ... ],
//!                             "summary": { key: { "median", "min", "max" } | "text" } } ] } ] }
//! run = {"metrics":{...}} | {"verdict":..} | {"failed":..} | {"timeout_after_secs":..}
//!     | {"unsupported":..} | {"not_built":[..]} | {"skipped":..}
//! ```

use serde_json::{json, Map, Value};

use super::summary::{summarize, Summary};
use super::{CaseResults, RunContext, RunOutcome};
use crate::cases::Better;

pub fn render(context: &RunContext, cases: &[CaseResults]) -> Value {
    json!({
        "date_utc": context.date_utc,
        "mode": if context.quick { "quick" } else { "full" },
        "runs_per_peer": context.runs_per_peer,
        "machine": {
            "cores": context.cores,
            "kernel": context.kernel,
            "cpu_model": context.cpu_model,
            "memory_gib": (context.memory_gib * 10.0).round() / 10.0,
            "vm_max_map_count": context.max_map_count,
        },
        "go_version": context.go_version,
        "rustc_version": context.rustc_version,
        "ours_features": context.ours_features,
        "cases": cases.iter().flat_map(case_entries).collect::<Vec<_>>(),
    })
}

fn case_entries(results: &CaseResults) -> Vec<Value> {
    let case = results.case;
    let metrics: Vec<Value> = case
        .metrics
        .iter()
        .map(|metric| {
            json!({
                "key": metric.key,
                "unit": metric.unit,
                "better": match metric.better { Better::Lower => "lower", Better::Higher => "higher" },
            })
        })
        .collect();
    results
        .sizes
        .iter()
        .map(|size| {
            let peers: Vec<Value> = size
                .cells
                .iter()
                .map(|cell| {
                    let summary: Map<String, Value> = case
                        .metrics
                        .iter()
                        .map(|metric| {
                            let shown = match summarize(&cell.runs, metric.key) {
                                Summary::Numbers {
                                    median, min, max, ..
                                } => {
                                    json!({ "median": median, "min": min, "max": max })
                                }
                                Summary::Text(_, text) => json!(text),
                            };
                            (metric.key.to_string(), shown)
                        })
                        .collect();
                    json!({
                        "peer": cell.peer.name(),
                        "runs": cell.runs.iter().map(run_entry).collect::<Vec<_>>(),
                        "summary": summary,
                    })
                })
                .collect();
            json!({
                "case": case.name,
                "summary": case.summary,
                "size": size.size,
                "size_label": case.size_unit.describe(size.size),
                "load": results.load,
                "metrics": metrics,
                "peers": peers,
            })
        })
        .collect()
}

fn run_entry(run: &RunOutcome) -> Value {
    match run {
        RunOutcome::Metrics(metrics) => {
            let metrics: Map<String, Value> = metrics
                .iter()
                .map(|(key, value)| (key.clone(), json!(value)))
                .collect();
            json!({ "metrics": metrics })
        }
        RunOutcome::Verdict(verdict) => json!({ "verdict": verdict }),
        RunOutcome::Failed(reason) => json!({ "failed": reason }),
        RunOutcome::Timeout { after_secs } => json!({ "timeout_after_secs": after_secs }),
        RunOutcome::Unsupported(reason) => json!({ "unsupported": reason }),
        RunOutcome::NotBuilt(features) => json!({ "not_built": features }),
        RunOutcome::Skipped(reason) => json!({ "skipped": reason }),
    }
}
