//! Running one cell as a child process, with a timeout, and reading back
//! its outcome.
//!
//! In-process cases: start the child, wait for it to exit (or kill it at
//! the deadline: `timeout`), then read the last JSON line it printed.
//!
//! Server cases:
//! 1. start the child with a piped stdin;
//! 2. wait for its `{"listening":"ADDR"}` line (or another result line,
//!    such as `not_built`, or its death);
//! 3. drive the load at ADDR from this process;
//! 4. check that the server survived the load, close its stdin (the child
//!    exits on EOF) and reap it, killing it if it lingers.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cases::Load;
use crate::load;
use crate::report::RunOutcome;

/// How long a server child may take to start listening.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server child may take to exit once its stdin is closed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a child's stderr is kept for failure reasons.
const STDERR_KEPT: usize = 16 * 1024;

/// A child command line: this binary's `child ...` or the Go binary's.
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// GOMAXPROCS=1 in the child's environment (else GOMAXPROCS is removed,
    /// so Go and ours default to one P per core as tokio and may do).
    pub one_proc: bool,
}

struct Running {
    child: Child,
    /// stdout, line by line; disconnects when the child closes stdout.
    lines: Receiver<String>,
    stderr: JoinHandle<String>,
}

impl Running {
    fn start(invocation: &Invocation, stdin: Stdio) -> Result<Running, RunOutcome> {
        let mut command = Command::new(&invocation.program);
        command
            .args(&invocation.args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if invocation.one_proc {
            command.env("GOMAXPROCS", "1");
        } else {
            command.env_remove("GOMAXPROCS");
        }
        let mut child = command.spawn().map_err(|error| {
            RunOutcome::Failed(format!(
                "starting {}: {error}",
                invocation.program.display()
            ))
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (line_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            if text.len() > STDERR_KEPT {
                let mut cut = text.len() - STDERR_KEPT;
                while !text.is_char_boundary(cut) {
                    cut += 1;
                }
                text.drain(..cut);
            }
            text
        });
        Ok(Running {
            child,
            lines,
            stderr,
        })
    }

    /// Waits for the child to exit until `deadline`; kills it after.
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
            }
        }
    }

    /// The rest of stdout and all of stderr, once the child has exited.
    fn collect(self) -> (Vec<String>, String) {
        let lines = self.lines.iter().collect();
        let stderr = self.stderr.join().unwrap_or_default();
        (lines, stderr)
    }
}

/// Runs an in-process case's child to completion.
pub fn run_measuring(invocation: &Invocation, timeout: Duration) -> RunOutcome {
    let mut running = match Running::start(invocation, Stdio::null()) {
        Ok(running) => running,
        Err(outcome) => return outcome,
    };
    let status = running.wait_until(Instant::now() + timeout);
    let (lines, stderr) = running.collect();
    match status {
        None => RunOutcome::Timeout {
            after_secs: timeout.as_secs(),
        },
        Some(status) if !status.success() => RunOutcome::Failed(failure_reason(status, &stderr)),
        Some(_) => parse_result(&lines),
    }
}

/// Runs a server case's child and drives `load` at it for `duration`.
pub fn run_serving(
    invocation: &Invocation,
    load: Load,
    duration: Duration,
    timeout: Duration,
) -> RunOutcome {
    let mut running = match Running::start(invocation, Stdio::piped()) {
        Ok(running) => running,
        Err(outcome) => return outcome,
    };
    let address = match running.lines.recv_timeout(LISTEN_TIMEOUT) {
        Ok(line) => match listening_address(&line) {
            Some(address) => address,
            None => {
                // Not a server line: a result such as `not_built`.
                drop(running.child.stdin.take());
                let status = running.wait_until(Instant::now() + timeout);
                let (mut lines, stderr) = running.collect();
                lines.insert(0, line);
                return match status {
                    Some(status) if !status.success() => {
                        RunOutcome::Failed(failure_reason(status, &stderr))
                    }
                    None => RunOutcome::Timeout {
                        after_secs: timeout.as_secs(),
                    },
                    Some(_) => parse_result(&lines),
                };
            }
        },
        Err(RecvTimeoutError::Timeout) => {
            running.wait_until(Instant::now());
            return RunOutcome::Timeout {
                after_secs: LISTEN_TIMEOUT.as_secs(),
            };
        }
        Err(RecvTimeoutError::Disconnected) => {
            let status = running.wait_until(Instant::now() + EXIT_TIMEOUT);
            let (_, stderr) = running.collect();
            return RunOutcome::Failed(match status {
                Some(status) => failure_reason(status, &stderr),
                None => "closed stdout without listening".into(),
            });
        }
    };
    let pid = running.child.id();
    let cpu_before = process_cpu_seconds(pid);
    let load_started = Instant::now();
    let mut loaded = load::drive(load, address, duration);
    let load_seconds = load_started.elapsed().as_secs_f64();
    if let (Ok(metrics), Some(before), Some(after)) =
        (&mut loaded, cpu_before, process_cpu_seconds(pid))
    {
        let ops_key = load::ops_per_s_key(load);
        if let Some(&(_, ops_per_s)) = metrics.iter().find(|(key, _)| *key == ops_key) {
            // The load's own rate times the time it ran: the operations
            // served while the CPU counters advanced.
            let ops = ops_per_s * load_seconds;
            if ops > 0.0 {
                metrics.push((load::SERVER_CPU_KEY, (after - before) * 1e6 / ops));
            }
        }
    }
    if let Ok(Some(status)) = running.child.try_wait() {
        let (_, stderr) = running.collect();
        return RunOutcome::Failed(format!(
            "server exited during the load: {}",
            failure_reason(status, &stderr)
        ));
    }
    drop(running.child.stdin.take());
    running.wait_until(Instant::now() + EXIT_TIMEOUT);
    let _ = running.collect();
    match loaded {
        Ok(metrics) => RunOutcome::Metrics(
            metrics
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect(),
        ),
        Err(reason) => RunOutcome::Failed(reason),
    }
}

/// User + system CPU seconds of process `pid` so far, all its threads,
/// from `/proc/PID/stat` (fields 14 and 15, in clock ticks).
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: fields are counted after its ')'.
    let mut fields = stat[stat.rfind(')')? + 2..].split_whitespace();
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

fn listening_address(line: &str) -> Option<std::net::SocketAddr> {
    let value: Value = serde_json::from_str(line).ok()?;
    let address: std::net::SocketAddr = value.get("listening")?.as_str()?.parse().ok()?;
    // Load goes to loopback only, whatever a child claims.
    address.ip().is_loopback().then_some(address)
}

/// Reads the last JSON line a child printed into an outcome.
fn parse_result(lines: &[String]) -> RunOutcome {
    let Some(line) = lines.iter().rev().find(|line| line.starts_with('{')) else {
        return RunOutcome::Failed(format!("no result line; stdout was: {}", lines.join(" / ")));
    };
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        return RunOutcome::Failed(format!("unreadable result line: {line}"));
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    if let Some(metrics) = value.get("metrics").and_then(Value::as_object) {
        let numbers: Option<Vec<(String, f64)>> = metrics
            .iter()
            .map(|(key, number)| number.as_f64().map(|number| (key.clone(), number)))
            .collect();
        return match numbers {
            Some(numbers) => RunOutcome::Metrics(numbers),
            None => RunOutcome::Failed(format!("non-numeric metric in {line}")),
        };
    }
    if let Some(verdict) = text("verdict") {
        return RunOutcome::Verdict(verdict);
    }
    if let Some(reason) = text("unsupported") {
        return RunOutcome::Unsupported(reason);
    }
    if let Some(features) = value.get("not_built").and_then(Value::as_array) {
        return RunOutcome::NotBuilt(
            features
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        );
    }
    RunOutcome::Failed(format!("unexpected result line: {line}"))
}

/// The most telling line of a dead child's stderr, and how it died.
fn failure_reason(status: ExitStatus, stderr: &str) -> String {
    let how = match (status.code(), status.signal()) {
        (_, Some(signal)) => format!("killed by signal {signal}{}", signal_name(signal)),
        (Some(code), None) => format!("exit status {code}"),
        (None, None) => "exited".into(),
    };
    let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
    // Rust panics print the message on the line after "panicked at";
    // Go prints "panic: ..." or "fatal error: ...".
    let message = lines
        .iter()
        .position(|line| line.contains("panicked at"))
        .and_then(|at| lines.get(at + 1))
        .or_else(|| {
            lines
                .iter()
                .find(|line| line.starts_with("panic: ") || line.starts_with("fatal error: "))
        })
        .or_else(|| {
            lines
                .iter()
                .rev()
                .find(|line| !line.is_empty() && !line.starts_with("note:"))
        });
    match message {
        Some(message) => format!("{message} ({how})"),
        None => how,
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGBUS => " (SIGBUS)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGILL => " (SIGILL)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|line| line.to_string()).collect()
    }

    #[test]
    fn the_last_json_line_is_the_result() {
        let outcome = parse_result(&lines(&[
            "some chatter",
            r#"{"metrics":{"ns_per_task":12.5,"sum":45}}"#,
        ]));
        match outcome {
            RunOutcome::Metrics(metrics) => {
                assert!(metrics.contains(&("ns_per_task".to_string(), 12.5)));
                assert!(metrics.contains(&("sum".to_string(), 45.0)));
            }
            other => panic!("expected metrics, got {other:?}"),
        }
    }

    #[test]
    fn not_built_and_unsupported_lines_are_read_back() {
        match parse_result(&lines(&[r#"{"not_built":["ours-chan"]}"#])) {
            RunOutcome::NotBuilt(features) => assert_eq!(features, ["ours-chan"]),
            other => panic!("expected not built, got {other:?}"),
        }
        match parse_result(&lines(&[r#"{"unsupported":"no bounded channel"}"#])) {
            RunOutcome::Unsupported(reason) => assert_eq!(reason, "no bounded channel"),
            other => panic!("expected unsupported, got {other:?}"),
        }
    }

    #[test]
    fn output_without_a_result_line_is_a_failure() {
        assert!(matches!(
            parse_result(&lines(&["hello"])),
            RunOutcome::Failed(_)
        ));
        assert!(matches!(
            parse_result(&lines(&[r#"{"metrics":{"ns":"fast"}}"#])),
            RunOutcome::Failed(_)
        ));
    }

    #[test]
    fn a_rust_panic_is_reported_by_its_message() {
        let stderr = "thread 'main' panicked at compare/src/cases/skynet.rs:1:1:\n\
                      skynet sum: got 1, expected 2\n\
                      note: run with `RUST_BACKTRACE=1`";
        let reason = failure_reason(ExitStatus::from_raw(101 << 8), stderr);
        assert_eq!(reason, "skynet sum: got 1, expected 2 (exit status 101)");
    }

    #[test]
    fn a_go_panic_and_a_signal_are_reported() {
        let stderr = "panic: skynet sum: got 1, expected 2\n\ngoroutine 1 [running]:\nmain.main()";
        let reason = failure_reason(ExitStatus::from_raw(libc::SIGSEGV), stderr);
        assert_eq!(
            reason,
            "panic: skynet sum: got 1, expected 2 (killed by signal 11 (SIGSEGV))"
        );
    }

    #[test]
    fn only_loopback_addresses_are_accepted_from_a_child() {
        assert!(listening_address(r#"{"listening":"127.0.0.1:4000"}"#).is_some());
        assert!(listening_address(r#"{"listening":"10.0.0.1:4000"}"#).is_none());
        assert!(listening_address(r#"{"not_built":["ours-net"]}"#).is_none());
    }
}
