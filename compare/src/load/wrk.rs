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

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
Running 1s test @ http://127.0.0.1:40000/
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.40ms    1.10ms  20.00ms   80.00%
    Req/Sec    50.00k     2.00k   55.00k    70.00%
  99500 requests in 1.00s, 8.00MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 0
Requests/sec:  99480.12
Transfer/sec:      8.00MB
";

    #[test]
    fn requests_per_second_and_errors_are_read_from_the_report() {
        assert_eq!(field(REPORT, "Requests/sec:"), Some(99480.12));
        assert_eq!(field(REPORT, "Non-2xx or 3xx responses:"), Some(0.0));
        assert_eq!(socket_errors(REPORT), 6.0);
    }
}
