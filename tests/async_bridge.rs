//! The async bridge: `goroutines::block_on` driving futures from real async
//! crates (woken from std threads, from goroutines, spuriously, after it
//! returned), in both scheduling modes and on plain threads; and async code
//! awaiting a `JoinHandle`.

mod common;

use common::runtimes;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Waits (politely) until `h`'s goroutine is parked in `block_on`.
fn wait_until_parked_in_block_on<T: Send + 'static>(h: &goroutines::JoinHandle<T>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !format!("{h:?}").contains("block_on") {
        assert!(Instant::now() < deadline, "never parked: {h:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn block_on_parks_until_a_sleeping_std_thread_sends_on_a_oneshot() {
    for rt in runtimes() {
        let (tx, rx) = oneshot::channel::<u32>();
        let h = rt.go(move || {
            let t0 = Instant::now();
            let v = goroutines::block_on(rx).unwrap();
            (v, t0.elapsed())
        });
        wait_until_parked_in_block_on(&h);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            tx.send(11).unwrap();
        });
        let (v, waited) = h.join().unwrap();
        assert_eq!(v, 11);
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        sender.join().unwrap();
    }
}

#[test]
fn block_on_blocks_a_plain_thread_until_another_thread_sends() {
    let (tx, rx) = oneshot::channel::<&str>();
    // Taken before the sender starts, so its 30 ms sleep lies inside the
    // measured wait whenever the thread gets to run.
    let t0 = Instant::now();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        tx.send("from a std thread").unwrap();
    });
    assert_eq!(goroutines::block_on(rx), Ok("from a std thread"));
    assert!(t0.elapsed() >= Duration::from_millis(30));
    sender.join().unwrap();
}

#[test]
fn block_on_is_woken_by_a_goroutine() {
    for rt in runtimes() {
        let got = rt.run(|| {
            let (tx, rx) = oneshot::channel::<u64>();
            goroutines::go(move || {
                goroutines::time::sleep(Duration::from_millis(10));
                tx.send(goroutines::goroutine_id().unwrap()).unwrap();
            });
            goroutines::block_on(rx).unwrap()
        });
        assert!(got > 0);
        // A plain thread woken by a goroutine, too.
        let (tx, rx) = oneshot::channel::<u32>();
        rt.go(move || {
            goroutines::time::sleep(Duration::from_millis(10));
            tx.send(5).unwrap();
        });
        assert_eq!(goroutines::block_on(rx), Ok(5));
    }
}

#[test]
fn block_on_an_mpsc_stream_fed_by_goroutines_and_threads() {
    for rt in runtimes() {
        let total = rt.run(|| {
            let (tx, mut rx) = mpsc::channel::<u64>(4); // bounded: senders park too
            for i in 0..50u64 {
                let mut tx = tx.clone();
                goroutines::go(move || {
                    goroutines::block_on(futures::SinkExt::send(&mut tx, i)).unwrap()
                });
            }
            let mut tx2 = tx.clone();
            let t = std::thread::spawn(move || {
                for i in 50..100u64 {
                    goroutines::block_on(futures::SinkExt::send(&mut tx2, i)).unwrap();
                }
            });
            drop(tx);
            let total = goroutines::block_on(async move {
                let mut total = 0;
                while let Some(i) = rx.next().await {
                    total += i;
                }
                total
            });
            t.join().unwrap();
            total
        });
        assert_eq!(total, (0..100).sum::<u64>());
    }
}

/// A future that is pending until `done`, stashing its waker where a
/// hammering thread can find it.
struct PendingUntil {
    done: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    polls: usize,
}

impl Future for PendingUntil {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        if self.done.load(Ordering::SeqCst) {
            return Poll::Ready(self.polls);
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Wakes from another thread any number of times, in any state (polling,
/// parking, parked, after the call returned): exactly one `Waiter::wake`
/// per park, or the runtime aborts with "readying goroutine ... not parked".
fn hammered_by_spurious_wakes(in_goroutine: impl FnOnce(Box<dyn FnOnce() + Send>)) {
    let done = Arc::new(AtomicBool::new(false));
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let wakes = Arc::new(AtomicUsize::new(0));
    let hammer = {
        let (slot, stop, wakes, done) = (slot.clone(), stop.clone(), wakes.clone(), done.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let w = slot.lock().unwrap().clone();
                if let Some(w) = w {
                    w.wake_by_ref();
                    if wakes.fetch_add(1, Ordering::SeqCst) == 20_000 {
                        done.store(true, Ordering::SeqCst);
                        w.wake_by_ref();
                    }
                } else {
                    std::thread::yield_now();
                }
            }
        })
    };
    let future = PendingUntil {
        done,
        slot: slot.clone(),
        polls: 0,
    };
    in_goroutine(Box::new(move || {
        let polls = goroutines::block_on(future);
        assert!(polls >= 2, "polled {polls} times");
        // The stale waker keeps being woken while we park on other things.
        for _ in 0..100 {
            goroutines::yield_now();
            goroutines::time::sleep(Duration::from_micros(50));
        }
    }));
    stop.store(true, Ordering::SeqCst);
    hammer.join().unwrap();
    assert!(wakes.load(Ordering::SeqCst) > 20_000);
}

#[test]
fn block_on_survives_many_spurious_wakes_from_another_thread() {
    for rt in runtimes() {
        hammered_by_spurious_wakes(|f| rt.run(f));
    }
    hammered_by_spurious_wakes(|f| f());
}

/// `futures::pending!`-style self-wakes: the future yields 10,000 times.
#[test]
fn block_on_repolls_a_future_that_wakes_itself() {
    struct YieldN(u32);
    impl Future for YieldN {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            if self.0 == 0 {
                return Poll::Ready(7);
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    for rt in runtimes() {
        assert_eq!(rt.run(|| goroutines::block_on(YieldN(10_000))), 7);
    }
    assert_eq!(goroutines::block_on(YieldN(10_000)), 7);
}

/// Every round a fresh oneshot whose sender fires from a long-lived std
/// thread right away, racing the owner between poll and park: a lost
/// wake-up hangs, a double wake-up aborts.
#[test]
fn block_on_races_immediate_wakes_from_another_thread() {
    for rt in runtimes() {
        let (to_thread, senders) = std::sync::mpsc::channel::<oneshot::Sender<u32>>();
        let t = std::thread::spawn(move || {
            for (i, tx) in senders.into_iter().enumerate() {
                let _ = tx.send(i as u32);
            }
        });
        let h = rt.go(move || {
            for i in 0..5_000u32 {
                let (tx, rx) = oneshot::channel();
                to_thread.send(tx).unwrap();
                assert_eq!(goroutines::block_on(rx), Ok(i));
            }
        });
        // Fail, rather than hang, on a lost wake-up.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !h.is_finished() {
            assert!(Instant::now() < deadline, "a wake-up was lost: {h:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        h.join().unwrap();
        t.join().unwrap();
    }
}

#[test]
fn a_thousand_goroutines_block_on_concurrently() {
    for rt in runtimes() {
        let sum = rt.run(|| {
            let mut senders = Vec::new();
            let handles: Vec<_> = (0..1_000u64)
                .map(|_| {
                    let (tx, rx) = oneshot::channel::<u64>();
                    senders.push(tx);
                    goroutines::go(move || goroutines::block_on(rx).unwrap())
                })
                .collect();
            // Half answered by a std thread in reverse, half by goroutines.
            let by_goroutines = senders.split_off(500);
            let t = std::thread::spawn(move || {
                for (i, tx) in senders.into_iter().enumerate().rev() {
                    tx.send(i as u64).unwrap();
                }
            });
            for (i, tx) in by_goroutines.into_iter().enumerate() {
                goroutines::go(move || tx.send(500 + i as u64).unwrap());
            }
            let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
            t.join().unwrap();
            sum
        });
        assert_eq!(sum, (0..1_000).sum::<u64>());
    }
}

#[test]
fn block_on_propagates_a_panic_from_poll_and_stays_usable() {
    for rt in runtimes() {
        rt.run(|| {
            let r = std::panic::catch_unwind(|| {
                goroutines::block_on(async { panic!("inside poll") });
            });
            assert!(r.is_err());
            assert_eq!(goroutines::block_on(async { 3 }), 3);
        });
    }
}

#[test]
fn futures_executor_awaits_a_goroutine_from_a_plain_thread() {
    for rt in runtimes() {
        let h = rt.go(|| {
            goroutines::time::sleep(Duration::from_millis(20));
            "slow"
        });
        assert_eq!(futures::executor::block_on(h).unwrap(), "slow");
        // Already finished before the first poll.
        let h = rt.go(|| 1 + 1);
        while !h.is_finished() {
            std::thread::yield_now();
        }
        assert_eq!(futures::executor::block_on(h).unwrap(), 2);
    }
}

#[test]
fn awaiting_a_goroutine_that_panicked_returns_its_payload() {
    let h = goroutines::go(|| -> u32 { panic!("awaited panic") });
    let payload = futures::executor::block_on(h).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"awaited panic"));
}

#[test]
fn a_goroutine_awaits_other_goroutines_inside_block_on() {
    for rt in runtimes() {
        let got = rt.run(|| {
            let a = goroutines::go(|| {
                goroutines::time::sleep(Duration::from_millis(10));
                40
            });
            let b = goroutines::go(|| 2);
            let waiter = goroutines::go(move || {
                goroutines::block_on(async move { a.await.unwrap() + b.await.unwrap() })
            });
            waiter.join().unwrap()
        });
        assert_eq!(got, 42);
    }
}

#[test]
fn awaiting_many_goroutines_with_join_all() {
    for rt in runtimes() {
        let sum: u64 = rt.run(|| {
            let hs = (0..500u64).map(|i| {
                goroutines::go(move || {
                    goroutines::yield_now();
                    i
                })
            });
            goroutines::block_on(futures::future::join_all(hs))
                .into_iter()
                .map(Result::unwrap)
                .sum()
        });
        assert_eq!(sum, (0..500).sum::<u64>());
    }
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A handle polled with one waker and then another wakes only the latest,
/// and can still be joined the blocking way afterwards.
#[test]
fn a_repolled_join_handle_wakes_only_its_latest_waker_and_can_still_be_joined() {
    let (release, gate) = oneshot::channel::<()>();
    let mut h = goroutines::go(move || {
        goroutines::block_on(gate).unwrap();
        9
    });
    let first = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let second = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let w1 = Waker::from(first.clone());
    let w2 = Waker::from(second.clone());
    assert!(h.poll_unpin(&mut Context::from_waker(&w1)).is_pending());
    assert!(h.poll_unpin(&mut Context::from_waker(&w1)).is_pending());
    assert!(h.poll_unpin(&mut Context::from_waker(&w2)).is_pending());
    release.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while second.0.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the latest waker was never woken"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(h.join().unwrap(), 9);
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
}

/// Re-registering a waker races the goroutine's exit: whichever wins, the
/// latest waker is woken (or the result is ready), never neither.
#[test]
fn re_registering_a_join_waker_while_the_goroutine_exits_never_loses_the_wake() {
    for rt in runtimes() {
        for _ in 0..2_000 {
            let mut h = rt.go(goroutines::yield_now);
            let first = Arc::new(CountingWaker(AtomicUsize::new(0)));
            let latest = Arc::new(CountingWaker(AtomicUsize::new(0)));
            let w1 = Waker::from(first.clone());
            let w2 = Waker::from(latest.clone());
            if h.poll_unpin(&mut Context::from_waker(&w1)).is_ready() {
                continue;
            }
            if h.poll_unpin(&mut Context::from_waker(&w2)).is_ready() {
                continue;
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while latest.0.load(Ordering::SeqCst) == 0 {
                assert!(
                    Instant::now() < deadline,
                    "the latest waker was never woken"
                );
                std::thread::yield_now();
            }
            assert!(h.poll_unpin(&mut Context::from_waker(&w2)).is_ready());
        }
    }
}
