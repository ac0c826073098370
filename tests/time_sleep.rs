//! `time::sleep` parks goroutines on per-P timers.

use goroutines::Runtime;
use std::time::{Duration, Instant};

#[test]
fn sleep_wakes_after_at_least_the_duration() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let waited = rt.run(|| {
        let t = Instant::now();
        goroutines::time::sleep(Duration::from_millis(20));
        t.elapsed()
    });
    assert!(waited >= Duration::from_millis(20), "{waited:?}");
}

/// 1,000 goroutines sleeping at once take about one sleep, not a thousand:
/// sleeping parks the goroutine, not the thread.
#[test]
fn many_sleepers_share_the_threads() {
    for migrate in [false, true] {
        let b = Runtime::builder().max_procs(2);
        let b = if migrate {
            // SAFETY: the goroutines hold nothing thread-affine across parks.
            unsafe { b.migrate_goroutines() }
        } else {
            b
        };
        let rt = b.build().unwrap();
        let (woke, elapsed) = rt.run(|| {
            let t = Instant::now();
            let hs: Vec<_> = (0..1000u64)
                .map(|i| {
                    goroutines::go(move || {
                        goroutines::time::sleep(Duration::from_millis(10 + i % 10));
                        1
                    })
                })
                .collect();
            let woke: u32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            (woke, t.elapsed())
        });
        assert_eq!(woke, 1000);
        // Sequential sleeping would take at least 14.5 s; any parking
        // implementation finishes in well under that on any machine.
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    }
}

/// Sleepers are woken in deadline order.
#[test]
fn sleepers_wake_in_deadline_order() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    let order = rt.run(|| {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let hs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|ms| {
                let log = log.clone();
                goroutines::go(move || {
                    goroutines::time::sleep(Duration::from_millis(ms));
                    log.lock().unwrap().push(ms);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = log.lock().unwrap().clone();
        v
    });
    assert_eq!(order, vec![10, 20, 30]);
}

#[test]
fn sleep_on_a_plain_thread_sleeps_the_thread() {
    let t = Instant::now();
    goroutines::time::sleep(Duration::from_millis(5));
    assert!(t.elapsed() >= Duration::from_millis(5));
}

/// With a goroutine waiting on the network, the idle M sleeps in the
/// poller (epoll_pwait2 with the timer's timeout) rather than on its futex:
/// sleeps below, around and above a millisecond still end no earlier than
/// asked, and none hangs.
#[test]
fn sleeps_end_no_earlier_than_asked_while_the_poller_sleeps() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let listener = goroutines::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = goroutines::go(move || listener.accept().map(|_| ()));
        for us in [150u64, 900, 1_500, 20_000] {
            let want = Duration::from_micros(us);
            for _ in 0..5 {
                let t = Instant::now();
                goroutines::time::sleep(want);
                let took = t.elapsed();
                assert!(took >= want, "sleep({want:?}) returned after {took:?}");
            }
        }
        // Wake the acceptor, so the runtime ends with nothing parked.
        drop(goroutines::net::TcpStream::connect(addr).unwrap());
        acceptor.join().unwrap().unwrap();
    });
}
