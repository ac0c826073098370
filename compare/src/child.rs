//! The child side: run one (peer, case, size) cell in this fresh process and
//! print its result as one JSON line on stdout, the last line it prints.
//!
//! ```text
//! {"metrics":{"ns_per_task":123.4,"sum":499999500000}}
//! {"verdict":"starved"}
//! {"unsupported":"may has no bounded channel"}
//! {"not_built":["ours-chan"]}
//! ```
//!
//! A panic (a failed checksum, a runtime error) is not caught: the process
//! dies with a non-zero status and the harness shows `failed: <message>`.

use std::process::ExitCode;

use serde_json::{json, Map, Value};

use crate::cases::{Case, Measured, Unavailable};
use crate::peer::Peer;

pub fn run(peer: Peer, case: &Case, size: u64) -> ExitCode {
    let line = match (case.run)(peer, size) {
        Ok(Measured::Metrics(metrics)) => {
            let metrics: Map<String, Value> = metrics
                .into_iter()
                .map(|(key, value)| (key.to_string(), json!(value)))
                .collect();
            json!({ "metrics": metrics })
        }
        Ok(Measured::Verdict(verdict)) => json!({ "verdict": verdict }),
        Err(Unavailable::Unsupported(reason)) => json!({ "unsupported": reason }),
        Err(Unavailable::NotBuilt(features)) => json!({ "not_built": features }),
    };
    println!("{line}");
    ExitCode::SUCCESS
}
