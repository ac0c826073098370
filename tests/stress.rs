//! Stress: random mixes of spawn, channel operations, select with timeouts,
//! sleep, mutex and syscall, in both modes and GOMAXPROCS 1 to 4, checking
//! that nothing is lost or duplicated and every goroutine is accounted for.
//! Bounded in time: each run has a watchdog, and a hang fails with its seed.

use goroutines::chan::{self, RecvTimeoutError};
use goroutines::sync::{Mutex, WaitGroup};
use goroutines::Runtime;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PRODUCERS: u64 = 200;
const CONSUMERS: u64 = 6;
const OPS: u64 = 300;

/// xorshift64*: deterministic per seed, so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Outcome {
    received: Vec<u64>,
    sent: u64,
    locks: u64,
    counter: u64,
    leftover_goroutines: usize,
}

fn workload(seed: u64) -> Outcome {
    let cap = [0usize, 1, 16][(seed % 3) as usize];
    let (tx, rx) = chan::bounded::<u64>(cap);
    let (ack_tx, ack_rx) = chan::unbounded::<u64>();
    let counter = Arc::new(Mutex::new(0u64));
    let locks = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let producers = WaitGroup::new();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            goroutines::go(move || {
                let mut got = Vec::new();
                loop {
                    match rx.recv_timeout(Duration::from_millis(5)) {
                        Ok(v) => got.push(v),
                        Err(RecvTimeoutError::Timeout) => goroutines::yield_now(),
                        Err(RecvTimeoutError::Disconnected) => return got,
                    }
                }
            })
        })
        .collect();
    drop(rx);
    for p in 0..PRODUCERS {
        let (tx, ack_tx, ack_rx) = (tx.clone(), ack_tx.clone(), ack_rx.clone());
        let (counter, locks, sent) = (counter.clone(), locks.clone(), sent.clone());
        producers.go(move || {
            let mut rng = Rng(seed ^ (p + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for i in 0..OPS {
                match rng.below(7) {
                    0 | 1 => {
                        tx.send(p * OPS + i)
                            .expect("consumers live until producers finish");
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                    2 => {
                        *counter.lock() += 1;
                        locks.fetch_add(1, Ordering::SeqCst);
                    }
                    3 => goroutines::time::sleep(Duration::from_micros(rng.below(200))),
                    4 => {
                        let x = rng.below(1000);
                        assert_eq!(goroutines::syscall(move || x * 2), x * 2);
                    }
                    5 => {
                        // A child that sends an ack, joined.
                        let ack_tx = ack_tx.clone();
                        let v = p * OPS + i;
                        goroutines::go(move || ack_tx.send(v).unwrap())
                            .join()
                            .unwrap();
                        goroutines::select! {
                            recv(ack_rx) -> got => assert!(got.is_ok()),
                            recv(goroutines::time::after(Duration::from_secs(30))) -> _ =>
                                panic!("an ack was lost"),
                        }
                    }
                    _ => goroutines::yield_now(),
                }
            }
        });
    }
    drop(tx);
    producers.wait();
    let mut received = Vec::new();
    for c in consumers {
        received.extend(c.join().unwrap());
    }
    drop((ack_tx, ack_rx));
    let counter = *counter.lock();
    // Give exiting goroutines' bookkeeping a moment, then count.
    let mut leftover = goroutines::num_goroutines();
    for _ in 0..100 {
        if leftover <= 1 {
            break;
        }
        goroutines::time::sleep(Duration::from_millis(1));
        leftover = goroutines::num_goroutines();
    }
    Outcome {
        received,
        sent: sent.load(Ordering::SeqCst),
        locks: locks.load(Ordering::SeqCst),
        counter,
        leftover_goroutines: leftover,
    }
}

fn stress(migrate: bool, procs: usize, seed: u64) {
    let b = Runtime::builder().max_procs(procs);
    let b = if migrate {
        // SAFETY: the workload holds nothing thread-affine across parks.
        unsafe { b.migrate_goroutines() }
    } else {
        b
    };
    let rt = b.build().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let runner = std::thread::spawn(move || {
        let out = rt.run(move || workload(seed));
        let _ = done_tx.send(());
        out
    });
    if done_rx.recv_timeout(Duration::from_secs(120)).is_err() {
        panic!("stress run hung: migrate={migrate} procs={procs} seed={seed:#x}");
    }
    let out = runner.join().unwrap();
    let ctx = format!("migrate={migrate} procs={procs} seed={seed:#x}");
    assert_eq!(
        out.received.len() as u64,
        out.sent,
        "values lost or duplicated ({ctx})"
    );
    let unique: HashSet<u64> = out.received.iter().copied().collect();
    assert_eq!(
        unique.len(),
        out.received.len(),
        "a value was received twice ({ctx})"
    );
    assert_eq!(
        out.counter, out.locks,
        "a locked increment was lost ({ctx})"
    );
    assert_eq!(
        out.leftover_goroutines, 1,
        "goroutines unaccounted for ({ctx})"
    );
}

fn seed() -> u64 {
    std::env::var("GOROUTINES_STRESS_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

#[test]
fn random_mixes_lose_nothing_in_pinned_mode_with_1_to_4_procs() {
    let seed = seed();
    eprintln!("seed {seed:#x} (replay with GOROUTINES_STRESS_SEED)");
    for round in 0..3u64 {
        for procs in 1..=4 {
            stress(false, procs, seed.wrapping_add(round * 16 + procs as u64));
        }
    }
}

#[test]
fn random_mixes_lose_nothing_in_go_mode_with_1_to_4_procs() {
    let seed = seed();
    eprintln!("seed {seed:#x} (replay with GOROUTINES_STRESS_SEED)");
    for round in 0..3u64 {
        for procs in 1..=4 {
            stress(true, procs, seed.wrapping_add(round * 16 + procs as u64));
        }
    }
}
