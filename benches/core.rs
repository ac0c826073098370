//! Criterion benches of the core: the raw context switch (ours and
//! corosensei's, on the same machine; `src/arch/mod.rs` says why the runtime
//! uses its own), spawn+join, yield, a ring of goroutines passing a token
//! with warm and with cold caches, a plain thread trading messages with a
//! goroutine (and, for scale, with another thread), and the execution
//! trace's cost (off vs on).
//!
//! `cargo bench --bench core`; a single group with `-- switch`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

fn switch(c: &mut Criterion) {
    let mut g = c.benchmark_group("switch");
    g.throughput(Throughput::Elements(1));
    g.bench_function("goroutines round trip", |b| {
        b.iter_custom(goroutines::arch::switch_round_trips);
    });
    g.bench_function("corosensei round trip", |b| {
        use corosensei::{Coroutine, CoroutineResult};
        let mut co = Coroutine::new(|y, ()| loop {
            y.suspend(());
        });
        b.iter(|| match co.resume(()) {
            CoroutineResult::Yield(()) => {}
            CoroutineResult::Return(()) => unreachable!(),
        });
    });
    g.finish();
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    for procs in [1usize, 2] {
        for (mode, migrate) in [("pinned", false), ("go", true)] {
            let b = goroutines::Runtime::builder().max_procs(procs);
            let b = if migrate {
                // SAFETY: the benched goroutines hold nothing thread-affine.
                unsafe { b.migrate_goroutines() }
            } else {
                b
            };
            let rt = b.build().unwrap();
            let n = 10_000u64;
            g.throughput(Throughput::Elements(n));
            g.bench_with_input(BenchmarkId::new(mode, procs), &n, |b, &n| {
                b.iter(|| {
                    rt.run(move || {
                        let hs: Vec<_> = (0..n).map(|i| goroutines::go(move || i)).collect();
                        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                    })
                })
            });
        }
    }
    g.finish();
}

fn yield_now(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield");
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    let n = 100_000u64;
    g.throughput(Throughput::Elements(n));
    g.bench_function("yield_now, one goroutine", |b| {
        b.iter(|| {
            rt.run(move || {
                for _ in 0..n {
                    goroutines::yield_now();
                }
            })
        })
    });
    g.bench_function("yield_now, two goroutines", |b| {
        b.iter(|| {
            rt.run(move || {
                let other = goroutines::go(move || {
                    for _ in 0..n / 2 {
                        goroutines::yield_now();
                    }
                });
                for _ in 0..n / 2 {
                    goroutines::yield_now();
                }
                other.join().unwrap();
            })
        })
    });
    g.finish();
}

/// Bytes each hop of a "cold" ring reads from a buffer far larger than the
/// caches, so that by the time the token comes back to a goroutine its
/// header and stack have been pushed out of L1 and L2, as a server's
/// kernel work between two requests of one connection pushes them out.
const COLD_BYTES_PER_HOP: usize = 8 << 10;

/// Reads one word per cache line of the `words` words after `next` (which
/// it advances, wrapping), so that the ring's members together stream
/// through `big`.
fn read_next(big: &[u64], next: &std::sync::atomic::AtomicUsize, words: usize) -> u64 {
    let mut at = next.fetch_add(words, std::sync::atomic::Ordering::Relaxed) % big.len();
    if at + words > big.len() {
        at = 0;
    }
    big[at..at + words].iter().step_by(8).sum()
}

/// A token goes around a ring of `k` goroutines on one P, over rendezvous
/// channels: ns per hop. Cold rings measure what a goroutine resumed after
/// the cache forgot it costs (`G`'s layout in `src/scheduler/g.rs`). Every
/// member reads at each hop, so both cold rings pay the same reading per
/// hop: the cold ring of 256 less the cold ring of 2 (whose two members
/// stay in the cache) is the cost of the cold resume.
fn ring(c: &mut Criterion) {
    use goroutines::chan;
    let mut g = c.benchmark_group("ring");
    g.throughput(Throughput::Elements(1));
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    let big: std::sync::Arc<Vec<u64>> = std::sync::Arc::new(vec![1; (64 << 20) / 8]);
    for (cache, bytes) in [("warm", 0), ("cold", COLD_BYTES_PER_HOP)] {
        for k in [2usize, 256] {
            let big = big.clone();
            g.bench_function(BenchmarkId::new(cache, k), |b| {
                b.iter_custom(|hops| {
                    let big = big.clone();
                    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
                    rt.run(move || {
                        let words = bytes / 8;
                        let (first_tx, mut rx) = chan::bounded::<u64>(0);
                        let mut members = Vec::new();
                        for _ in 1..k {
                            let (tx, next_rx) = chan::bounded::<u64>(0);
                            let (my_rx, big, next) = (rx, big.clone(), next.clone());
                            members.push(goroutines::go(move || {
                                while let Ok(v) = my_rx.recv() {
                                    let read = read_next(&big, &next, words);
                                    if tx.send(v + read.min(1)).is_err() {
                                        break;
                                    }
                                }
                            }));
                            rx = next_rx;
                        }
                        let laps = hops.div_ceil(k as u64);
                        let started = std::time::Instant::now();
                        let mut v = 0;
                        for _ in 0..laps {
                            let read = read_next(&big, &next, words);
                            first_tx.send(v + read.min(1)).unwrap();
                            v = rx.recv().unwrap();
                        }
                        let took = started.elapsed();
                        let expected = if bytes == 0 { 0 } else { laps * k as u64 };
                        assert_eq!(v, expected, "the token lost a hop");
                        drop(first_tx);
                        for m in members {
                            m.join().unwrap();
                        }
                        // Per hop asked for: scale the laps' time to `hops`.
                        took.mul_f64(hops as f64 / (laps * k as u64) as f64)
                    })
                })
            });
        }
    }
    g.finish();
}

/// A round trip between a plain thread (criterion's) and an echo on the
/// other side of two rendezvous channels: a goroutine of a 2-P pinned
/// runtime, or another plain thread. Both sides block for real (the thread
/// in the kernel, the goroutine parked), so this measures wake-up paths:
/// the readied goroutine's M, idle or spinning, and what else it wakes.
fn thread_to_goroutine(c: &mut Criterion) {
    use goroutines::chan;
    let mut g = c.benchmark_group("thread_to_goroutine");
    g.throughput(Throughput::Elements(1));
    let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
    for echo_in_goroutine in [true, false] {
        let (to_echo, requests) = chan::bounded::<u64>(0);
        let (to_caller, replies) = chan::bounded::<u64>(0);
        let echo = move || {
            for v in requests {
                if to_caller.send(v).is_err() {
                    break;
                }
            }
        };
        let name = if echo_in_goroutine {
            drop(rt.go(echo));
            "round trip, thread and goroutine"
        } else {
            drop(std::thread::spawn(echo));
            "round trip, thread and thread"
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                for i in 0..iters {
                    to_echo.send(i).unwrap();
                    assert_eq!(replies.recv().unwrap(), i);
                }
                start.elapsed()
            })
        });
        // Dropping the sender ends the echo.
    }
    g.finish();
}

/// The execution trace's cost: the same spawn+join as `spawn_join` (one P,
/// pinned), with tracing off (each hook is one Relaxed load) and on (each
/// hook stamps the time and appends to its P's buffer). "on" starts a fresh
/// trace per iteration so buffers never fill (a full buffer only counts
/// drops, which would flatter it); writing the files at `stop` is not timed.
fn trace_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("trace");
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    let n = 10_000u64;
    let work = move || {
        let hs: Vec<_> = (0..n).map(|i| goroutines::go(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    };
    let base = std::env::temp_dir().join(format!("goroutines-bench-trace-{}", std::process::id()));
    g.throughput(Throughput::Elements(n));
    g.bench_function("spawn+join, tracing off", |b| b.iter(|| rt.run(work)));
    g.bench_function("spawn+join, tracing on", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                goroutines::trace::start(&base).unwrap();
                let t = std::time::Instant::now();
                rt.run(work);
                total += t.elapsed();
                let files = goroutines::trace::stop().unwrap();
                assert_eq!(
                    files.dropped, 0,
                    "a buffer filled: the bench would flatter tracing"
                );
            }
            total
        })
    });
    g.finish();
    for ext in ["json", "html"] {
        let _ = std::fs::remove_file(base.with_extension(ext));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = switch, spawn_join, yield_now, ring, thread_to_goroutine, trace_overhead
}
criterion_main!(benches);
