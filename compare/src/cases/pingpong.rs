//! pingpong: two tasks bounce a counter over two unbuffered (rendezvous)
//! channels, N round trips; the pong side adds one each time, so the last
//! value back must be N. Reports ns per round trip. This is the case Go's
//! `runnext` slot exists for: the readied partner runs next on the same P.
//! Go counterpart: `compare/go/pingpong.go`.

use std::time::Instant;

use super::{
    check_sum, go_runs_elsewhere, Better, Case, Execution, Measured, Metric, Outcome, SizeUnit,
};
use crate::measure;
use crate::peer::{self, Peer, Procs};

pub const CASE: Case = Case {
    name: "pingpong",
    summary: "two tasks bounce a value over two rendezvous channels, N round trips",
    sizes: &[100_000],
    quick_sizes: &[10_000],
    size_unit: SizeUnit::RoundTrips,
    metrics: &[Metric {
        key: "ns_per_round_trip",
        unit: "ns per round trip",
        better: Better::Lower,
    }],
    procs: Procs::All,
    execution: Execution::InProcess,
    timeout_secs: 60,
    notes: &[
        (
            Peer::Tokio,
            "no rendezvous channel in tokio: mpsc with capacity 1 (one value is ever in flight, so it behaves alike)",
        ),
        (
            Peer::May,
            "no bounded channel in may: unbounded mpsc (one value is ever in flight)",
        ),
        (Peer::Threads, "std sync_channel(0), a rendezvous channel"),
    ],
    run,
};

fn run(peer: Peer, round_trips: u64) -> Outcome {
    match peer {
        #[cfg(feature = "ours-chan")]
        Peer::OursPinned | Peer::OursGo => Ok(ours(peer, round_trips)),
        #[cfg(not(feature = "ours-chan"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core", "ours-chan"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => Ok(tokio(round_trips)),
        Peer::May => Ok(may(round_trips)),
        Peer::Threads => Ok(threads(round_trips)),
    }
}

fn report(started: Instant, round_trips: u64, last: u64) -> Measured {
    let elapsed = started.elapsed();
    check_sum("last value back", last, round_trips);
    Measured::Metrics(vec![(
        "ns_per_round_trip",
        measure::ns_per(elapsed, round_trips),
    )])
}

#[cfg(feature = "ours-chan")]
fn ours(peer: Peer, round_trips: u64) -> Measured {
    use goroutines::chan;
    peer::run_ours(peer, Procs::All, move || {
        let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
        let ponger = goroutines::go(move || {
            while let Ok(value) = ping_rx.recv() {
                pong_tx.send(value + 1).expect("pinger hung up");
            }
        });
        let started = Instant::now();
        let mut value = 0;
        for _ in 0..round_trips {
            ping_tx.send(value).expect("ponger hung up");
            value = pong_rx.recv().expect("ponger hung up");
        }
        let measured = report(started, round_trips, value);
        drop(ping_tx);
        ponger.join().expect("ponger panicked");
        measured
    })
}

fn tokio(round_trips: u64) -> Measured {
    use tokio::sync::mpsc;
    peer::run_tokio(Procs::All, async move {
        let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        let ponger = tokio::spawn(async move {
            while let Some(value) = ping_rx.recv().await {
                pong_tx.send(value + 1).await.expect("pinger hung up");
            }
        });
        let started = Instant::now();
        let mut value = 0;
        for _ in 0..round_trips {
            ping_tx.send(value).await.expect("ponger hung up");
            value = pong_rx.recv().await.expect("ponger hung up");
        }
        let measured = report(started, round_trips, value);
        drop(ping_tx);
        ponger.await.expect("ponger panicked");
        measured
    })
}

fn may(round_trips: u64) -> Measured {
    use may::sync::mpsc;
    peer::run_may(Procs::All, move || {
        let (ping_tx, ping_rx) = mpsc::channel::<u64>();
        let (pong_tx, pong_rx) = mpsc::channel::<u64>();
        let ponger = may::go!(move || {
            while let Ok(value) = ping_rx.recv() {
                pong_tx.send(value + 1).expect("pinger hung up");
            }
        });
        let started = Instant::now();
        let mut value = 0;
        for _ in 0..round_trips {
            ping_tx.send(value).expect("ponger hung up");
            value = pong_rx.recv().expect("ponger hung up");
        }
        let measured = report(started, round_trips, value);
        drop(ping_tx);
        ponger.join().expect("ponger panicked");
        measured
    })
}

fn threads(round_trips: u64) -> Measured {
    use std::sync::mpsc;
    let (ping_tx, ping_rx) = mpsc::sync_channel::<u64>(0);
    let (pong_tx, pong_rx) = mpsc::sync_channel::<u64>(0);
    let ponger = std::thread::spawn(move || {
        while let Ok(value) = ping_rx.recv() {
            pong_tx.send(value + 1).expect("pinger hung up");
        }
    });
    let started = Instant::now();
    let mut value = 0;
    for _ in 0..round_trips {
        ping_tx.send(value).expect("ponger hung up");
        value = pong_rx.recv().expect("ponger hung up");
    }
    let measured = report(started, round_trips, value);
    drop(ping_tx);
    ponger.join().expect("ponger panicked");
    measured
}
