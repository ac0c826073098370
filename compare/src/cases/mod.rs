//! The case registry, and the vocabulary every case file shares.
//!
//! One file per case. Each holds a [`Case`] describing it (sizes, metrics,
//! fairness notes) and one function per Rust peer, side by side, doing the
//! same work at the same size; `compare/go/<case>.go` is the Go counterpart.
//! A cell that cannot run says why instead of giving a number:
//!
//! * [`Unavailable::NotBuilt`]: an `ours` counterpart whose `ours-*` cargo
//!   feature is off (the API it needs has not landed yet);
//! * [`Unavailable::Unsupported`]: the peer has no honest way to do the work
//!   (may has no bounded channel; 1M OS threads exceed the kernel's limits).
//!
//! In-process cases measure themselves and return [`Measured`]. Server cases
//! ([`Execution::Server`]) announce a listening address and serve until
//! their stdin closes; the harness drives load at them and measures.

pub mod cpu_hog;
pub mod http_hello;
pub mod mpmc;
pub mod parked;
pub mod pingpong;
pub mod serve;
pub mod skynet;
pub mod spawn_join;
pub mod syscall_ticker;
pub mod tcp_echo;

use crate::peer::{self, Peer, Procs};

/// Every case, in the order `all` runs and reports them.
pub const ALL: [&Case; 9] = [
    &spawn_join::CASE,
    &pingpong::CASE,
    &skynet::CASE,
    &parked::CASE,
    &mpmc::CASE,
    &syscall_ticker::CASE,
    &cpu_hog::CASE,
    &tcp_echo::CASE,
    &http_hello::CASE,
];

pub fn find(name: &str) -> Option<&'static Case> {
    ALL.into_iter().find(|case| case.name == name)
}

pub struct Case {
    pub name: &'static str,
    /// One line: the work, as a reader checks it for fairness.
    pub summary: &'static str,
    /// Sizes of a real run; each size gets its own table.
    pub sizes: &'static [u64],
    /// Sizes of `--quick`: big enough to exercise the code, no more.
    pub quick_sizes: &'static [u64],
    /// What the size counts.
    pub size_unit: SizeUnit,
    pub metrics: &'static [Metric],
    /// Worker threads per runtime; `One` also sets GOMAXPROCS=1 for the child.
    pub procs: Procs,
    pub execution: Execution,
    /// A child still running after this long is killed and shown as `timeout`
    /// (server cases: on top of the load's own duration).
    pub timeout_secs: u64,
    /// Where a peer's counterpart differs from the others, and why.
    pub notes: &'static [(Peer, &'static str)],
    /// The child side: runs `peer`'s counterpart at `size` in this process.
    pub run: fn(Peer, u64) -> Outcome,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Better {
    Lower,
    Higher,
}

pub struct Metric {
    /// The key in the child's JSON line and in latest.json.
    pub key: &'static str,
    pub unit: &'static str,
    pub better: Better,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Execution {
    InProcess,
    Server(Load),
}

/// Which load generator a server case is driven by.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Load {
    /// Built-in client: fixed-size echo round trips on N connections.
    Echo,
    /// wrk when installed, else the built-in keep-alive HTTP client.
    Http,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SizeUnit {
    Tasks,
    RoundTrips,
    Messages,
    Millis,
    Seconds,
}

impl SizeUnit {
    pub fn describe(self, size: u64) -> String {
        let count = thousands(size);
        match self {
            SizeUnit::Tasks => format!("{count} tasks"),
            SizeUnit::RoundTrips => format!("{count} round trips"),
            SizeUnit::Messages => format!("{count} messages"),
            SizeUnit::Millis => format!("{count} ms"),
            SizeUnit::Seconds => format!("{count} s"),
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// What a cell reports from one run.
pub type Outcome = Result<Measured, Unavailable>;

#[derive(Debug)]
pub enum Measured {
    /// `(metric key, value)`; keys beyond the case's metrics are kept in
    /// latest.json as raw detail (checksums, counts).
    Metrics(Vec<(&'static str, f64)>),
    /// A result that is not a number, such as `starved`.
    Verdict(&'static str),
}

#[derive(Debug)]
pub enum Unavailable {
    Unsupported(String),
    /// The `ours-*` features this counterpart needs that are off.
    #[cfg_attr(
        all(
            feature = "ours-chan",
            feature = "ours-time",
            feature = "ours-syscall",
            feature = "ours-net"
        ),
        allow(
            dead_code,
            reason = "with every ours-* feature on, every counterpart is built"
        )
    )]
    NotBuilt(Vec<&'static str>),
}

/// Every `ours-*` feature and whether this binary was built with it.
pub const OURS_FEATURES: [(&str, bool); 5] = [
    ("ours-core", cfg!(feature = "ours-core")),
    ("ours-chan", cfg!(feature = "ours-chan")),
    ("ours-time", cfg!(feature = "ours-time")),
    ("ours-syscall", cfg!(feature = "ours-syscall")),
    ("ours-net", cfg!(feature = "ours-net")),
];

/// The outcome of an `ours` counterpart whose features are not all on.
#[cfg_attr(
    all(
        feature = "ours-chan",
        feature = "ours-time",
        feature = "ours-syscall",
        feature = "ours-net"
    ),
    allow(
        dead_code,
        reason = "with every ours-* feature on, every counterpart is built"
    )
)]
pub fn ours_not_built(needs: &[&'static str]) -> Outcome {
    let missing = needs
        .iter()
        .copied()
        .filter(|feature| !OURS_FEATURES.contains(&(feature, true)))
        .collect();
    Err(Unavailable::NotBuilt(missing))
}

/// The `go` arm of a Rust dispatcher: Go cells run the Go binary instead.
pub fn go_runs_elsewhere() -> Outcome {
    Err(Unavailable::Unsupported(
        "the go peer runs the binary built from compare/go, not this one".into(),
    ))
}

/// Refuses a `threads` counterpart that would need more live OS threads
/// than this machine allows, instead of letting it die half-way.
pub fn threads_fit(live: u64) -> Result<(), Unavailable> {
    let capacity = peer::live_thread_capacity();
    if live <= capacity {
        return Ok(());
    }
    Err(Unavailable::Unsupported(format!(
        "{} live OS threads exceed this machine's limit of about {} \
         (kernel.pid_max, kernel.threads-max, vm.max_map_count / 2)",
        thousands(live),
        thousands(capacity)
    )))
}

/// Panics unless a case's checksum came out right: a wrong answer is a
/// failed run, never a fast one.
pub fn check_sum(what: &str, got: u64, expected: u64) {
    assert_eq!(got, expected, "{what}: got {got}, expected {expected}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped_by_commas() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_111_111), "1,111,111");
    }

    #[test]
    fn case_names_are_unique_and_found() {
        let mut names: Vec<&str> = ALL.iter().map(|case| case.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "two cases share a name");
        for case in ALL {
            assert_eq!(
                find(case.name).map(|found| found.summary),
                Some(case.summary)
            );
        }
    }

    /// Every in-process case gives its numbers at a tiny size for the peers
    /// that need no other process or feature; a wrong checksum panics.
    #[test]
    fn in_process_cases_measure_tokio_and_threads_at_tiny_sizes() {
        let tiny: [(&Case, u64); 7] = [
            (&spawn_join::CASE, 100),
            (&pingpong::CASE, 100),
            (&skynet::CASE, 100),
            (&parked::CASE, 100),
            (&mpmc::CASE, 1_000),
            (&syscall_ticker::CASE, 20),
            (&cpu_hog::CASE, 50),
        ];
        for (case, size) in tiny {
            for peer in [Peer::Tokio, Peer::Threads] {
                match (case.run)(peer, size) {
                    Ok(Measured::Metrics(metrics)) => {
                        let key = case.metrics[0].key;
                        assert!(
                            metrics
                                .iter()
                                .any(|(name, value)| *name == key && *value >= 0.0),
                            "{} {}: no {key} in {metrics:?}",
                            case.name,
                            peer.name()
                        );
                    }
                    Ok(Measured::Verdict(_)) => {}
                    Err(unavailable) => {
                        panic!("{} {}: {unavailable:?}", case.name, peer.name())
                    }
                }
            }
        }
    }
}
