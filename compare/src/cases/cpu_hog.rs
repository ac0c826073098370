//! cpu_hog: does a task that never yields starve the others?
//! GOMAXPROCS=1 (one worker per runtime).
//!
//! 1. The sleeper task starts first and naps 1 ms in a loop.
//! 2. 5 ms later the hog task starts and spins for the case's size (3 s)
//!    without a single yield, sleep or runtime call.
//! 3. For every nap that overlaps the hog's spin, the sleeper records how
//!    late it woke; it stops at the first wake-up that finds the hog done.
//!
//! Reports the worst lateness in ms, or `starved` if the sleeper never woke
//! while the hog was spinning. Only preemption, or moving the sleeper off
//! the hog's thread, lets it wake. Go counterpart: `compare/go/cpu_hog.go`
//! (Go 1.14+ preempts with signals). This runtime never interrupts a
//! goroutine: pinned mode reports `starved`; Go mode's sysmon gives the
//! hogged P, with the sleeper's overdue timer, to another M while the hog
//! spins on without a P (src/scheduler/hold.rs).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{go_runs_elsewhere, Better, Case, Execution, Measured, Metric, Outcome, SizeUnit};
use crate::measure;
use crate::peer::{self, Peer, Procs};

/// The sleeper's nap.
const NAP: Duration = Duration::from_millis(1);
/// How long after the sleeper the hog starts, so the sleeper is parked.
const SETTLE: Duration = Duration::from_millis(5);

const HOG_NOT_STARTED: u8 = 0;
const HOG_SPINNING: u8 = 1;
const HOG_DONE: u8 = 2;

pub const CASE: Case = Case {
    name: "cpu_hog",
    summary: "GOMAXPROCS=1: one task spins (3 s) without yielding, another naps 1 ms in a loop",
    sizes: &[3_000],
    quick_sizes: &[500],
    size_unit: SizeUnit::Millis,
    metrics: &[Metric {
        key: "max_lateness_ms",
        unit: "ms, worst lateness of a 1 ms nap (or starved)",
        better: Better::Lower,
    }],
    procs: Procs::One,
    execution: Execution::InProcess,
    timeout_secs: 60,
    notes: &[
        (
            Peer::Tokio,
            "tokio does not preempt tasks; its timer is driven by the (busy) worker",
        ),
        (
            Peer::May,
            "may does not preempt, but its timer thread resumes a coroutine whose sleep expired on the timer thread itself, so the sleeper runs beside the hogged worker",
        ),
        (
            Peer::Threads,
            "hog and sleeper are OS threads pinned to one CPU: the kernel preempts",
        ),
    ],
    run,
};

fn run(peer: Peer, spin_ms: u64) -> Outcome {
    let spin = Duration::from_millis(spin_ms);
    match peer {
        #[cfg(feature = "ours-time")]
        Peer::OursPinned | Peer::OursGo => Ok(ours(peer, spin)),
        #[cfg(not(feature = "ours-time"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core", "ours-time"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => Ok(tokio(spin)),
        Peer::May => Ok(may(spin)),
        Peer::Threads => Ok(threads(spin)),
    }
}

/// The hog's progress, published to the sleeper. Release on store, Acquire
/// on load: the sleeper's reading is only ever a phase marker, but ordering
/// keeps "done" from being seen before "spinning".
type HogPhase = Arc<AtomicU8>;

fn hog(phase: &AtomicU8, spin: Duration) {
    phase.store(HOG_SPINNING, Ordering::Release);
    let started = Instant::now();
    while started.elapsed() < spin {
        std::hint::spin_loop();
    }
    phase.store(HOG_DONE, Ordering::Release);
}

/// What the sleeper saw of the hog.
#[derive(Default)]
struct Lateness {
    worst: Duration,
    wakes_during_hog: u64,
}

impl Lateness {
    /// Records one nap that began at `asleep`; false once the hog is done.
    /// The nap that sees the hog done began before that, so it overlapped
    /// the spin and its lateness counts too.
    fn nap_ended(&mut self, phase: &AtomicU8, asleep: Instant) -> bool {
        let late = asleep.elapsed().saturating_sub(NAP);
        match phase.load(Ordering::Acquire) {
            HOG_NOT_STARTED => true,
            HOG_SPINNING => {
                self.worst = self.worst.max(late);
                self.wakes_during_hog += 1;
                true
            }
            _done => {
                self.worst = self.worst.max(late);
                false
            }
        }
    }

    fn report(self) -> Measured {
        if self.wakes_during_hog == 0 {
            return Measured::Verdict("starved");
        }
        Measured::Metrics(vec![
            ("max_lateness_ms", measure::millis(self.worst)),
            ("wakes_during_hog", self.wakes_during_hog as f64),
        ])
    }
}

/// The sleeper of the peers whose sleep blocks the caller.
fn nap_through_hog(phase: &AtomicU8, sleep: impl Fn(Duration)) -> Lateness {
    let mut lateness = Lateness::default();
    loop {
        let asleep = Instant::now();
        sleep(NAP);
        if !lateness.nap_ended(phase, asleep) {
            return lateness;
        }
    }
}

#[cfg(feature = "ours-time")]
fn ours(peer: Peer, spin: Duration) -> Measured {
    peer::run_ours(peer, Procs::One, move || {
        let phase = HogPhase::default();
        let sleeper = {
            let phase = phase.clone();
            goroutines::go(move || nap_through_hog(&phase, goroutines::time::sleep))
        };
        goroutines::time::sleep(SETTLE);
        let hogger = goroutines::go(move || hog(&phase, spin));
        hogger.join().expect("hog panicked");
        sleeper.join().expect("sleeper panicked").report()
    })
}

fn tokio(spin: Duration) -> Measured {
    peer::run_tokio(Procs::One, async move {
        let phase = HogPhase::default();
        let sleeper = {
            let phase = phase.clone();
            tokio::spawn(async move {
                let mut lateness = Lateness::default();
                loop {
                    let asleep = Instant::now();
                    tokio::time::sleep(NAP).await;
                    if !lateness.nap_ended(&phase, asleep) {
                        return lateness;
                    }
                }
            })
        };
        tokio::time::sleep(SETTLE).await;
        let hogger = tokio::spawn(async move { hog(&phase, spin) });
        hogger.await.expect("hog panicked");
        sleeper.await.expect("sleeper panicked").report()
    })
}

fn may(spin: Duration) -> Measured {
    peer::run_may(Procs::One, move || {
        let phase = HogPhase::default();
        let sleeper = {
            let phase = phase.clone();
            may::go!(move || nap_through_hog(&phase, may::coroutine::sleep))
        };
        may::coroutine::sleep(SETTLE);
        let hogger = may::go!(move || hog(&phase, spin));
        hogger.join().expect("hog panicked");
        sleeper.join().expect("sleeper panicked").report()
    })
}

fn threads(spin: Duration) -> Measured {
    peer::pin_threads_to_one_cpu();
    let phase = HogPhase::default();
    let sleeper = {
        let phase = phase.clone();
        std::thread::spawn(move || nap_through_hog(&phase, std::thread::sleep))
    };
    std::thread::sleep(SETTLE);
    let hogger = std::thread::spawn(move || hog(&phase, spin));
    hogger.join().expect("hog panicked");
    sleeper.join().expect("sleeper panicked").report()
}
