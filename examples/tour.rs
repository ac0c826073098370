//! A tour of goroutines: `cargo run --release --example tour`.
//!
//! Each section shows one idea and prints what it measured on this machine.
//! `main` is the table of contents: a `section(title)` line, then the
//! function that shows it (run on the default runtime with
//! `goroutines::run`, or on a runtime of its own where the section needs
//! particular settings). The asserts check results, never timings.

use goroutines::chan;
use goroutines::net::{TcpListener, TcpStream};
use goroutines::sync::{Mutex, WaitGroup};
use goroutines::time::sleep;
use goroutines::{go, select, Runtime};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    });

    section("100,000 goroutines, spawned and joined");
    goroutines::run(spawn_and_join);

    section("blocking code, not async: 10,000 goroutines sleep 50 ms at once");
    goroutines::run(sleepers);

    section("a panic stays in its goroutine");
    goroutines::run(panic_is_returned);

    section("deep recursion gets a real stack (256 KiB, committed lazily)");
    goroutines::run(deep_recursion);

    section("unbuffered channels: ping-pong between two goroutines");
    goroutines::run(ping_pong);

    section("buffered pipeline: producer -> 4 workers -> collector");
    goroutines::run(pipeline);

    section("close(): receivers drain what is buffered, then see the end");
    goroutines::run(close_drains);

    section("select!: a timeout arm (time::after) and a default arm");
    goroutines::run(select_timeout_and_default);

    section("select! is fair: among ready arms it picks uniformly at random");
    goroutines::run(select_fairness);

    section("context: a deadline cancels workers parked in select! and a parked read");
    goroutines::run(cancellation);

    section("sync: a Mutex counter bumped by 1,000 goroutines, a WaitGroup to wait");
    goroutines::run(mutex_and_waitgroup);

    section("a plain std::thread and a goroutine talk over channels");
    thread_talks_to_goroutine();

    section("syscall(f): a blocking call parks the goroutine, not its thread");
    syscall_frees_the_thread();

    section("net: a TCP echo server, one goroutine per connection");
    goroutines::run(tcp_echo);

    section("pinned mode (the default): a started goroutine keeps its OS thread");
    pinned_mode();

    section("Go mode: unsafe { Builder::migrate_goroutines() }");
    go_mode();

    section("observability: stats() and dump(), as GODEBUG=schedtrace and SIGQUIT");
    observability();

    section("beyond Go: scoped goroutines borrow; block_on and .await bridge to async; go_local");
    beyond_go();

    section("trace: every P's and M's timeline, as Perfetto JSON and an HTML page");
    trace_a_workload();
}

/// `n` `what`s in `el`, as a rate read at a glance: "4.2 M round trips/s".
fn rate(n: u64, what: &str, el: Duration) -> String {
    let per_sec = n as f64 / el.as_secs_f64();
    if per_sec >= 1e6 {
        format!("{:.2} M {what}/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k {what}/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.0} {what}/s")
    }
}

fn spawn_and_join() {
    let t = Instant::now();
    let handles: Vec<_> = (0..100_000u64).map(|i| go(move || i * i)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let el = t.elapsed();
    assert_eq!(sum, (0..100_000u64).map(|i| i * i).sum());
    println!(
        "sum of squares = {sum} in {el:.1?} ({:.0} ns per goroutine)",
        el.as_nanos() as f64 / 100_000.0
    );
}

fn sleepers() {
    let t = Instant::now();
    let sleepers: Vec<_> = (0..10_000)
        .map(|_| go(|| sleep(Duration::from_millis(50))))
        .collect();
    println!("while they sleep: {}", goroutines::stats());
    sleepers.into_iter().for_each(|h| h.join().unwrap());
    println!(
        "all woke after {:.1?}: sleeping parks the goroutine, not the thread",
        t.elapsed()
    );
}

fn panic_is_returned() {
    let h = go(|| -> u32 { panic!("something went wrong") });
    match h.join() {
        Ok(_) => unreachable!(),
        Err(e) => println!(
            "join returned the panic: {:?}",
            e.downcast_ref::<&str>().unwrap()
        ),
    }
}

fn deep_recursion() {
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
        go(|| depth(1000)).join().unwrap()
    );
}

/// Calls `trip(i)` for i = 0, 1, ... until `max` trips or `budget` has
/// passed (looked at every 64 trips), so a slow or busy machine shortens
/// a section instead of stretching it. Returns the trips made and the time.
fn round_trips(max: u64, budget: Duration, mut trip: impl FnMut(u64)) -> (u64, Duration) {
    let t = Instant::now();
    let mut n = 0;
    while n < max && (n % 64 != 0 || t.elapsed() < budget) {
        trip(n);
        n += 1;
    }
    (n, t.elapsed())
}

fn ping_pong() {
    let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
    let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
    let ponger = go(move || {
        // Go's `for v := range ping`: ends when the channel is closed.
        for v in ping_rx {
            pong_tx.send(v + 1).unwrap();
        }
    });
    let (n, el) = round_trips(100_000, Duration::from_millis(200), |i| {
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv(), Ok(i + 1));
    });
    // Pinned mode: each goroutine keeps the P it first ran on. Sharing one
    // makes a hop a switch on one thread; otherwise it wakes the other one.
    let dump = goroutines::dump();
    let home = |id| {
        dump.goroutines
            .iter()
            .find(|g| g.id == id)
            .and_then(|g| g.home)
    };
    let (me, other) = (home(goroutines::goroutine_id().unwrap()), home(ponger.id()));
    drop(ping_tx);
    ponger.join().unwrap();
    println!(
        "{n} round trips in {el:.1?}: {} ({:.0} ns each)",
        rate(n, "round trips", el),
        el.as_nanos() as f64 / n as f64
    );
    match (me, other) {
        (Some(a), Some(b)) if a == b => {
            println!("both pinned to P{a}: a hop is a switch on one thread")
        }
        (Some(a), Some(b)) => println!("pinned to P{a} and P{b}: each hop wakes the other thread"),
        _ => {}
    }
}

fn pipeline() {
    const ITEMS: u64 = 200_000;
    const WORKERS: usize = 4;
    let (jobs_tx, jobs_rx) = chan::bounded::<u64>(128);
    let (results_tx, results_rx) = chan::bounded::<u64>(128);
    let t = Instant::now();
    // Dropping the last sender closes a channel, so each stage ends when
    // the one before it is done.
    go(move || (0..ITEMS).for_each(|i| jobs_tx.send(i).unwrap()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (jobs, results) = (jobs_rx.clone(), results_tx.clone());
            go(move || jobs.iter().map(|j| results.send(j * j).unwrap()).count())
        })
        .collect();
    drop((jobs_rx, results_tx));
    let collector = go(move || results_rx.iter().fold((0, 0), |(n, s), v| (n + 1, s + v)));
    let (n, sum): (u64, u64) = collector.join().unwrap();
    let el = t.elapsed();
    let per_worker: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!((n, sum), (ITEMS, (0..ITEMS).map(|i| i * i).sum()));
    println!(
        "{ITEMS} items through 2 channels of 128 in {el:.1?}: {}; per worker {per_worker:?}",
        rate(ITEMS, "items", el)
    );
}

fn close_drains() {
    let (tx, rx) = chan::bounded(8);
    for i in 1..=5 {
        tx.send(i).unwrap();
    }
    tx.close(); // `tx` is still alive: close, not drop, ends the range below
    let late = tx.send(6).unwrap_err();
    let consumer = go(move || {
        let got: Vec<i32> = rx.iter().collect();
        (got, rx.recv())
    });
    let (got, after) = consumer.join().unwrap();
    assert_eq!(got, [1, 2, 3, 4, 5]);
    println!("5 buffered, then close(); send(6) fails: \"{late}\"");
    println!("a consumer's `for v in rx.iter()` got {got:?} and ended; recv() -> {after:?}");
}

fn select_timeout_and_default() {
    let (tx, rx) = chan::bounded::<&str>(1);
    let t = Instant::now();
    let slow = go(move || {
        sleep(Duration::from_millis(100));
        tx.send("the slow reply").unwrap();
    });
    select! {
        recv(rx) -> v => println!("no timeout: got {v:?} after {:.1?}", t.elapsed()),
        recv(goroutines::time::after(Duration::from_millis(20))) -> _ => println!(
            "recv(time::after(20 ms)) won after {:.1?}; the reply takes 100 ms",
            t.elapsed()
        ),
    }
    let now = select! {
        recv(rx) -> v => format!("got {:?}", v.unwrap()),
        default => "nothing ready, so default ran without waiting".to_string(),
    };
    let late = rx.recv().unwrap();
    slow.join().unwrap();
    println!(
        "select! with default: {now}; recv() then got {late:?} at {:.1?}",
        t.elapsed()
    );
}

fn select_fairness() {
    const SELECTS: usize = 30_000;
    let (a_tx, a) = chan::unbounded();
    let (b_tx, b) = chan::unbounded();
    let (c_tx, c) = chan::unbounded();
    for _ in 0..SELECTS {
        for tx in [&a_tx, &b_tx, &c_tx] {
            tx.send(()).unwrap();
        }
    }
    let mut counts = [0; 3];
    for _ in 0..SELECTS {
        select! {
            recv(a) -> _ => counts[0] += 1,
            recv(b) -> _ => counts[1] += 1,
            recv(c) -> _ => counts[2] += 1,
        }
    }
    assert_eq!(counts.iter().sum::<usize>(), SELECTS);
    println!("3 arms always ready, {SELECTS} selects: arms chosen {counts:?} times");
}

fn cancellation() {
    use goroutines::context::{self, Error};

    // One request with a 30 ms budget: 4 workers take jobs until its
    // context is done, and the producer stops feeding them at the same
    // moment, by selecting on the same done() channel.
    let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(30));
    let (jobs_tx, jobs) = chan::bounded::<u32>(0);
    let t = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (ctx, jobs) = (ctx.clone(), jobs.clone());
            go(move || {
                let mut done = 0u32;
                loop {
                    select! {
                        recv(ctx.done()) -> _ => return (done, ctx.err()),
                        recv(jobs) -> job => {
                            job.unwrap();
                            sleep(Duration::from_millis(1)); // the "work"
                            done += 1;
                        }
                    }
                }
            })
        })
        .collect();
    let mut fed = 0;
    loop {
        select! {
            recv(ctx.done()) -> _ => break,
            send(jobs_tx, fed) -> sent => {
                sent.unwrap();
                fed += 1;
            }
        }
    }
    let mut total = 0;
    for w in workers {
        let (done, err) = w.join().unwrap();
        assert_eq!(err, Some(Error::DeadlineExceeded));
        total += done;
    }
    assert_eq!(total, fed, "every job handed over was finished");
    println!(
        "4 workers did {total} 1 ms jobs; with_timeout(30 ms) stopped them all after {:.1?}: \"{}\"",
        t.elapsed(),
        Error::DeadlineExceeded
    );

    // The same signal reaches the network: a read parked on the poller
    // ends when another goroutine calls cancel(), and the socket still works.
    let (a, b) = goroutines::net::UnixStream::pair().unwrap();
    let (ctx, cancel) = context::with_cancel(&context::background());
    let t = Instant::now();
    go(move || {
        sleep(Duration::from_millis(5));
        cancel.cancel();
    });
    let mut buf = [0u8; 8];
    let e = a.read_context(&ctx, &mut buf).unwrap_err();
    assert_eq!(context::Error::from_io(&e), Some(Error::Canceled));
    let waited = t.elapsed();
    (&b).write_all(b"still ok").unwrap();
    (&a).read_exact(&mut buf).unwrap();
    println!(
        "read_context() parked {waited:.1?} until cancel(): \"{e}\" (io kind {:?}); then read {:?}",
        e.kind(),
        std::str::from_utf8(&buf).unwrap()
    );
}

fn mutex_and_waitgroup() {
    const GOROUTINES: u64 = 1_000;
    const EACH: u64 = 100;
    let counter = Arc::new(Mutex::new(0u64));
    let wg = WaitGroup::new();
    let t = Instant::now();
    for _ in 0..GOROUTINES {
        let counter = counter.clone();
        // wg.go(f) is Go 1.25's WaitGroup.Go: Add(1), go f, Done when f ends.
        wg.go(move || {
            for _ in 0..EACH {
                *counter.lock() += 1;
            }
        });
    }
    wg.wait();
    let el = t.elapsed();
    let total = *counter.lock();
    assert_eq!(total, GOROUTINES * EACH);
    println!(
        "counter = {total} ({GOROUTINES} goroutines x {EACH} locked increments) in {el:.1?}: {}",
        rate(total, "lock/unlock pairs", el)
    );
}

fn thread_talks_to_goroutine() {
    let (req_tx, req_rx) = chan::bounded::<u64>(0);
    let (resp_tx, resp_rx) = chan::bounded::<u64>(0);
    // `go` from a plain thread (here: main) spawns on the default runtime.
    let doubler = go(move || {
        for v in req_rx {
            resp_tx.send(v * 2).unwrap();
        }
        goroutines::goroutine_id().unwrap()
    });
    let client = std::thread::spawn(move || {
        let mut sum = 0;
        let (n, el) = round_trips(10_000, Duration::from_millis(200), |i| {
            req_tx.send(i).unwrap();
            sum += resp_rx.recv().unwrap();
        });
        (n, sum, el)
    });
    let (n, sum, el) = client.join().unwrap();
    let id = doubler.join().unwrap();
    assert_eq!(sum, n * n.saturating_sub(1));
    println!(
        "a std::thread made {n} round trips to goroutine {id} in {el:.1?} ({:.1} us each):",
        el.as_secs_f64() * 1e6 / n as f64
    );
    println!("the thread blocks in recv(), the goroutine parks; same channels, either side");
}

fn syscall_frees_the_thread() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let (procs, slept, ticks, source) = rt.run(|| {
        let (stop_tx, stop_rx) = chan::bounded::<()>(0);
        let ticker = go(move || {
            let tick = goroutines::time::tick(Duration::from_millis(10));
            let mut ticks = 0;
            loop {
                select! {
                    recv(tick) -> _ => ticks += 1,
                    recv(stop_rx) -> _ => return ticks,
                }
            }
        });
        let t = Instant::now();
        goroutines::syscall(|| std::thread::sleep(Duration::from_millis(100)));
        let slept = t.elapsed();
        stop_tx.close();
        let ticks = ticker.join().unwrap();
        let this_file = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tour.rs");
        let source = goroutines::syscall(|| std::fs::read(this_file));
        (goroutines::max_procs(), slept, ticks, source)
    });
    println!(
        "{procs} P: a goroutine spent {slept:.1?} in syscall(|| thread::sleep(100 ms)) while a \
         10 ms ticker on the same P ticked {ticks} times"
    );
    match source {
        Ok(bytes) => println!(
            "syscall(|| fs::read(\"examples/tour.rs\")) -> {} bytes",
            bytes.len()
        ),
        Err(e) => println!("syscall(|| fs::read(\"examples/tour.rs\")) -> {e}"),
    }
}

fn tcp_echo() {
    const CLIENTS: usize = 16;
    const ROUNDS: usize = 250;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = go(move || {
        let conns: Vec<_> = listener
            .incoming()
            .take(CLIENTS)
            .map(|conn| {
                let conn = conn.unwrap();
                // Go's io.Copy(conn, conn): echo until the client closes.
                go(move || std::io::copy(&mut &conn, &mut &conn).unwrap())
            })
            .collect();
        conns.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    let t = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            go(move || {
                let mut conn = TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                // Bounded: a lost byte fails the tour instead of hanging it.
                conn.set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut back = vec![0u8; 1024];
                let mut sent = 0;
                for r in 0..ROUNDS {
                    let len = 1 + (c * 131 + r * 17) % 1024;
                    let msg: Vec<u8> = (0..len).map(|i| (c * 7 + r * 3 + i) as u8).collect();
                    conn.write_all(&msg).unwrap();
                    conn.read_exact(&mut back[..len]).unwrap();
                    assert_eq!(back[..len], msg, "client {c}, round {r}: echo differs");
                    sent += len as u64;
                }
                sent
            })
        })
        .collect();
    let sent: u64 = clients.into_iter().map(|h| h.join().unwrap()).sum();
    let el = t.elapsed();
    let echoed = server.join().unwrap();
    assert_eq!(echoed, sent);
    let trips = (CLIENTS * ROUNDS) as u64;
    println!(
        "{CLIENTS} client goroutines x {ROUNDS} round trips on 127.0.0.1:{}: {sent} bytes echoed, \
         every one checked",
        addr.port()
    );
    println!(
        "{trips} round trips in {el:.1?}: {}",
        rate(trips, "round trips", el)
    );
}

/// Goroutines that report whether they saw only one OS thread (`stay`) or
/// more than one (`!stay`) across 100 yields each; returns how many did.
fn count_thread_changes(rt: &Runtime, stay: bool) -> usize {
    rt.run(move || {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                go(move || {
                    // SAFETY: gettid has no preconditions.
                    let tid = || unsafe { libc::syscall(libc::SYS_gettid) };
                    let first = tid();
                    let mut same = (0..100).map(|_| {
                        goroutines::yield_now();
                        tid() == first
                    });
                    if stay {
                        same.all(|s| s)
                    } else {
                        same.any(|s| !s)
                    }
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&s| s)
            .count()
    })
}

fn pinned_mode() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let stayed = count_thread_changes(&rt, true);
    println!("{stayed}/100 goroutines stayed on their thread across 100 yields each");
}

fn go_mode() {
    // SAFETY: these goroutines hold nothing thread-affine across a yield.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(2)
        .build()
        .unwrap();
    let moved = count_thread_changes(&rt, false);
    println!("{moved}/100 goroutines were resumed on another thread at least once");

    // A goroutine that spins without a single runtime call, on the only P.
    // Go mode's sysmon gives the P (and the sleeper's overdue timer) to
    // another M; the hog spins on, on its own thread.
    // SAFETY: these goroutines hold nothing thread-affine across a park.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(1)
        .build()
        .unwrap();
    let (naps, worst) = rt.run(|| {
        let spinning = Arc::new(AtomicBool::new(true));
        let sleeper = go({
            let spinning = spinning.clone();
            move || {
                let (mut naps, mut worst) = (0, Duration::ZERO);
                while spinning.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    sleep(Duration::from_millis(1));
                    worst = worst.max(start.elapsed().saturating_sub(Duration::from_millis(1)));
                    naps += 1;
                }
                (naps, worst)
            }
        });
        sleep(Duration::from_millis(5));
        go(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(100) {
                std::hint::spin_loop();
            }
            spinning.store(false, Ordering::Relaxed);
        });
        sleeper.join().unwrap()
    });
    println!(
        "GOMAXPROCS=1, a goroutine spins 100 ms without a runtime call: a 1 ms sleeper woke {naps} times \
         (worst {:.1} ms late); sysmon took the hog's P {} time(s)",
        worst.as_secs_f64() * 1e3,
        rt.stats().retakes
    );
}

fn observability() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        let (tx, rx) = chan::bounded::<()>(0);
        let lock = Arc::new(Mutex::new(()));
        let wg = WaitGroup::new();
        wg.add(1);
        let held = lock.lock();
        let parked = [
            go({
                let rx = rx.clone();
                move || {
                    let _ = rx.recv();
                }
            }),
            go({
                let lock = lock.clone();
                move || drop(lock.lock())
            }),
            go({
                let wg = wg.clone();
                move || wg.wait()
            }),
            go(move || {
                select! {
                    recv(rx) -> _ => {}
                    recv(chan::never::<()>()) -> _ => {}
                }
            }),
            go(|| sleep(Duration::from_millis(100))),
        ];
        sleep(Duration::from_millis(30)); // let them all park
        println!("{}", goroutines::stats());
        print!("{}", goroutines::dump());
        tx.close();
        drop(held);
        wg.done();
        for h in parked {
            h.join().unwrap();
        }
    });
}

fn beyond_go() {
    goroutines::run(|| {
        // Scoped goroutines borrow from the caller's stack, like
        // std::thread::scope: no Arc, no 'static, all joined at the end.
        let mut counts = vec![0u64; 4];
        let words = ["go", "rust", "goroutines", "scope"];
        goroutines::scope(|s| {
            for (slot, word) in counts.iter_mut().zip(&words) {
                s.go(move || *slot = word.len() as u64);
            }
        });
        println!("scope: 4 goroutines wrote into a borrowed Vec: {counts:?}");

        // block_on: a future parks the goroutine; its waker readies it.
        let (tx, rx) = futures::channel::oneshot::channel::<&str>();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            let _ = tx.send("sent from a std thread");
        });
        let got = goroutines::block_on(rx).unwrap();
        println!("block_on(oneshot) parked the goroutine until: {got:?}");

        // And async code can await a goroutine's JoinHandle.
        let handle = goroutines::go(|| (1..=10u64).product::<u64>());
        let fact = goroutines::block_on(async { handle.await.unwrap() });
        println!("awaiting a JoinHandle from async code: 10! = {fact}");

        // go_local: a goroutine for a closure that is not Send (an Rc); it
        // stays on this goroutine's OS thread for life (pinned mode).
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let writers: Vec<_> = (0..3)
            .map(|i| {
                let log = log.clone();
                goroutines::go_local(move || log.borrow_mut().push(i))
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        println!(
            "go_local: 3 goroutines shared an Rc<RefCell<Vec>> on one thread: {} entries",
            log.borrow().len()
        );
    });
}

fn trace_a_workload() {
    // A runtime of its own with 2 Ps, so the timeline has two P lanes.
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let base = std::env::temp_dir().join(format!("goroutines-tour-trace-{}", std::process::id()));
    goroutines::trace::start(&base).unwrap();
    rt.run(|| {
        // A ping-pong pair, a fan-out of short CPU bursts, and sleepers.
        let (tx, rx) = chan::bounded::<u32>(0);
        let (back_tx, back_rx) = chan::bounded::<u32>(0);
        let pong = go(move || {
            while let Ok(v) = rx.recv() {
                back_tx.send(v).unwrap();
            }
        });
        for i in 0..200 {
            tx.send(i).unwrap();
            back_rx.recv().unwrap();
        }
        drop(tx);
        pong.join().unwrap();
        let workers: Vec<_> = (0..16u64)
            .map(|i| {
                go(move || {
                    let until = Instant::now() + Duration::from_micros(300 + 50 * i);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                    sleep(Duration::from_millis(1));
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
    let files = goroutines::trace::stop().unwrap();
    println!(
        "traced {} events ({} dropped); open {} in a browser, or {} in ui.perfetto.dev",
        files.events,
        files.dropped,
        files.html.display(),
        files.json.display()
    );
}
