//! Go mode: sysmon takes the P from an M whose goroutine keeps running
//! while work waits for that P (a CPU hog), and the hog's M gives itself up
//! at the goroutine's next runtime call.

mod common;

use common::go_mode;
use goroutines::chan;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spins (no runtime call of any kind) until `flag` is set or `limit`
/// passes; true if the flag was set.
fn spin_until(flag: &AtomicBool, limit: Duration) -> bool {
    let start = Instant::now();
    while !flag.load(Ordering::Acquire) {
        if start.elapsed() > limit {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// The test: GOMAXPROCS=1, a goroutine spinning without yielding,
/// a sleeper on the same (only) P still wakes while it spins.
#[test]
fn in_go_mode_a_goroutine_spinning_without_yielding_does_not_stop_a_sleeper() {
    let rt = go_mode(1);
    let before = rt.stats().retakes;
    let woke = Arc::new(AtomicBool::new(false));
    let (saw, naps) = rt.run({
        let woke = woke.clone();
        move || {
            let sleeper = goroutines::go({
                let woke = woke.clone();
                move || {
                    let mut naps = 0;
                    for _ in 0..5 {
                        goroutines::time::sleep(Duration::from_millis(1));
                        naps += 1;
                    }
                    woke.store(true, Ordering::Release);
                    naps
                }
            });
            let hog = goroutines::go(move || spin_until(&woke, Duration::from_secs(20)));
            let saw = hog.join().unwrap();
            (saw, sleeper.join().unwrap())
        }
    });
    assert!(saw, "the sleeper never woke while the hog spun");
    assert_eq!(naps, 5);
    assert!(rt.stats().retakes > before, "the hog's P was never taken");
    assert_eq!(
        rt.stats().running_without_p,
        0,
        "the hog gave its M up when it exited"
    );
}

/// Goroutines waiting in the run queue behind a hog get the P once the hog
/// has ignored its time slice (Go's 10 ms), without any timer involved.
#[test]
fn in_go_mode_runnable_goroutines_behind_a_hog_get_its_p() {
    let rt = go_mode(1);
    let ran = Arc::new(AtomicBool::new(false));
    let saw = rt.run({
        let ran = ran.clone();
        move || {
            let hog = goroutines::go({
                let ran = ran.clone();
                move || spin_until(&ran, Duration::from_secs(20))
            });
            // Let the hog start, then queue work behind it from a plain
            // thread (the main goroutine is parked in join meanwhile).
            let queued = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                goroutines::go(move || ran.store(true, Ordering::Release))
            });
            let saw = hog.join().unwrap();
            queued.join().unwrap().join().unwrap();
            saw
        }
    });
    assert!(saw, "the queued goroutine never ran while the hog spun");
    assert!(ran.load(Ordering::Acquire));
}

/// After losing its P, the hog's goroutine keeps working through every kind
/// of runtime call (spawn, channel hand-offs, timers, join, yield, an
/// inline syscall), on whichever M gets it a P, and every result arrives.
#[test]
fn a_goroutine_whose_p_was_taken_keeps_working_through_runtime_calls() {
    let rt = go_mode(1);
    let woke = Arc::new(AtomicBool::new(false));
    let total = rt.run({
        let woke = woke.clone();
        move || {
            let sleeper = goroutines::go({
                let woke = woke.clone();
                move || {
                    goroutines::time::sleep(Duration::from_millis(1));
                    woke.store(true, Ordering::Release);
                }
            });
            let hog = goroutines::go(move || {
                assert!(spin_until(&woke, Duration::from_secs(20)), "never retaken");
                // The first runtime call finds the P gone.
                let (tx, rx) = chan::bounded::<u64>(0);
                let workers: Vec<_> = (0..50u64)
                    .map(|i| {
                        let tx = tx.clone();
                        goroutines::go(move || tx.send(i * i).unwrap())
                    })
                    .collect();
                drop(tx);
                let mut sum: u64 = rx.iter().sum();
                for w in workers {
                    w.join().unwrap();
                }
                goroutines::yield_now();
                goroutines::time::sleep(Duration::from_millis(1));
                sum += goroutines::syscall(|| 7);
                sum
            });
            sleeper.join().unwrap();
            hog.join().unwrap()
        }
    });
    assert_eq!(total, (0..50u64).map(|i| i * i).sum::<u64>() + 7);
    assert_eq!(rt.stats().running_without_p, 0);
}

/// Many goroutines alternating between spinning past the grace period with
/// a timer pending and making runtime calls of every kind, on two Ps, while
/// sysmon retakes Ps under them: nothing is lost or run twice, and the run
/// ends with every M holding a P again.
#[test]
fn hogs_losing_their_ps_while_calling_into_the_runtime_lose_nothing() {
    let rt = go_mode(2);
    let before = rt.stats().retakes;
    let done = Arc::new(AtomicU64::new(0));
    let sum = rt.run({
        let done = done.clone();
        move || {
            let (tx, rx) = chan::bounded::<u64>(4);
            let hogs: Vec<_> = (0..6u64)
                .map(|h| {
                    let tx = tx.clone();
                    let done = done.clone();
                    goroutines::go(move || {
                        for round in 0..12u64 {
                            // A timer on this P that the spin then sits on.
                            let tick = chan::after(Duration::from_micros(200));
                            let start = Instant::now();
                            while start.elapsed() < Duration::from_millis(2) {
                                std::hint::spin_loop();
                            }
                            tick.recv().unwrap();
                            let child = goroutines::go(move || h * 1000 + round);
                            tx.send(child.join().unwrap()).unwrap();
                            if round % 3 == 0 {
                                goroutines::yield_now();
                            }
                            if round % 4 == 1 {
                                assert_eq!(goroutines::syscall(move || round), round);
                            }
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            drop(tx);
            let sum: u64 = rx.iter().sum();
            for h in hogs {
                h.join().unwrap();
            }
            sum
        }
    });
    let want: u64 = (0..6u64)
        .flat_map(|h| (0..12u64).map(move |r| h * 1000 + r))
        .sum();
    assert_eq!(sum, want);
    assert_eq!(done.load(Ordering::Relaxed), 6);
    assert!(
        rt.stats().retakes > before,
        "no P was ever taken from a spinning goroutine"
    );
    assert_eq!(rt.stats().running_without_p, 0);
}

/// Pinned mode never moves a P off its M: the hog keeps it, and the stall
/// is reported instead (see tests/sysmon.rs). Here: no retake is counted.
#[test]
fn pinned_mode_never_retakes_a_running_p() {
    let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        let start = Instant::now();
        let hog = goroutines::go(move || {
            while start.elapsed() < Duration::from_millis(40) {
                std::hint::spin_loop();
            }
        });
        for _ in 0..10 {
            goroutines::time::sleep(Duration::from_millis(1));
        }
        hog.join().unwrap();
    });
    assert_eq!(rt.stats().retakes, 0);
}
