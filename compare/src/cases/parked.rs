//! parked: N tasks that each check in and then park on a channel receive.
//!
//! 1. Read VmRSS, start the clock.
//! 2. Spawn N tasks; each marks itself arrived (a WaitGroup or countdown)
//!    and then blocks receiving from the release channel.
//! 3. When all N have arrived, stop the clock (`create_ms`) and read VmRSS
//!    again: (after - before) / N is `rss_bytes_per_task`.
//! 4. Close the release channel (drop its sender), wait for all N to exit
//!    (`release_ms`, raw detail only).
//!
//! A task that has arrived may still be a few instructions short of its
//! receive when the clock stops; that is so for every peer alike.
//! Go counterpart: `compare/go/parked.go` (close(release), two WaitGroups).

use std::sync::Arc;
use std::time::Instant;

use super::{
    go_runs_elsewhere, threads_fit, Better, Case, Execution, Measured, Metric, Outcome, SizeUnit,
};
use crate::measure;
use crate::peer::{self, Peer, Procs};

pub const CASE: Case = Case {
    name: "parked",
    summary: "N tasks each parked on a channel receive: creation time and RSS per task",
    sizes: &[100_000, 1_000_000],
    quick_sizes: &[10_000],
    size_unit: SizeUnit::Tasks,
    metrics: &[
        Metric {
            key: "create_ms",
            unit: "ms until all N are parked",
            better: Better::Lower,
        },
        Metric {
            key: "rss_bytes_per_task",
            unit: "bytes of RSS per parked task",
            better: Better::Lower,
        },
    ],
    procs: Procs::All,
    execution: Execution::InProcess,
    timeout_secs: 180,
    notes: &[
        (
            Peer::Tokio,
            "tokio's mpsc receiver is not Clone: tasks wait on a watch channel's changed(), woken by dropping its sender",
        ),
        (
            Peer::May,
            "may's mpmc channel (unbounded), a clone of may's WaitGroup per task; each coroutine's stack is its own mapping plus a guard page, so vm.max_map_count caps live coroutines near 32k",
        ),
        (
            Peer::Threads,
            "one std mpsc channel per thread, all senders dropped to release; default 2 MiB stacks (virtual)",
        ),
    ],
    run,
};

fn run(peer: Peer, tasks: u64) -> Outcome {
    match peer {
        #[cfg(feature = "ours-chan")]
        Peer::OursPinned | Peer::OursGo => Ok(ours(peer, tasks)),
        #[cfg(not(feature = "ours-chan"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core", "ours-chan"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => Ok(tokio(tasks)),
        Peer::May => Ok(may(tasks)),
        Peer::Threads => {
            threads_fit(tasks)?;
            Ok(threads(tasks))
        }
    }
}

/// The clock and RSS readings of one run, turned into metrics.
struct Readings {
    tasks: u64,
    rss_before: u64,
    started: Instant,
}

impl Readings {
    fn start(tasks: u64) -> Readings {
        let rss_before = measure::resident_bytes();
        Readings {
            tasks,
            rss_before,
            started: Instant::now(),
        }
    }

    /// Call when all tasks have arrived; returns what `finish` needs.
    fn all_parked(&self) -> (f64, f64) {
        let create_ms = measure::millis(self.started.elapsed());
        let rss_after = measure::resident_bytes();
        let per_task = rss_after.saturating_sub(self.rss_before) as f64 / self.tasks as f64;
        (create_ms, per_task)
    }

    fn finish(parked: (f64, f64), released: Instant) -> Measured {
        let (create_ms, rss_bytes_per_task) = parked;
        Measured::Metrics(vec![
            ("create_ms", create_ms),
            ("rss_bytes_per_task", rss_bytes_per_task),
            ("release_ms", measure::millis(released.elapsed())),
        ])
    }
}

#[cfg(feature = "ours-chan")]
fn ours(peer: Peer, tasks: u64) -> Measured {
    use goroutines::chan;
    use goroutines::sync::WaitGroup;
    peer::run_ours(peer, Procs::All, move || {
        let (release_tx, release_rx) = chan::bounded::<()>(0);
        let arrived = WaitGroup::new();
        let exited = WaitGroup::new();
        arrived.add(tasks.try_into().expect("task count fits the WaitGroup"));
        exited.add(tasks.try_into().expect("task count fits the WaitGroup"));
        let readings = Readings::start(tasks);
        for _ in 0..tasks {
            let (release_rx, arrived, exited) =
                (release_rx.clone(), arrived.clone(), exited.clone());
            goroutines::go(move || {
                arrived.done();
                let _closed = release_rx.recv();
                exited.done();
            });
        }
        arrived.wait();
        let parked = readings.all_parked();
        let released = Instant::now();
        drop(release_tx);
        exited.wait();
        Readings::finish(parked, released)
    })
}

fn tokio(tasks: u64) -> Measured {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::sync::{watch, Notify};

    /// Go's WaitGroup in tokio terms: the last `done` wakes the waiter.
    /// `notify_one` stores a permit when nobody waits yet, so a `wait` that
    /// starts after the last `done` still returns.
    struct Countdown {
        left: AtomicU64,
        zero: Notify,
    }

    impl Countdown {
        fn done(&self) {
            // AcqRel: whoever takes the count to zero sees every other task's
            // decrement, and the waiter woken through `zero` sees theirs.
            if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.zero.notify_one();
            }
        }

        async fn wait(&self) {
            self.zero.notified().await;
        }
    }

    let countdown = |tasks| {
        Arc::new(Countdown {
            left: AtomicU64::new(tasks),
            zero: Notify::new(),
        })
    };
    peer::run_tokio(Procs::All, async move {
        let (release_tx, release_rx) = watch::channel(());
        let arrived = countdown(tasks);
        let exited = countdown(tasks);
        let readings = Readings::start(tasks);
        for _ in 0..tasks {
            let (mut release_rx, arrived, exited) =
                (release_rx.clone(), arrived.clone(), exited.clone());
            tokio::spawn(async move {
                arrived.done();
                let _closed = release_rx.changed().await;
                exited.done();
            });
        }
        arrived.wait().await;
        let parked = readings.all_parked();
        let released = Instant::now();
        drop(release_tx);
        exited.wait().await;
        Readings::finish(parked, released)
    })
}

fn may(tasks: u64) -> Measured {
    use may::sync::{mpmc, WaitGroup};
    peer::run_may(Procs::All, move || {
        let (release_tx, release_rx) = mpmc::channel::<()>();
        // may's WaitGroup counts live clones: each task drops its clone.
        let arrived = WaitGroup::new();
        let exited = WaitGroup::new();
        let readings = Readings::start(tasks);
        for _ in 0..tasks {
            let (release_rx, arrived, exited) =
                (release_rx.clone(), arrived.clone(), exited.clone());
            may::go!(move || {
                drop(arrived);
                let _closed = release_rx.recv();
                drop(exited);
            });
        }
        arrived.wait();
        let parked = readings.all_parked();
        let released = Instant::now();
        drop(release_tx);
        exited.wait();
        Readings::finish(parked, released)
    })
}

fn threads(tasks: u64) -> Measured {
    use std::sync::{mpsc, Condvar, Mutex};

    /// Go's WaitGroup for threads: a count under a mutex, a condvar for zero.
    struct Countdown {
        left: Mutex<u64>,
        zero: Condvar,
    }

    impl Countdown {
        fn done(&self) {
            let mut left = self.left.lock().expect("countdown poisoned");
            *left -= 1;
            if *left == 0 {
                self.zero.notify_all();
            }
        }

        fn wait(&self) {
            let left = self.left.lock().expect("countdown poisoned");
            let _zero = self
                .zero
                .wait_while(left, |left| *left > 0)
                .expect("countdown poisoned");
        }
    }

    let countdown = |tasks| {
        Arc::new(Countdown {
            left: Mutex::new(tasks),
            zero: Condvar::new(),
        })
    };
    let arrived = countdown(tasks);
    let exited = countdown(tasks);
    let readings = Readings::start(tasks);
    let mut releases = Vec::with_capacity(tasks as usize);
    for _ in 0..tasks {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        releases.push(release_tx);
        let (arrived, exited) = (arrived.clone(), exited.clone());
        std::thread::spawn(move || {
            arrived.done();
            let _closed = release_rx.recv();
            exited.done();
        });
    }
    arrived.wait();
    let parked = readings.all_parked();
    let released = Instant::now();
    drop(releases);
    exited.wait();
    Readings::finish(parked, released)
}
