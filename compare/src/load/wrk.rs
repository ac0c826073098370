//! The HTTP load when wrk is installed: `wrk -t2 -c256 -d<secs>s` against
//! the child's loopback address, run as a child of the harness, its
//! `Requests/sec:` line read back. Non-2xx responses fail the run; socket
//! errors are kept as raw detail.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::LoadMetrics;

pub const THREADS: u32 = 2;
pub const CONNECTIONS: u32 = 256;
pub const DESCRIPTION: &str = "wrk -t2 -c256 (keep-alive, one request at a time per connection)";

/// wrk on PATH, if any.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join("wrk"))
        .find(|candidate| candidate.is_file())
}

pub fn drive(
    wrk: &PathBuf,
    address: SocketAddr,
    duration: Duration,
) -> Result<LoadMetrics, String> {
    let seconds = duration.as_secs().max(1);
    let output = Command::new(wrk)
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("5s")
        .arg(format!("http://{address}/"))
        .output()
        .map_err(|error| format!("starting wrk: {error}"))?;
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let requests_per_s = field(&report, "Requests/sec:")
        .ok_or_else(|| format!("no Requests/sec in wrk's report: {report}"))?;
    let non_2xx = field(&report, "Non-2xx or 3xx responses:").unwrap_or(0.0);
    if non_2xx > 0.0 {
        return Err(format!("{non_2xx} non-2xx responses"));
    }
    Ok(vec![
        ("requests_per_s", requests_per_s),
        ("socket_errors", socket_errors(&report)),
    ])
}

/// The number after `label` on the line that starts with it.
fn field(report: &str, label: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

/// The sum over wrk's `Socket errors: connect A, read B, write C, timeout D`.
fn socket_errors(report: &str) -> f64 {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Socket errors:"))
        .map(|rest| {
            rest.split(',')
                .filter_map(|part| part.split_whitespace().nth(1))
                .filter_map(|count| count.parse::<f64>().ok())
                .sum()
        })
        .unwrap_or(0.0)
}
