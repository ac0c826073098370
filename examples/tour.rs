//! A tour of goroutines: `cargo run --release --example tour`.
//!
//! Each section shows one idea and prints what it measured on this machine.

use goroutines::Runtime;
use std::time::{Duration, Instant};

fn section(title: &str) {
    println!("\n== {title}");
}

fn main() {
    goroutines::run(|| {
        println!(
            "goroutines runtime: {} Ps (GOMAXPROCS), running as goroutine {}",
            goroutines::max_procs(),
            goroutines::goroutine_id().unwrap()
        );

        section("100,000 goroutines, spawned and joined");
        let t = Instant::now();
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| goroutines::go(move || i * i))
            .collect();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let el = t.elapsed();
        println!(
            "sum of squares = {sum} in {el:?} ({:.0} ns per goroutine)",
            el.as_nanos() as f64 / 100_000.0
        );

        section("blocking code, not async: 10,000 goroutines sleep 50 ms at once");
        let t = Instant::now();
        let sleepers: Vec<_> = (0..10_000)
            .map(|_| goroutines::go(|| goroutines::time::sleep(Duration::from_millis(50))))
            .collect();
        println!("while they sleep: {}", goroutines::stats());
        sleepers.into_iter().for_each(|h| h.join().unwrap());
        println!(
            "all woke after {:?}: sleeping parks the goroutine, not the thread",
            t.elapsed()
        );

        section("a panic stays in its goroutine");
        let h = goroutines::go(|| -> u32 { panic!("something went wrong") });
        match h.join() {
            Ok(_) => unreachable!(),
            Err(e) => println!(
                "join returned the panic: {:?}",
                e.downcast_ref::<&str>().unwrap()
            ),
        }

        section("deep recursion gets a real stack (256 KiB, committed lazily)");
        fn depth(n: u32) -> u32 {
            let pad = std::hint::black_box([0u8; 64]);
            if n == 0 {
                pad[0] as u32
            } else {
                1 + depth(n - 1)
            }
        }
        println!(
            "recursed {} frames deep in a goroutine",
            goroutines::go(|| depth(1000)).join().unwrap()
        );
    });

    section("pinned mode (the default): a started goroutine keeps its OS thread");
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let stayed = rt.run(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                goroutines::go(|| {
                    // SAFETY: gettid has no preconditions.
                    let tid = || unsafe { libc::syscall(libc::SYS_gettid) };
                    let first = tid();
                    (0..100).all(|_| {
                        goroutines::yield_now();
                        tid() == first
                    })
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&s| s)
            .count()
    });
    println!("{stayed}/100 goroutines stayed on their thread across 100 yields each");

    section("Go mode: unsafe { Builder::migrate_goroutines() }");
    // SAFETY: these goroutines hold nothing thread-affine across a yield.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(2)
        .build()
        .unwrap();
    let moved = rt.run(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                goroutines::go(|| {
                    // SAFETY: gettid has no preconditions.
                    let tid = || unsafe { libc::syscall(libc::SYS_gettid) };
                    let first = tid();
                    (0..100).any(|_| {
                        goroutines::yield_now();
                        tid() != first
                    })
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&m| m)
            .count()
    });
    println!("{moved}/100 goroutines were resumed on another thread at least once");
}
