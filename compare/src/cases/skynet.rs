//! skynet: the classic tree of tasks. The root spawns 10 children, each
//! spawns 10 more, down to N leaves (N a power of ten); a leaf sends its
//! number to its parent over the parent's channel, every inner node sums its
//! 10 children and sends the sum up. With N = 1,000,000 that is 1,111,111
//! tasks and the root's sum must be 499,999,500,000. Reports total ms.
//! Go counterpart: `compare/go/skynet.go`, the original's shape (one
//! unbuffered channel per inner node, children never joined).

use std::time::Instant;

use super::{
    check_sum, go_runs_elsewhere, threads_fit, Better, Case, Execution, Measured, Metric, Outcome,
    SizeUnit,
};
use crate::measure;
use crate::peer::{self, Peer, Procs};

/// Children per inner node.
const FAN_OUT: u64 = 10;

pub const CASE: Case = Case {
    name: "skynet",
    summary: "N leaf tasks in a 10-ary tree of channels (N = 1M: 1.1M tasks), sums sent up",
    sizes: &[1_000_000],
    quick_sizes: &[10_000],
    size_unit: SizeUnit::Tasks,
    metrics: &[Metric {
        key: "total_ms",
        unit: "ms for the whole tree",
        better: Better::Lower,
    }],
    procs: Procs::All,
    execution: Execution::InProcess,
    timeout_secs: 120,
    notes: &[
        (
            Peer::Tokio,
            "no rendezvous channel in tokio: mpsc with capacity 1 per node",
        ),
        (
            Peer::May,
            "no bounded channel in may: unbounded mpsc per node, so children never wait on a send; each coroutine's stack is its own mapping plus a guard page, so vm.max_map_count caps live coroutines near 32k",
        ),
        (
            Peer::Threads,
            "one OS thread per node: only small trees fit under kernel limits",
        ),
    ],
    run,
};

fn run(peer: Peer, leaves: u64) -> Outcome {
    assert!(
        leaves > 0 && 10u64.pow(leaves.ilog10()) == leaves,
        "skynet needs a power of ten, not {leaves}"
    );
    match peer {
        #[cfg(feature = "ours-chan")]
        Peer::OursPinned | Peer::OursGo => Ok(ours(peer, leaves)),
        #[cfg(not(feature = "ours-chan"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core", "ours-chan"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => Ok(tokio(leaves)),
        Peer::May => Ok(may(leaves)),
        Peer::Threads => {
            threads_fit(tree_tasks(leaves))?;
            Ok(threads(leaves))
        }
    }
}

/// Tasks in a tree with `leaves` leaves: 1 + 10 + 100 + ... + leaves.
fn tree_tasks(leaves: u64) -> u64 {
    (FAN_OUT * leaves - 1) / (FAN_OUT - 1)
}

fn report(started: Instant, leaves: u64, sum: u64) -> Measured {
    let elapsed = started.elapsed();
    check_sum("skynet sum", sum, leaves * (leaves - 1) / 2);
    Measured::Metrics(vec![
        ("total_ms", measure::millis(elapsed)),
        ("tasks", tree_tasks(leaves) as f64),
    ])
}

#[cfg(feature = "ours-chan")]
fn ours(peer: Peer, leaves: u64) -> Measured {
    use goroutines::chan::{self, Sender};

    fn node(parent: Sender<u64>, number: u64, size: u64) {
        if size == 1 {
            parent.send(number).expect("parent hung up");
            return;
        }
        let (to_me, from_children) = chan::bounded(0);
        let child_size = size / FAN_OUT;
        for i in 0..FAN_OUT {
            let to_me = to_me.clone();
            goroutines::go(move || node(to_me, number + i * child_size, child_size));
        }
        drop(to_me);
        let sum = (0..FAN_OUT)
            .map(|_| from_children.recv().expect("a child hung up"))
            .sum();
        parent.send(sum).expect("parent hung up");
    }

    peer::run_ours(peer, Procs::All, move || {
        let started = Instant::now();
        let (to_root, from_root) = chan::bounded(0);
        goroutines::go(move || node(to_root, 0, leaves));
        let sum = from_root.recv().expect("root hung up");
        report(started, leaves, sum)
    })
}

fn tokio(leaves: u64) -> Measured {
    use tokio::sync::mpsc::{self, Sender};

    // Spawning through a plain fn keeps the async fn's type from containing
    // itself; the spawned future is boxed once by tokio, as every task is.
    fn spawn_node(parent: Sender<u64>, number: u64, size: u64) {
        tokio::spawn(node(parent, number, size));
    }

    async fn node(parent: Sender<u64>, number: u64, size: u64) {
        if size == 1 {
            parent.send(number).await.expect("parent hung up");
            return;
        }
        let (to_me, mut from_children) = mpsc::channel(1);
        let child_size = size / FAN_OUT;
        for i in 0..FAN_OUT {
            spawn_node(to_me.clone(), number + i * child_size, child_size);
        }
        drop(to_me);
        let mut sum = 0;
        for _ in 0..FAN_OUT {
            sum += from_children.recv().await.expect("a child hung up");
        }
        parent.send(sum).await.expect("parent hung up");
    }

    peer::run_tokio(Procs::All, async move {
        let started = Instant::now();
        let (to_root, mut from_root) = mpsc::channel(1);
        spawn_node(to_root, 0, leaves);
        let sum = from_root.recv().await.expect("root hung up");
        report(started, leaves, sum)
    })
}

fn may(leaves: u64) -> Measured {
    use may::sync::mpsc::{self, Sender};

    fn node(parent: Sender<u64>, number: u64, size: u64) {
        if size == 1 {
            parent.send(number).expect("parent hung up");
            return;
        }
        let (to_me, from_children) = mpsc::channel();
        let child_size = size / FAN_OUT;
        for i in 0..FAN_OUT {
            let to_me = to_me.clone();
            may::go!(move || node(to_me, number + i * child_size, child_size));
        }
        drop(to_me);
        let sum = (0..FAN_OUT)
            .map(|_| from_children.recv().expect("a child hung up"))
            .sum();
        parent.send(sum).expect("parent hung up");
    }

    peer::run_may(Procs::All, move || {
        let started = Instant::now();
        let (to_root, from_root) = mpsc::channel();
        may::go!(move || node(to_root, 0, leaves));
        let sum = from_root.recv().expect("root hung up");
        report(started, leaves, sum)
    })
}

fn threads(leaves: u64) -> Measured {
    use std::sync::mpsc::{self, SyncSender};

    fn node(parent: SyncSender<u64>, number: u64, size: u64) {
        if size == 1 {
            parent.send(number).expect("parent hung up");
            return;
        }
        let (to_me, from_children) = mpsc::sync_channel(0);
        let child_size = size / FAN_OUT;
        for i in 0..FAN_OUT {
            let to_me = to_me.clone();
            std::thread::spawn(move || node(to_me, number + i * child_size, child_size));
        }
        drop(to_me);
        let sum = (0..FAN_OUT)
            .map(|_| from_children.recv().expect("a child hung up"))
            .sum();
        parent.send(sum).expect("parent hung up");
    }

    let started = Instant::now();
    let (to_root, from_root) = mpsc::sync_channel(0);
    std::thread::spawn(move || node(to_root, 0, leaves));
    let sum = from_root.recv().expect("root hung up");
    report(started, leaves, sum)
}
