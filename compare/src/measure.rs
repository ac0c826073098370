//! Readings a case takes of its own process: resident memory and elapsed time
//! per unit of work.

use std::time::Duration;

/// This process's resident set size in bytes (`VmRSS` in /proc/self/status).
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|error| panic!("reading /proc/self/status: {error}"));
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("/proc/self/status has no VmRSS line");
    kib * 1024
}

/// Nanoseconds per item of `count` done in `elapsed`.
pub fn ns_per(elapsed: Duration, count: u64) -> f64 {
    elapsed.as_nanos() as f64 / count as f64
}

pub fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e3
}

pub fn micros(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e6
}
