//! Where goroutines run: pinned mode keeps a started goroutine on its OS
//! thread; Go mode moves them.

mod common;

use common::gettid;
use goroutines::Runtime;
use std::collections::HashSet;

/// Each goroutine records its thread before and after many parks (yields
/// and joins) while other Ps steal its unstarted siblings.
#[test]
fn a_started_goroutine_never_changes_os_thread_in_pinned_mode() {
    let rt = Runtime::builder().max_procs(4).build().unwrap();
    let moved = rt.run(|| {
        let workers: Vec<_> = (0..400)
            .map(|i| {
                goroutines::go(move || {
                    let tid = gettid();
                    let mut moved = 0;
                    for j in 0..50 {
                        if (i + j) % 3 == 0 {
                            // A join parks us until another goroutine, maybe
                            // on another P, finishes.
                            goroutines::go(move || j * 2).join().unwrap();
                        } else {
                            goroutines::yield_now();
                        }
                        if gettid() != tid {
                            moved += 1;
                        }
                    }
                    moved
                })
            })
            .collect();
        workers.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
    });
    assert_eq!(
        moved, 0,
        "started goroutines changed OS thread in pinned mode"
    );
}

/// Unstarted goroutines are still spread over all Ps in pinned mode.
#[test]
fn unstarted_goroutines_are_stolen_in_pinned_mode() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let tids = rt.run(|| {
        let hs: Vec<_> = (0..2000)
            .map(|_| {
                goroutines::go(|| {
                    let t = std::time::Instant::now();
                    while t.elapsed() < std::time::Duration::from_micros(20) {}
                    gettid()
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<HashSet<_>>()
    });
    assert_eq!(tids.len(), 2, "all goroutines ran on one M");
}

/// In Go mode, goroutines spawned onto one P and yielding over and over are
/// picked up by the other P part-way through.
#[test]
fn started_goroutines_are_stolen_in_go_mode_when_one_p_is_flooded() {
    // SAFETY: these goroutines hold nothing thread-affine across parks.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(2)
        .build()
        .unwrap();
    let migrated = rt.run(|| {
        let hs: Vec<_> = (0..200)
            .map(|_| {
                goroutines::go(|| {
                    let mut seen = HashSet::new();
                    for _ in 0..200 {
                        seen.insert(gettid());
                        goroutines::yield_now();
                    }
                    seen.len() > 1
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&m| m)
            .count()
    });
    assert!(
        migrated > 0,
        "no started goroutine ever changed thread in Go mode"
    );
}
