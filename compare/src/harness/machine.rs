//! Facts about this machine and toolchain for latest.json: core count,
//! kernel, CPU model, memory, vm.max_map_count, the date, rustc's version, and which `ours-*`
//! features this binary was built with; and each vCPU's stolen time, which
//! the harness reads around every run.

use std::num::NonZeroUsize;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::report::RunContext;

pub fn context(quick: bool, runs_per_peer: usize, go_version: Option<String>) -> RunContext {
    RunContext {
        date_utc: now_utc(),
        quick,
        runs_per_peer,
        cores: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
        cpu_model: cpu_model().unwrap_or_else(|| "unknown".into()),
        memory_gib: memory_gib().unwrap_or(0.0),
        max_map_count: read_trimmed("/proc/sys/vm/max_map_count")
            .and_then(|text| text.parse().ok()),
        go_version,
        rustc_version: command_line("rustc", &["--version"]),
        ours_features: ours_features(),
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_string())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

fn memory_gib() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = info
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / (1024.0 * 1024.0))
}

/// The first line a command prints, if it runs.
pub fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().next().map(|line| line.trim().to_string())
}

fn ours_features() -> Vec<&'static str> {
    crate::cases::OURS_FEATURES
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect()
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ`, without a date crate.
fn now_utc() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar: Howard Hinnant's `civil_from_days`, eras of 400 years.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Milliseconds of CPU time the hypervisor has taken from each vCPU so far
/// (the steal column of `/proc/stat`'s `cpuN` lines, in 10 ms units), by
/// vCPU number; None where the file cannot be read.
pub fn vcpu_steal_ms() -> Option<Vec<f64>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let mut steal = Vec::new();
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields
            .next()
            .and_then(|name| name.strip_prefix("cpu"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let Some(ticks) = fields.nth(7).and_then(|t| t.parse::<u64>().ok()) else {
            continue;
        };
        if steal.len() <= cpu {
            steal.resize(cpu + 1, 0.0);
        }
        steal[cpu] = ticks as f64 * 1000.0 / hz as f64;
    }
    (!steal.is_empty()).then_some(steal)
}

/// The most any one vCPU lost to the hypervisor between two
/// [`vcpu_steal_ms`] readings.
pub fn most_stolen_ms(before: &[f64], after: &[f64]) -> f64 {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| (a - b).max(0.0))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    #[test]
    fn the_worst_vcpu_counts() {
        assert_eq!(most_stolen_ms(&[10.0, 20.0], &[30.0, 120.0]), 100.0);
        assert_eq!(most_stolen_ms(&[10.0, 20.0], &[10.0, 20.0]), 0.0);
        // A vCPU that appeared meanwhile has no baseline: not counted.
        assert_eq!(most_stolen_ms(&[10.0], &[15.0, 500.0]), 5.0);
    }

    #[test]
    fn steal_is_readable_here() {
        let steal = vcpu_steal_ms().expect("per-CPU lines in /proc/stat");
        // One entry per online vCPU, at least as many as this process may
        // use (fewer under taskset).
        assert!(steal.len() >= std::thread::available_parallelism().unwrap().get());
    }
}
