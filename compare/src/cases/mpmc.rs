//! mpmc: throughput of one buffered channel (capacity 1024) shared by 4
//! producers and 4 consumers. Producers send N/4 numbers each (together
//! 0..N), consumers receive until the channel is closed and return their
//! sums; the total must be N(N-1)/2. Reports ns per message, from the first
//! spawn until every consumer has returned.
//! Go counterpart: `compare/go/mpmc.go` (close(ch) after a WaitGroup over
//! the producers).

use std::sync::Arc;
use std::time::Instant;

use super::{
    check_sum, go_runs_elsewhere, Better, Case, Execution, Measured, Metric, Outcome, SizeUnit,
    Unavailable,
};
use crate::measure;
use crate::peer::{self, Peer, Procs};

const CAPACITY: usize = 1024;
const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;

pub const CASE: Case = Case {
    name: "mpmc",
    summary: "buffered channel (cap 1024), 4 producers x 4 consumers, N messages in all",
    sizes: &[1_000_000],
    quick_sizes: &[100_000],
    size_unit: SizeUnit::Messages,
    metrics: &[Metric {
        key: "ns_per_message",
        unit: "ns per message",
        better: Better::Lower,
    }],
    procs: Procs::All,
    execution: Execution::InProcess,
    timeout_secs: 120,
    notes: &[
        (
            Peer::Tokio,
            "tokio has no MPMC channel: consumers share its mpsc Receiver behind a tokio Mutex",
        ),
        (
            Peer::Threads,
            "std's sync_channel is single-consumer: consumers share the Receiver behind a std Mutex",
        ),
    ],
    run,
};

fn run(peer: Peer, messages: u64) -> Outcome {
    assert!(
        messages.is_multiple_of(PRODUCERS),
        "mpmc needs a multiple of {PRODUCERS}"
    );
    match peer {
        #[cfg(feature = "ours-chan")]
        Peer::OursPinned | Peer::OursGo => Ok(ours(peer, messages)),
        #[cfg(not(feature = "ours-chan"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core", "ours-chan"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => Ok(tokio(messages)),
        Peer::May => Err(Unavailable::Unsupported(
            "may has no bounded channel, so capacity 1024 cannot be honoured".into(),
        )),
        Peer::Threads => Ok(threads(messages)),
    }
}

/// The numbers producer `index` of `PRODUCERS` sends.
fn share(index: u64, messages: u64) -> std::ops::Range<u64> {
    let each = messages / PRODUCERS;
    index * each..(index + 1) * each
}

fn report(started: Instant, messages: u64, sum: u64) -> Measured {
    let elapsed = started.elapsed();
    check_sum(
        "sum of received messages",
        sum,
        messages * (messages - 1) / 2,
    );
    Measured::Metrics(vec![("ns_per_message", measure::ns_per(elapsed, messages))])
}

#[cfg(feature = "ours-chan")]
fn ours(peer: Peer, messages: u64) -> Measured {
    use goroutines::chan;
    peer::run_ours(peer, Procs::All, move || {
        let started = Instant::now();
        let (tx, rx) = chan::bounded::<u64>(CAPACITY);
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|index| {
                let tx = tx.clone();
                goroutines::go(move || {
                    for value in share(index, messages) {
                        tx.send(value).expect("consumers hung up");
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                goroutines::go(move || {
                    let mut sum = 0;
                    while let Ok(value) = rx.recv() {
                        sum += value;
                    }
                    sum
                })
            })
            .collect();
        drop(rx);
        for producer in producers {
            producer.join().expect("a producer panicked");
        }
        let sum = consumers
            .into_iter()
            .map(|consumer| consumer.join().expect("a consumer panicked"))
            .sum();
        report(started, messages, sum)
    })
}

fn tokio(messages: u64) -> Measured {
    use tokio::sync::{mpsc, Mutex};
    peer::run_tokio(Procs::All, async move {
        let started = Instant::now();
        let (tx, rx) = mpsc::channel::<u64>(CAPACITY);
        let rx = Arc::new(Mutex::new(rx));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|index| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for value in share(index, messages) {
                        tx.send(value).await.expect("consumers hung up");
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let mut sum = 0;
                    loop {
                        // Hold the lock only for one receive, as threads do.
                        let received = rx.lock().await.recv().await;
                        match received {
                            Some(value) => sum += value,
                            None => return sum,
                        }
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await.expect("a producer panicked");
        }
        let mut sum = 0;
        for consumer in consumers {
            sum += consumer.await.expect("a consumer panicked");
        }
        report(started, messages, sum)
    })
}

fn threads(messages: u64) -> Measured {
    use std::sync::{mpsc, Mutex};
    let started = Instant::now();
    let (tx, rx) = mpsc::sync_channel::<u64>(CAPACITY);
    let rx = Arc::new(Mutex::new(rx));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|index| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for value in share(index, messages) {
                    tx.send(value).expect("consumers hung up");
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                let mut sum = 0;
                loop {
                    // Take the lock only for one receive, then let it go.
                    let received = rx.lock().expect("receiver lock poisoned").recv();
                    match received {
                        Ok(value) => sum += value,
                        Err(_closed) => return sum,
                    }
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().expect("a producer panicked");
    }
    let sum = consumers
        .into_iter()
        .map(|consumer| consumer.join().expect("a consumer panicked"))
        .sum();
    report(started, messages, sum)
}
