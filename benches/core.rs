//! Criterion benches of the core: the raw context switch (ours and
//! corosensei's, on the same machine; `src/arch/mod.rs` says why the runtime
//! uses its own), spawn+join, yield, and the execution trace's cost (off vs
//! on).
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
    targets = switch, spawn_join, yield_now, trace_overhead
}
criterion_main!(benches);
