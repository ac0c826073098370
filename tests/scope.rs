//! Scoped goroutines: borrowing the caller's locals, joining everything
//! before `scope` returns (also when the closure panics), panics, nesting,
//! plain threads, both scheduling modes.

mod common;

use common::runtimes;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".into()
    }
}

/// Each goroutine sleeps before it writes, so a scope that returned early
/// would leave zeros behind.
fn fill_disjoint_chunks_reading_a_shared_local() {
    let mut data = vec![0u64; 64];
    let base = 1000u64; // shared, read by every goroutine
    goroutines::scope(|s| {
        for (i, chunk) in data.chunks_mut(8).enumerate() {
            let base = &base;
            s.go(move || {
                goroutines::time::sleep(Duration::from_millis(5));
                for (j, x) in chunk.iter_mut().enumerate() {
                    *x = base + (i * 8 + j) as u64;
                }
            });
        }
    });
    let want: Vec<u64> = (0..64).map(|k| 1000 + k).collect();
    assert_eq!(data, want);
}

#[test]
fn scoped_goroutines_borrow_disjoint_parts_of_a_local_vec_and_a_shared_local() {
    for rt in runtimes() {
        rt.run(fill_disjoint_chunks_reading_a_shared_local);
    }
}

#[test]
fn scope_from_a_plain_thread_blocks_it_and_runs_goroutines_on_the_default_runtime() {
    fill_disjoint_chunks_reading_a_shared_local();
    let mut ids = [None; 4];
    goroutines::scope(|s| {
        for id in ids.iter_mut() {
            s.go(move || *id = goroutines::goroutine_id());
        }
    });
    assert!(ids.iter().all(Option::is_some), "{ids:?}");
    assert_eq!(goroutines::goroutine_id(), None);
}

#[test]
fn scope_joins_every_goroutine_even_when_the_closure_panics() {
    for rt in runtimes() {
        rt.run(|| {
            let finished = AtomicUsize::new(0);
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                goroutines::scope(|s| {
                    for _ in 0..8 {
                        s.go(|| {
                            goroutines::time::sleep(Duration::from_millis(20));
                            finished.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    panic!("the scope's own closure fails");
                })
            }));
            // All eight had finished before the panic left `scope`.
            assert_eq!(finished.load(Ordering::SeqCst), 8);
            let payload = r.expect_err("the closure's panic is resumed");
            assert_eq!(panic_message(&*payload), "the scope's own closure fails");
        });
    }
}

#[test]
fn scope_reraises_an_unjoined_goroutine_panic_after_joining_the_rest() {
    for rt in runtimes() {
        rt.run(|| {
            let finished = AtomicUsize::new(0);
            let r = panic::catch_unwind(AssertUnwindSafe(|| {
                goroutines::scope(|s| {
                    s.go(|| panic!("boom"));
                    for _ in 0..4 {
                        s.go(|| {
                            goroutines::time::sleep(Duration::from_millis(20));
                            finished.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    "the closure returned"
                })
            }));
            assert_eq!(finished.load(Ordering::SeqCst), 4);
            let payload = r.expect_err("an unjoined panic fails the scope");
            assert_eq!(panic_message(&*payload), "a scoped goroutine panicked");
        });
    }
}

#[test]
fn a_goroutine_panic_that_was_joined_does_not_fail_the_scope() {
    let got = goroutines::scope(|s| {
        let h = s.go(|| -> u32 { panic!("caught by join") });
        let payload = h.join().expect_err("join returns the panic");
        assert_eq!(panic_message(&*payload), "caught by join");
        s.go(|| 7).join().unwrap()
    });
    assert_eq!(got, 7);
}

#[test]
fn join_returns_values_that_borrow_from_the_scope() {
    let words = [String::from("go"), String::from("rust")];
    let longest: &str = goroutines::scope(|s| {
        let hs: Vec<_> = words.iter().map(|w| s.go(move || w.as_str())).collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .max_by_key(|w| w.len())
            .unwrap()
    });
    assert_eq!(longest, "rust");
}

/// A result nobody joined is dropped before `scope` returns: its
/// destructor may use what it borrowed.
#[test]
fn unjoined_results_are_dropped_before_scope_returns() {
    struct CountsOnDrop<'a>(&'a AtomicUsize);
    impl Drop for CountsOnDrop<'_> {
        fn drop(&mut self) {
            goroutines::yield_now();
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for rt in runtimes() {
        rt.run(|| {
            let dropped = AtomicUsize::new(0);
            goroutines::scope(|s| {
                let mut kept = Vec::new();
                for i in 0..50 {
                    let h = s.go(|| CountsOnDrop(&dropped));
                    if i % 2 == 0 {
                        drop(h); // the result is dropped by the goroutine on exit
                    } else {
                        kept.push(h); // ... or here, when the closure returns
                    }
                }
            });
            assert_eq!(dropped.load(Ordering::SeqCst), 50);
        });
    }
}

#[test]
fn nested_scopes_borrow_from_both_levels() {
    for rt in runtimes() {
        rt.run(|| {
            let outer = vec![1u64, 2, 3];
            let mut sums = [0u64; 3];
            goroutines::scope(|s| {
                for (i, sum) in sums.iter_mut().enumerate() {
                    let outer = &outer;
                    s.go(move || {
                        let mut parts = [0u64; 4];
                        goroutines::scope(|inner| {
                            for (k, p) in parts.iter_mut().enumerate() {
                                inner.go(move || {
                                    goroutines::yield_now();
                                    *p = outer[i] * (k as u64 + 1);
                                });
                            }
                        });
                        *sum = parts.iter().sum();
                    });
                }
            });
            assert_eq!(sums, [10, 20, 30]);
        });
    }
}

#[test]
fn scoped_goroutines_spawn_siblings_through_the_shared_scope() {
    let hits = AtomicUsize::new(0);
    goroutines::scope(|s| {
        for _ in 0..10 {
            s.go(|| {
                for _ in 0..10 {
                    s.go(|| {
                        goroutines::time::sleep(Duration::from_millis(2));
                        hits.fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
        }
    });
    assert_eq!(hits.load(Ordering::SeqCst), 100);
}

#[test]
fn ten_thousand_scoped_goroutines_each_own_one_slot() {
    for rt in runtimes() {
        rt.run(|| {
            let mut slots = vec![0u32; 10_000];
            goroutines::scope(|s| {
                for (i, slot) in slots.iter_mut().enumerate() {
                    s.go(move || *slot = i as u32 * 3);
                }
            });
            assert!(slots.iter().enumerate().all(|(i, &v)| v == i as u32 * 3));
        });
    }
}

#[test]
fn scope_returns_the_closures_value_and_handles_report_ids() {
    let (value, id) = goroutines::scope(|s| {
        let h = s.go(goroutines::goroutine_id);
        let id = h.id();
        // Dumps and Debug name the line that called `s.go`.
        assert!(format!("{h:?}").contains("tests/scope.rs"), "{h:?}");
        let ran_as = h.join().unwrap();
        assert_eq!(ran_as, Some(id));
        ("done", id)
    });
    assert_eq!(value, "done");
    assert!(id > 0);
}
