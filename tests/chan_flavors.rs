//! Each channel flavour on its own: buffering, hand-off, close, disconnect,
//! try_* and timeouts, from goroutines and from plain threads.

mod common;
mod net_common;

use common::runtimes;
use net_common::within;

use goroutines::chan::{
    self, RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError,
};
use std::time::{Duration, Instant};

#[test]
fn rendezvous_send_waits_for_a_receiver() {
    for rt in runtimes() {
        rt.run(|| {
            let (tx, rx) = chan::bounded::<u32>(0);
            assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
            let h = goroutines::go(move || {
                tx.send(5).unwrap();
                tx.send(6).unwrap();
            });
            assert_eq!(rx.recv(), Ok(5));
            assert_eq!(rx.recv(), Ok(6));
            h.join().unwrap();
            assert_eq!(rx.recv(), Err(RecvError));
        });
    }
}

#[test]
fn bounded_buffers_up_to_capacity_then_blocks() {
    for rt in runtimes() {
        rt.run(|| {
            let (tx, rx) = chan::bounded(3);
            for i in 0..3 {
                tx.try_send(i).unwrap();
            }
            assert!(tx.is_full());
            assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
            let tx2 = tx.clone();
            let h = goroutines::go(move || tx2.send(3).unwrap());
            for i in 0..4 {
                assert_eq!(rx.recv(), Ok(i));
            }
            h.join().unwrap();
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        });
    }
}

#[test]
fn unbounded_never_blocks_and_keeps_order() {
    let (tx, rx) = chan::unbounded();
    for i in 0..10_000 {
        tx.send(i).unwrap();
    }
    drop(tx);
    assert!(rx.iter().eq(0..10_000));
}

#[test]
fn close_wakes_parked_senders_and_receivers() {
    for rt in runtimes() {
        rt.run(|| {
            let (tx, rx) = chan::bounded::<u32>(0);
            let rx2 = rx.clone();
            let r = goroutines::go(move || rx2.recv());
            goroutines::time::sleep(Duration::from_millis(5));
            assert!(tx.close());
            assert!(!tx.close());
            assert_eq!(r.join().unwrap(), Err(RecvError));
            assert!(tx.send(1).is_err());

            let (tx, rx) = chan::bounded::<u32>(1);
            tx.send(1).unwrap();
            let tx2 = tx.clone();
            let s = goroutines::go(move || tx2.send(2));
            goroutines::time::sleep(Duration::from_millis(5));
            tx.close();
            assert_eq!(s.join().unwrap().unwrap_err().into_inner(), 2);
            assert_eq!(rx.recv(), Ok(1));
            assert_eq!(rx.recv(), Err(RecvError));
        });
    }
}

/// A close wakes its waiters in batches of 1,024, letting go of the lock
/// between batches: with 3,000 receivers parked (three batches and a bit)
/// on each flavour, and 100 more racing their own timeouts, every plain
/// receiver sees the end, every timed one sees the end or its timeout, and
/// 3,000 senders parked on a full buffer all get their values back.
#[test]
fn a_close_wakes_thousands_of_waiters_in_batches() {
    const WAITERS: usize = 3_000;
    const TIMED: usize = 100;
    for rt in runtimes() {
        within(
            Duration::from_secs(60),
            "closing on 3,000 waiters",
            move || {
                rt.run(|| {
                    for capacity in [Some(0), Some(4), None] {
                        let (tx, rx) = match capacity {
                            Some(n) => chan::bounded::<u32>(n),
                            None => chan::unbounded::<u32>(),
                        };
                        let parked = goroutines::sync::WaitGroup::new();
                        parked.add((WAITERS + TIMED) as i64);
                        let plain: Vec<_> = (0..WAITERS)
                            .map(|_| {
                                let (rx, parked) = (rx.clone(), parked.clone());
                                goroutines::go(move || {
                                    parked.done();
                                    rx.recv()
                                })
                            })
                            .collect();
                        let timed: Vec<_> = (0..TIMED)
                            .map(|i| {
                                let (rx, parked) = (rx.clone(), parked.clone());
                                goroutines::go(move || {
                                    parked.done();
                                    rx.recv_timeout(Duration::from_micros(200 * i as u64))
                                })
                            })
                            .collect();
                        parked.wait();
                        goroutines::time::sleep(Duration::from_millis(10));
                        assert!(tx.close());
                        for r in plain {
                            assert_eq!(r.join().unwrap(), Err(RecvError), "capacity {capacity:?}");
                        }
                        for r in timed {
                            let got = r.join().unwrap();
                            assert!(
                                matches!(
                                    got,
                                    Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout)
                                ),
                                "capacity {capacity:?}: {got:?}"
                            );
                        }
                        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
                    }

                    let (tx, rx) = chan::bounded::<u32>(1);
                    tx.send(u32::MAX).unwrap();
                    let senders: Vec<_> = (0..WAITERS as u32)
                        .map(|i| {
                            let tx = tx.clone();
                            goroutines::go(move || tx.send(i))
                        })
                        .collect();
                    goroutines::time::sleep(Duration::from_millis(20));
                    drop(rx);
                    let mut back: Vec<u32> = senders
                        .into_iter()
                        .map(|s| s.join().unwrap().unwrap_err().into_inner())
                        .collect();
                    back.sort_unstable();
                    assert!(back.iter().copied().eq(0..WAITERS as u32));
                })
            },
        );
    }
}

#[test]
fn dropping_all_receivers_fails_sends_and_drops_buffered_values() {
    let marker = std::sync::Arc::new(());
    let (tx, rx) = chan::bounded(4);
    tx.send(marker.clone()).unwrap();
    drop(rx);
    assert_eq!(std::sync::Arc::strong_count(&marker), 1);
    assert!(tx.send(marker.clone()).is_err());
    assert!(tx.is_closed());
}

#[test]
fn timeouts_expire_on_every_flavour() {
    for rt in runtimes() {
        rt.run(|| {
            for cap in [0, 1] {
                let (tx, rx) = chan::bounded::<u8>(cap);
                if cap == 1 {
                    tx.send(0).unwrap();
                    rx.recv().unwrap();
                    tx.send(0).unwrap();
                }
                let t = Instant::now();
                assert_eq!(
                    tx.send_timeout(7, Duration::from_millis(20)),
                    Err(SendTimeoutError::Timeout(7))
                );
                assert!(t.elapsed() >= Duration::from_millis(20));
                if cap == 1 {
                    rx.recv().unwrap();
                }
                let t = Instant::now();
                assert_eq!(
                    rx.recv_timeout(Duration::from_millis(20)),
                    Err(RecvTimeoutError::Timeout)
                );
                assert!(t.elapsed() >= Duration::from_millis(20));
            }
            let (_tx, rx) = chan::unbounded::<u8>();
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(5)),
                Err(RecvTimeoutError::Timeout)
            );
        });
    }
}

#[test]
fn timeouts_on_plain_threads() {
    let (tx, rx) = chan::bounded::<u8>(0);
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(
        tx.send_timeout(1, Duration::from_millis(10)),
        Err(SendTimeoutError::Timeout(1))
    );
}
