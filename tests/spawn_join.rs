//! Spawning and joining: many goroutines, nesting, plain threads, panics.

mod common;

use goroutines::Runtime;

fn spawn_and_join_many(rt: &Runtime, n: u64) {
    let sum = rt.run(move || {
        let handles: Vec<_> = (0..n).map(|i| goroutines::go(move || i)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
fn hundred_thousand_goroutines_spawn_and_join_in_pinned_mode() {
    let rt = Runtime::builder().max_procs(4).build().unwrap();
    assert!(!rt.migrates_goroutines());
    spawn_and_join_many(&rt, 100_000);
    assert_eq!(rt.num_goroutines(), 0);
}

#[test]
fn hundred_thousand_goroutines_spawn_and_join_in_go_mode() {
    // SAFETY: these goroutines hold nothing thread-affine across parks.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(4)
        .build()
        .unwrap();
    assert!(rt.migrates_goroutines());
    spawn_and_join_many(&rt, 100_000);
    assert_eq!(rt.num_goroutines(), 0);
}

fn tree(depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let kids: Vec<_> = (0..3)
        .map(|_| goroutines::go(move || tree(depth - 1)))
        .collect();
    1 + kids.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
}

#[test]
fn nested_spawns_join_up_a_tree() {
    let rt = Runtime::builder().max_procs(3).build().unwrap();
    // 3^0 + 3^1 + ... + 3^7 goroutines, each joining its children.
    assert_eq!(rt.run(|| tree(7)), (3u64.pow(8) - 1) / 2);
}

#[test]
fn join_from_a_plain_thread_blocks_until_done() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let h = rt.go(|| {
        for _ in 0..1000 {
            goroutines::yield_now();
        }
        goroutines::goroutine_id().expect("runs as a goroutine")
    });
    let id = h.id();
    let joined = std::thread::spawn(move || h.join().unwrap())
        .join()
        .unwrap();
    assert_eq!(joined, id);
}

#[test]
fn go_from_a_plain_thread_uses_the_default_runtime() {
    let handles: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(move || goroutines::go(move || i * 10).join().unwrap()))
        .collect();
    let got: Vec<i32> = handles.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(got, vec![0, 10, 20, 30]);
    assert_eq!(goroutines::goroutine_id(), None);
    assert!(goroutines::max_procs() >= 1);
}

#[test]
fn is_finished_turns_true_after_the_goroutine_returns() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let h = goroutines::go(|| 5);
        assert!(
            !h.is_finished(),
            "one P: the child cannot run before we park"
        );
        while !h.is_finished() {
            goroutines::yield_now();
        }
        assert_eq!(h.join().unwrap(), 5);
    });
}

#[test]
fn a_panicking_goroutine_returns_its_payload_to_join() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        let seven = std::hint::black_box(7);
        let h = goroutines::go(move || -> u32 { panic!("boom {seven}") });
        let err = h.join().unwrap_err();
        assert_eq!(
            err.downcast_ref::<String>().map(String::as_str),
            Some("boom 7")
        );
        // The runtime keeps running.
        assert_eq!(goroutines::go(|| 1).join().unwrap(), 1);
    });
}

#[test]
fn run_resumes_the_main_goroutines_panic() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.run(|| panic!("main"))))
        .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"main"));
    assert_eq!(
        rt.run(|| 3),
        3,
        "the runtime survives its main goroutine's panic"
    );
}

#[test]
fn an_unjoined_panic_is_reported_once_with_the_goroutine_id() {
    if common::is_child() {
        let rt = Runtime::builder().max_procs(1).build().unwrap();
        let id = rt.run(|| {
            let h = goroutines::go(|| panic!("left alone"));
            let id = h.id();
            drop(h);
            // Let it run and die.
            while goroutines::num_goroutines() > 1 {
                goroutines::yield_now();
            }
            id
        });
        eprintln!("CHILD-ID {id}");
        return;
    }
    let out = common::run_child(
        "an_unjoined_panic_is_reported_once_with_the_goroutine_id",
        &[("RUST_BACKTRACE", "0")],
    );
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    let id = err
        .split("CHILD-ID ")
        .nth(1)
        .expect("child prints its id")
        .trim();
    let line = format!("goroutine {id} panicked at tests/spawn_join.rs");
    assert_eq!(err.matches(&line).count(), 1, "{err}");
    assert!(err.contains("left alone"), "{err}");
}

#[test]
fn num_goroutines_counts_live_goroutines() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let before = goroutines::num_goroutines();
        let hs: Vec<_> = (0..10).map(|_| goroutines::go(|| ())).collect();
        assert_eq!(goroutines::num_goroutines(), before + 10);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(goroutines::num_goroutines(), before);
    });
}

#[test]
fn goroutines_spawned_inside_a_runtime_stay_on_it() {
    let a = Runtime::builder().max_procs(1).build().unwrap();
    let b = Runtime::builder().max_procs(2).build().unwrap();
    assert_eq!(a.run(goroutines::max_procs), 1);
    assert_eq!(b.run(goroutines::max_procs), 2);
    assert_eq!(
        b.run(|| goroutines::go(goroutines::max_procs).join().unwrap()),
        2
    );
}

#[test]
fn join_handle_debug_shows_id_spawn_site_and_state() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let h = goroutines::go(|| ());
        let text = format!("{h:?}");
        assert!(text.contains(&format!("goroutine: {}", h.id())), "{text}");
        assert!(text.contains("spawned_at: tests/spawn_join.rs:"), "{text}");
        assert!(text.contains("state: \"runnable\""), "{text}");
        while !h.is_finished() {
            goroutines::yield_now();
        }
        assert!(format!("{h:?}").contains("state: \"dead\""), "{h:?}");

        let (tx, rx) = goroutines::chan::bounded::<()>(0);
        let parked = goroutines::go(move || rx.recv().unwrap());
        while !format!("{parked:?}").contains("chan receive") {
            goroutines::yield_now();
        }
        tx.send(()).unwrap();
        parked.join().unwrap();
    });
}

#[test]
fn stats_count_goroutines_procs_and_stacks() {
    // One P: while the main goroutine runs, nothing else can, so the
    // snapshot is exact (with more Ps the counts race each other).
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let s = rt.run(|| {
        let hs: Vec<_> = (0..100).map(|i| goroutines::go(move || i)).collect();
        let during = goroutines::stats();
        hs.into_iter().for_each(|h| drop(h.join()));
        during
    });
    assert_eq!(s.max_procs, 1);
    assert_eq!(s.goroutines, 101, "{s:?}");
    assert_eq!((s.running, s.runnable, s.parked), (1, 100, 0), "{s:?}");
    assert_eq!(s.threads, 1, "{s:?}");
    assert!(s.stacks_carved >= 1, "{s:?}");
    assert_eq!(s.guard, "madvise");
    let line = s.to_string();
    assert!(line.starts_with("gomaxprocs=1 idleprocs=0"), "{line}");
    let after = rt.stats();
    assert_eq!(after.goroutines, 0, "{after:?}");
    assert!(after.spawned >= 101, "{after:?}");
}

/// A plain thread blocked in `join` on a goroutine that will never finish
/// is released, with an error, when the goroutine's runtime is dropped,
/// whether it blocked before the drop or arrives during it.
#[test]
fn a_thread_blocked_in_join_is_released_when_the_runtime_drops() {
    for delay_ms in [0u64, 1, 20] {
        let rt = Runtime::builder().max_procs(1).build().unwrap();
        let (tx, rx) = goroutines::chan::bounded::<()>(0);
        let stuck = rt.go(move || {
            let _ = rx.recv();
        });
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let joiner = std::thread::spawn(move || done_tx.send(stuck.join()).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        drop(rt);
        let joined = done_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the join was not released by the runtime's drop");
        let err = common::payload_text(joined.unwrap_err());
        assert!(err.contains("shut down first"), "{err}");
        joiner.join().unwrap();
        drop(tx);
    }
}

/// The same for a goroutine of another runtime: it is readied with the error.
#[test]
fn a_goroutine_of_another_runtime_joining_is_released_when_the_runtime_drops() {
    let a = Runtime::builder().max_procs(1).build().unwrap();
    let b = Runtime::builder().max_procs(1).build().unwrap();
    let (tx, rx) = goroutines::chan::bounded::<()>(0);
    let stuck = a.go(move || {
        let _ = rx.recv();
    });
    let (joined_tx, joined_rx) = goroutines::chan::bounded::<()>(1);
    let joiner = b.go(move || {
        joined_tx.send(()).unwrap();
        stuck.join().map_err(common::payload_text)
    });
    joined_rx.recv().unwrap();
    drop(a);
    let err = joiner.join().unwrap().unwrap_err();
    assert!(err.contains("shut down first"), "{err}");
    drop(tx);
}

/// A join that the goroutine's completion ends is not disturbed by the
/// bookkeeping for foreign joiners: many plain threads join many goroutines.
#[test]
fn plain_threads_joining_goroutines_that_finish_get_their_results() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let handles: Vec<_> = (0..200u64)
                .map(|i| {
                    rt.go(move || {
                        goroutines::time::sleep(std::time::Duration::from_micros(200));
                        t * 1000 + i
                    })
                })
                .collect();
            std::thread::spawn(move || handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>())
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let expect: u64 = (0..8u64)
        .map(|t| (0..200u64).map(|i| t * 1000 + i).sum::<u64>())
        .sum();
    assert_eq!(total, expect);
}

/// A result that counts its drops: each must be dropped exactly once,
/// whoever ends up owning it.
struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The handle and the goroutine share the result's cell and whichever
/// lets go last frees it: handles dropped before, during and after the
/// goroutine's exit, joined, polled from other threads and left unpolled.
/// A result leaked or dropped twice shows in the count (and a freed cell
/// used again, under the valgrind run of CI).
#[test]
fn every_result_is_dropped_once_whoever_lets_go_of_the_join_cell_last() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const N: usize = 20_000;
    for rt in common::runtimes() {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        // The pollers are joined outside the runtime: a goroutine blocking
        // its thread in `JoinHandle::join` of std would, in pinned mode,
        // starve the goroutines homed on that thread, which the pollers
        // may be waiting for.
        let (joined, pollers) = rt.run(move || {
            let mut joined = 0;
            let mut pending = Vec::new();
            for i in 0..N {
                let d = d.clone();
                let h = goroutines::go(move || {
                    if i % 7 == 0 {
                        goroutines::yield_now();
                    }
                    Counted(d)
                });
                match i % 4 {
                    0 => drop(h),
                    1 => {
                        drop(h.join().unwrap());
                        joined += 1;
                    }
                    _ => pending.push(h),
                }
            }
            // Half of the rest polled from plain threads as futures, half
            // dropped at once, while they may still be running.
            let (poll, drop_now): (Vec<_>, Vec<_>) = pending
                .into_iter()
                .enumerate()
                .partition(|(i, _)| i % 2 == 0);
            drop(drop_now);
            let mut chunks: Vec<Vec<_>> = (0..8).map(|_| Vec::new()).collect();
            for (i, (_, h)) in poll.into_iter().enumerate() {
                chunks[i % 8].push(h);
            }
            let pollers: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    std::thread::spawn(move || {
                        let n = chunk.len();
                        for h in chunk {
                            drop(futures::executor::block_on(h).unwrap());
                        }
                        n
                    })
                })
                .collect::<Vec<_>>();
            (joined, pollers)
        });
        let joined = joined
            + pollers
                .into_iter()
                .map(|p| p.join().unwrap())
                .sum::<usize>();
        assert!(joined > 0);
        // Detached goroutines may still be finishing.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while drops.load(Ordering::SeqCst) < N && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            N,
            "each result dropped exactly once"
        );
    }
}
