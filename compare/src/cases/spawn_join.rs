//! spawn_join: spawn N tasks that each hand back their index, then collect
//! every result; the sum must be N(N-1)/2. Reports ns per task (spawn and
//! join together), timed inside the runtime from the first spawn to the last
//! result. Go counterpart: `compare/go/spawn_join.go` (no join handles in Go:
//! each goroutine stores its index in a slice slot, a WaitGroup waits).

use std::time::Instant;

use super::{
    check_sum, go_runs_elsewhere, threads_fit, Better, Case, Execution, Measured, Metric, Outcome,
    SizeUnit,
};
use crate::measure;
use crate::peer::{self, Peer, Procs};

pub const CASE: Case = Case {
    name: "spawn_join",
    summary: "spawn N tasks that each return their index, join all, check the sum",
    sizes: &[1_000_000],
    quick_sizes: &[10_000],
    size_unit: SizeUnit::Tasks,
    metrics: &[Metric {
        key: "ns_per_task",
        unit: "ns per task (spawn + join)",
        better: Better::Lower,
    }],
    procs: Procs::All,
    execution: Execution::InProcess,
    timeout_secs: 120,
    notes: &[
        (
            Peer::Go,
            "no join handles in Go: results go to a slice, a WaitGroup waits",
        ),
        (
            Peer::May,
            "may maps each coroutine's stack with its own guard page: two memory mappings per live coroutine, so vm.max_map_count (65,530 by default) caps it near 32k live coroutines",
        ),
        (
            Peer::Threads,
            "every thread is alive until joined, so N is capped by kernel limits",
        ),
    ],
    run,
};

fn run(peer: Peer, tasks: u64) -> Outcome {
    match peer {
        #[cfg(feature = "ours-core")]
        Peer::OursPinned | Peer::OursGo => Ok(ours(peer, tasks)),
        #[cfg(not(feature = "ours-core"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => Ok(tokio(tasks)),
        Peer::May => Ok(may(tasks)),
        Peer::Threads => {
            threads_fit(tasks)?;
            Ok(threads(tasks))
        }
    }
}

fn report(started: Instant, tasks: u64, sum: u64) -> Measured {
    let elapsed = started.elapsed();
    check_sum("sum of task indices", sum, tasks * (tasks - 1) / 2);
    Measured::Metrics(vec![("ns_per_task", measure::ns_per(elapsed, tasks))])
}

#[cfg(feature = "ours-core")]
fn ours(peer: Peer, tasks: u64) -> Measured {
    peer::run_ours(peer, Procs::All, move || {
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks).map(|i| goroutines::go(move || i)).collect();
        let sum = handles
            .into_iter()
            .map(|handle| handle.join().expect("a task panicked"))
            .sum();
        report(started, tasks, sum)
    })
}

fn tokio(tasks: u64) -> Measured {
    peer::run_tokio(Procs::All, async move {
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks).map(|i| tokio::spawn(async move { i })).collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.expect("a task panicked");
        }
        report(started, tasks, sum)
    })
}

fn may(tasks: u64) -> Measured {
    peer::run_may(Procs::All, move || {
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks).map(|i| may::go!(move || i)).collect();
        let sum = handles
            .into_iter()
            .map(|handle| handle.join().expect("a coroutine panicked"))
            .sum();
        report(started, tasks, sum)
    })
}

fn threads(tasks: u64) -> Measured {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks).map(|i| std::thread::spawn(move || i)).collect();
    let sum = handles
        .into_iter()
        .map(|handle| handle.join().expect("a thread panicked"))
        .sum();
    report(started, tasks, sum)
}
