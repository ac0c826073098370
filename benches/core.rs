//! Criterion benches of the core: the raw context switch (ours and
//! corosensei's, on the same machine, which is why the runtime uses its
//! own), spawn+join, and yield.
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

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = switch, spawn_join, yield_now
}
criterion_main!(benches);
