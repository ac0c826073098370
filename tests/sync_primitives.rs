//! `goroutines::sync`: exclusion, Go's starvation mode, reader/writer
//! rules, condition variables, wait groups and once, in both scheduling
//! modes and from plain threads.

use goroutines::sync::{Condvar, Mutex, Once, RwLock, WaitGroup};
use goroutines::time::sleep;
use goroutines::Runtime;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn both_modes(procs: usize, f: impl Fn() + Send + Sync + Clone + 'static) {
    Runtime::builder()
        .max_procs(procs)
        .build()
        .unwrap()
        .run(f.clone());
    // SAFETY: the scenarios hold nothing thread-affine across a park.
    unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(procs)
        .build()
        .unwrap()
        .run(f);
}

#[test]
fn mutex_excludes_concurrent_read_modify_write() {
    both_modes(4, || {
        let m = Arc::new(Mutex::new(0u64));
        let wg = WaitGroup::new();
        for _ in 0..200 {
            let m = m.clone();
            wg.go(move || {
                for _ in 0..100 {
                    let mut g = m.lock();
                    let v = *g;
                    if v.is_multiple_of(7) {
                        goroutines::yield_now(); // park while holding it
                    }
                    *g = v + 1;
                }
            });
        }
        wg.wait();
        assert_eq!(*m.lock(), 20_000);
    });
}

#[test]
fn mutex_is_shared_by_threads_and_goroutines() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let m = Arc::new(Mutex::new(0u64));
    let goroutines: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            rt.go(move || (0..5000).for_each(|_| *m.lock() += 1))
        })
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || (0..5000).for_each(|_| *m.lock() += 1))
        })
        .collect();
    goroutines.into_iter().for_each(|h| h.join().unwrap());
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*m.lock(), 30_000);
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let m = Mutex::new(5);
    let g = m.lock();
    assert!(m.try_lock().is_none());
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 5);
    assert_eq!(m.into_inner(), 5);
}

/// Go's TestMutexFairness: a goroutine that re-locks in a loop cannot
/// starve another; after 1 ms of waiting the lock is handed over.
#[test]
fn starvation_mode_lets_a_waiter_in_against_a_relocking_hog() {
    both_modes(2, || {
        let m = Arc::new(Mutex::new(()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m2, stop2) = (m.clone(), stop.clone());
        let hog = goroutines::go(move || {
            while !stop2.load(Ordering::Relaxed) {
                let _g = m2.lock();
                sleep(Duration::from_micros(100));
            }
        });
        let start = Instant::now();
        for _ in 0..10 {
            sleep(Duration::from_micros(100));
            drop(m.lock());
        }
        stop.store(true, Ordering::Relaxed);
        hog.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waiter starved for {:?}",
            start.elapsed()
        );
    });
}

/// Go's TestRWMutex: readers share, writers exclude readers and writers.
#[test]
fn rwlock_readers_share_and_writers_exclude() {
    both_modes(4, || {
        let lock = Arc::new(RwLock::new(()));
        // +1 per reader inside, +10_000 per writer inside.
        let activity = Arc::new(AtomicI64::new(0));
        let wg = WaitGroup::new();
        for i in 0..40 {
            let (lock, activity) = (lock.clone(), activity.clone());
            wg.go(move || {
                for _ in 0..200 {
                    if i % 5 == 0 {
                        let _w = lock.write();
                        let n = activity.fetch_add(10_000, Ordering::SeqCst);
                        assert_eq!(n, 0, "writer entered with others inside");
                        goroutines::yield_now();
                        activity.fetch_sub(10_000, Ordering::SeqCst);
                    } else {
                        let _r = lock.read();
                        let n = activity.fetch_add(1, Ordering::SeqCst);
                        assert!(n < 10_000, "reader entered with a writer inside");
                        goroutines::yield_now();
                        activity.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
        }
        wg.wait();
        assert!(lock.try_write().is_some());
    });
}

#[test]
fn rwlock_lets_two_readers_in_at_once() {
    both_modes(2, || {
        let lock = Arc::new(RwLock::new(7));
        let both_in = Arc::new(WaitGroup::new());
        both_in.add(2);
        let wg = WaitGroup::new();
        for _ in 0..2 {
            let (lock, both_in) = (lock.clone(), both_in.clone());
            wg.go(move || {
                let r = lock.read();
                both_in.done();
                both_in.wait(); // needs the other reader inside too
                assert_eq!(*r, 7);
            });
        }
        wg.wait();
        assert!(lock.try_read().is_some());
        let w = lock.write();
        assert!(lock.try_read().is_none());
        drop(w);
    });
}

#[test]
fn condvar_wakes_waiters_on_notify() {
    both_modes(2, || {
        let state = Arc::new((Mutex::new(0usize), Condvar::new()));
        let wg = WaitGroup::new();
        for _ in 0..8 {
            let state = state.clone();
            wg.go(move || {
                let (m, cv) = &*state;
                let g = cv.wait_while(m.lock(), |v| *v == 0);
                assert!(*g > 0);
            });
        }
        sleep(Duration::from_millis(2));
        *state.0.lock() = 1;
        state.1.notify_all();
        wg.wait();

        // notify_one hands one unit at a time to a consumer.
        let (m, cv) = &*state;
        *m.lock() = 0;
        let consumed = Arc::new(AtomicUsize::new(0));
        let consumers = WaitGroup::new();
        for _ in 0..4 {
            let (state, consumed) = (state.clone(), consumed.clone());
            consumers.go(move || {
                let (m, cv) = &*state;
                let mut g = cv.wait_while(m.lock(), |v| *v == 0);
                *g -= 1;
                consumed.fetch_add(1, Ordering::SeqCst);
            });
        }
        for _ in 0..4 {
            *m.lock() += 1;
            cv.notify_one();
        }
        consumers.wait();
        assert_eq!(consumed.load(Ordering::SeqCst), 4);
        assert_eq!(*m.lock(), 0);
    });
}

#[test]
fn condvar_wait_timeout_times_out_and_relocks() {
    both_modes(2, || {
        let m = Mutex::new(1);
        let cv = Condvar::new();
        let t = Instant::now();
        let (g, res) = cv.wait_timeout(m.lock(), Duration::from_millis(10));
        assert!(res.timed_out());
        assert!(t.elapsed() >= Duration::from_millis(10));
        assert_eq!(*g, 1);
        assert!(m.try_lock().is_none(), "the guard was given back locked");
    });
}

#[test]
fn waitgroup_waits_for_every_done() {
    both_modes(4, || {
        let wg = WaitGroup::new();
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..100 {
            let finished = finished.clone();
            wg.go(move || {
                if i % 3 == 0 {
                    sleep(Duration::from_millis(1));
                }
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (wg, finished) = (wg.clone(), finished.clone());
                goroutines::go(move || {
                    wg.wait();
                    finished.load(Ordering::SeqCst)
                })
            })
            .collect();
        wg.wait();
        assert_eq!(finished.load(Ordering::SeqCst), 100);
        for w in waiters {
            assert_eq!(w.join().unwrap(), 100);
        }
        wg.wait(); // zero: returns at once
    });
}

#[test]
fn waitgroup_go_counts_done_even_when_the_goroutine_panics() {
    both_modes(2, || {
        let wg = WaitGroup::new();
        let h = wg.go(|| panic!("boom"));
        wg.wait();
        assert!(h.join().is_err());
    });
}

#[test]
#[should_panic(expected = "negative counter")]
fn waitgroup_negative_counter_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
fn waitgroup_wakes_a_plain_thread() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let wg = WaitGroup::new();
    wg.add(1);
    let wg2 = wg.clone();
    rt.go(move || {
        sleep(Duration::from_millis(2));
        wg2.done();
    });
    wg.wait();
}

#[test]
fn once_runs_exactly_once_and_others_wait_for_it() {
    both_modes(4, || {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..50 {
            let (once, runs) = (once.clone(), runs.clone());
            wg.go(move || {
                once.call_once(|| {
                    sleep(Duration::from_millis(2));
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                // Everyone returns only after the one call finished.
                assert_eq!(runs.load(Ordering::SeqCst), 1);
            });
        }
        wg.wait();
        assert!(once.is_completed());
    });
}

#[test]
fn once_counts_a_panicking_call_as_done() {
    let once = Once::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        once.call_once(|| panic!("init failed"));
    }));
    assert!(r.is_err());
    assert!(once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(!ran);
}
