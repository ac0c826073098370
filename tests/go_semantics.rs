//! Go's own channel and select tests (`runtime/chan_test.go`,
//! `runtime/select` tests), rewritten for this API as a conformance suite.
//! Every scenario runs in both scheduling modes.

use goroutines::chan::{self, Receiver, RecvError, Select, Sender, TryRecvError, TrySendError};
use goroutines::sync::WaitGroup;
use goroutines::time::sleep;
use goroutines::{select, Runtime};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs `f` as the main goroutine of a pinned runtime and of a Go-mode
/// runtime, each with `procs` Ps.
fn both_modes(procs: usize, f: impl Fn() + Send + Sync + Clone + 'static) {
    let pinned = Runtime::builder().max_procs(procs).build().unwrap();
    pinned.run(f.clone());
    // SAFETY: the scenarios hold no thread-local borrow, thread-affine lock
    // or thread-bound !Send value across a park.
    let go_mode = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(procs)
        .build()
        .unwrap();
    go_mode.run(f);
}

const CAPS: [usize; 6] = [0, 1, 2, 5, 10, 50];

/// TestChan, part 1: receiving from an empty channel blocks; a
/// non-blocking receive does not.
#[test]
fn receive_from_empty_channel_blocks() {
    both_modes(4, || {
        for cap in CAPS {
            let (tx, rx) = chan::bounded::<i32>(cap);
            let got = Arc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                let (rx, got) = (rx.clone(), got.clone());
                goroutines::go(move || {
                    let _ = rx.recv();
                    got.fetch_add(1, Ordering::SeqCst);
                });
            }
            sleep(Duration::from_millis(1));
            assert_eq!(
                got.load(Ordering::SeqCst),
                0,
                "chan[{cap}]: received from empty"
            );
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            select! {
                recv(rx) -> _ => panic!("chan[{cap}]: select received from empty"),
                default => {}
            }
            tx.send(0).unwrap();
            tx.send(0).unwrap();
        }
    });
}

/// TestChan, part 2: sending to a full channel blocks; a non-blocking send
/// does not.
#[test]
fn send_to_full_channel_blocks() {
    both_modes(4, || {
        for cap in CAPS {
            let (tx, rx) = chan::bounded::<i32>(cap);
            for i in 0..cap as i32 {
                tx.send(i).unwrap();
            }
            let sent = Arc::new(AtomicBool::new(false));
            let (tx2, sent2) = (tx.clone(), sent.clone());
            goroutines::go(move || {
                tx2.send(0).unwrap();
                sent2.store(true, Ordering::SeqCst);
            });
            sleep(Duration::from_millis(1));
            assert!(!sent.load(Ordering::SeqCst), "chan[{cap}]: sent to full");
            assert!(matches!(tx.try_send(0), Err(TrySendError::Full(0))));
            select! {
                send(tx, 0) -> _ => panic!("chan[{cap}]: select sent to full"),
                default => {}
            }
            rx.recv().unwrap();
        }
    });
}

/// TestChan, part 3: a closed channel delivers what it buffered, in order,
/// then reports the end; close unblocks a waiting receiver.
#[test]
fn closed_channel_drains_then_ends() {
    both_modes(4, || {
        for cap in CAPS {
            let (tx, rx) = chan::bounded(cap);
            for i in 0..cap {
                tx.send(i).unwrap();
            }
            tx.close();
            for i in 0..cap {
                assert_eq!(rx.recv(), Ok(i));
            }
            assert_eq!(rx.recv(), Err(RecvError));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            assert!(tx.send(0).is_err(), "send on a closed channel must fail");

            let (tx, rx) = chan::bounded::<i32>(cap);
            let (done_tx, done_rx) = chan::bounded(0);
            goroutines::go(move || done_tx.send(rx.recv() == Err(RecvError)).unwrap());
            sleep(Duration::from_millis(1));
            tx.close();
            assert!(
                done_rx.recv().unwrap(),
                "chan[{cap}]: close did not end recv"
            );
        }
    });
}

/// TestChan, part 4: FIFO order from one sender; with 4 senders and 4
/// receivers, every value arrives exactly as often as it was sent.
#[test]
fn fifo_order_and_many_to_many_counts() {
    both_modes(4, || {
        for cap in CAPS {
            let (tx, rx) = chan::bounded(cap);
            let tx1 = tx.clone();
            goroutines::go(move || (0..100).for_each(|i| tx1.send(i).unwrap()));
            for i in 0..100 {
                assert_eq!(rx.recv(), Ok(i), "chan[{cap}]");
            }
            const P: usize = 4;
            const L: usize = 1000;
            for _ in 0..P {
                let tx = tx.clone();
                goroutines::go(move || (0..L).for_each(|i| tx.send(i).unwrap()));
            }
            let (done_tx, done_rx) = chan::bounded::<HashMap<usize, usize>>(0);
            for _ in 0..P {
                let (rx, done_tx) = (rx.clone(), done_tx.clone());
                goroutines::go(move || {
                    let mut seen = HashMap::new();
                    for _ in 0..L {
                        *seen.entry(rx.recv().unwrap()).or_insert(0) += 1;
                    }
                    done_tx.send(seen).unwrap();
                });
            }
            let mut all: HashMap<usize, usize> = HashMap::new();
            for _ in 0..P {
                for (k, v) in done_rx.recv().unwrap() {
                    *all.entry(k).or_insert(0) += v;
                }
            }
            assert_eq!(all.len(), L, "chan[{cap}]");
            assert!(all.values().all(|&v| v == P), "chan[{cap}]");
            assert_eq!(rx.len(), 0);
            assert_eq!(rx.capacity(), Some(cap));
            for i in 0..cap {
                tx.send(i).unwrap();
            }
            assert_eq!(tx.len(), cap);
        }
    });
}

/// N senders x M receivers over every flavour: each value is received
/// exactly once and the receivers end when the senders are gone.
#[test]
fn many_to_many_delivers_every_value_exactly_once() {
    both_modes(4, || {
        let flavours: Vec<(Sender<u64>, Receiver<u64>)> =
            vec![chan::bounded(0), chan::bounded(3), chan::unbounded()];
        for (tx, rx) in flavours {
            const SENDERS: u64 = 8;
            const PER: u64 = 2000;
            let wg = WaitGroup::new();
            for s in 0..SENDERS {
                let tx = tx.clone();
                wg.go(move || (0..PER).for_each(|i| tx.send(s * PER + i).unwrap()));
            }
            drop(tx);
            let receivers: Vec<_> = (0..6)
                .map(|_| {
                    let rx = rx.clone();
                    goroutines::go(move || rx.iter().collect::<Vec<u64>>())
                })
                .collect();
            wg.wait();
            let mut all: Vec<u64> = receivers
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..SENDERS * PER).collect::<Vec<_>>());
        }
    });
}

/// TestNonblockRecvRace: a value sent before close is seen by a
/// non-blocking select even while the channel is being closed.
#[test]
fn nonblocking_receive_sees_value_despite_close() {
    both_modes(4, || {
        for _ in 0..1000 {
            let (tx, rx) = chan::bounded(1);
            tx.send(1).unwrap();
            let rx2 = rx.clone();
            let h = goroutines::go(move || {
                select! {
                    recv(rx2) -> _ => true,
                    default => false,
                }
            });
            tx.close();
            let _ = rx.recv();
            assert!(h.join().unwrap(), "chan is not ready");
        }
    });
}

/// TestNonblockSelectRace (and 2, with close): while one of two channels
/// is always ready, a non-blocking select never takes `default`.
#[test]
fn nonblocking_select_never_misses_an_always_ready_channel() {
    both_modes(4, || {
        for close_c2 in [false, true] {
            for _ in 0..1000 {
                let (c1_tx, c1_rx) = chan::bounded(1);
                let (c2_tx, c2_rx) = chan::bounded(if close_c2 { 0 } else { 1 });
                c1_tx.send(1).unwrap();
                let (r1, r2) = (c1_rx.clone(), c2_rx.clone());
                let h = goroutines::go(move || {
                    select! {
                        recv(r1) -> _ => true,
                        recv(r2) -> _ => true,
                        default => false,
                    }
                });
                if close_c2 {
                    c2_tx.close();
                } else {
                    c2_tx.send(1).unwrap();
                }
                select! {
                    recv(c1_rx) -> _ => {},
                    default => {},
                }
                assert!(h.join().unwrap(), "no chan is ready");
            }
        }
    });
}

/// TestSelfSelect: a select with both a send and a receive arm on one
/// channel neither deadlocks nor, unbuffered, receives its own value.
#[test]
fn select_on_both_ends_of_one_channel_never_receives_itself() {
    both_modes(2, || {
        for cap in [0, 10] {
            let (tx, rx) = chan::bounded::<usize>(cap);
            let wg = WaitGroup::new();
            for p in 0..2 {
                let (tx, rx) = (tx.clone(), rx.clone());
                wg.go(move || {
                    for _ in 0..1000 {
                        select! {
                            send(tx, p) -> res => res.unwrap(),
                            recv(rx) -> v => {
                                let v = v.unwrap();
                                assert!(cap != 0 || v != p, "self receive");
                            }
                        }
                    }
                });
            }
            // A goroutine may be left waiting with no partner at the end;
            // drain until both are done.
            let (done_tx, done_rx) = chan::bounded::<()>(0);
            let wg2 = wg.clone();
            goroutines::go(move || {
                wg2.wait();
                drop(done_tx);
            });
            loop {
                select! {
                    recv(rx) -> _ => {},
                    send(tx, 99) -> _ => {},
                    recv(done_rx) -> _ => break,
                }
            }
        }
    });
}

/// TestSelectStress: plain senders and receivers and one selecting sender
/// and receiver over four channels of different capacities; channels drop
/// out of the selects (Go sets them to nil) once done. Nothing deadlocks.
#[test]
fn select_stress_with_dynamic_arms_finishes() {
    both_modes(4, || {
        const N: usize = 5000;
        let chans: Vec<(Sender<u8>, Receiver<u8>)> = vec![
            chan::bounded(0),
            chan::bounded(0),
            chan::bounded(2),
            chan::bounded(3),
        ];
        let wg = WaitGroup::new();
        for (tx, rx) in &chans {
            let (tx, rx) = (tx.clone(), rx.clone());
            wg.go(move || (0..N).for_each(|_| tx.send(0).unwrap()));
            wg.go(move || (0..N).for_each(|_| rx.recv().map(|_| ()).unwrap()));
        }
        let senders: Vec<Sender<u8>> = chans.iter().map(|c| c.0.clone()).collect();
        wg.go(move || {
            let mut n = [0; 4];
            for _ in 0..4 * N {
                let mut sel = Select::new();
                let mut arms = Vec::new();
                for (k, s) in senders.iter().enumerate() {
                    if n[k] < N {
                        arms.push((sel.send(s), k));
                    }
                }
                let oper = sel.select();
                let k = arms.iter().find(|a| a.0 == oper.index()).unwrap().1;
                oper.send(&senders[k], 0).unwrap();
                n[k] += 1;
            }
        });
        let receivers: Vec<Receiver<u8>> = chans.iter().map(|c| c.1.clone()).collect();
        wg.go(move || {
            let mut n = [0; 4];
            for _ in 0..4 * N {
                let mut sel = Select::new();
                let mut arms = Vec::new();
                for (k, r) in receivers.iter().enumerate() {
                    if n[k] < N {
                        arms.push((sel.recv(r), k));
                    }
                }
                let oper = sel.select();
                let k = arms.iter().find(|a| a.0 == oper.index()).unwrap().1;
                oper.recv(&receivers[k]).unwrap();
                n[k] += 1;
            }
        });
        wg.wait();
    });
}

/// TestPseudoRandomSend: a select between two sends on one channel picks
/// both arms, unbuffered and buffered.
#[test]
fn select_between_two_sends_is_pseudo_random() {
    both_modes(2, || {
        const N: usize = 200;
        for cap in [0, N] {
            let (tx, rx) = chan::bounded::<usize>(cap);
            let h = goroutines::go(move || {
                (0..N)
                    .map(|_| {
                        goroutines::yield_now();
                        rx.recv().unwrap()
                    })
                    .collect::<Vec<_>>()
            });
            for _ in 0..N {
                select! {
                    send(tx, 1) -> r => r.unwrap(),
                    send(tx, 0) -> r => r.unwrap(),
                }
            }
            let got = h.join().unwrap();
            let ones: usize = got.iter().sum();
            let zeros = N - ones;
            assert!(
                ones > N / 10 && zeros > N / 10,
                "want pseudo-random, got {zeros} zeros and {ones} ones (cap {cap})"
            );
        }
    });
}

/// Go's spec: among ready arms, select chooses uniformly. With k arms
/// always ready, each is chosen within 15% of 1/k over 10,000 selects (the
/// band is about 10 standard deviations: this never fails by chance).
#[test]
fn select_chooses_uniformly_among_ready_arms() {
    both_modes(2, || {
        const TRIALS: usize = 10_000;
        let chans: Vec<(Sender<()>, Receiver<()>)> = (0..4).map(|_| chan::unbounded()).collect();
        for (tx, _) in &chans {
            for _ in 0..TRIALS {
                tx.send(()).unwrap();
            }
        }
        let r: Vec<&Receiver<()>> = chans.iter().map(|c| &c.1).collect();
        let check = |counts: &[usize]| {
            let expect = TRIALS / counts.len();
            for (i, &c) in counts.iter().enumerate() {
                assert!(
                    c.abs_diff(expect) < expect * 15 / 100,
                    "arm {i} of {} chosen {c} times, expected about {expect}: {counts:?}",
                    counts.len()
                );
            }
        };
        let mut two = [0; 2];
        for _ in 0..TRIALS {
            select! {
                recv(r[0]) -> _ => two[0] += 1,
                recv(r[1]) -> _ => two[1] += 1,
            }
        }
        check(&two);
        let mut three = [0; 3];
        for _ in 0..TRIALS {
            select! {
                recv(r[1]) -> _ => three[0] += 1,
                recv(r[2]) -> _ => three[1] += 1,
                recv(r[3]) -> _ => three[2] += 1,
                recv(chan::never::<()>()) -> _ => unreachable!(),
            }
        }
        check(&three);
        // Refill, then four arms through the dynamic Select.
        for (tx, rx) in &chans {
            while rx.len() < TRIALS {
                tx.send(()).unwrap();
            }
        }
        let mut four = [0; 4];
        let mut sel = Select::new();
        for rx in &r {
            sel.recv(rx);
        }
        for _ in 0..TRIALS {
            let oper = sel.select();
            let i = oper.index();
            oper.recv(r[i]).unwrap();
            four[i] += 1;
        }
        check(&four);
    });
}

/// TestSelectDuplicateChannel: one goroutine queued twice on a channel
/// (two arms) and woken through a third must leave that queue intact.
#[test]
fn select_queued_twice_on_one_channel_leaves_queue_intact() {
    both_modes(2, || {
        let (c_tx, c_rx) = chan::bounded::<i32>(0);
        let (d_tx, d_rx) = chan::bounded::<i32>(0);
        let (e_tx, e_rx) = chan::bounded::<i32>(0);
        let (c1, c2) = (c_rx.clone(), c_rx.clone());
        goroutines::go(move || {
            select! {
                recv(c1) -> _ => {},
                recv(c2) -> _ => {},
                recv(d_rx) -> _ => {},
            }
            e_tx.send(9).unwrap();
        });
        sleep(Duration::from_millis(1));
        let b = goroutines::go(move || c_rx.recv().unwrap());
        sleep(Duration::from_millis(1));
        d_tx.send(7).unwrap();
        assert_eq!(e_rx.recv(), Ok(9));
        c_tx.send(8).unwrap();
        assert_eq!(b.join().unwrap(), 8);
    });
}

/// TestMultiConsumer: a feeder, 23 workers and a collector; every value
/// comes out once and the sums agree.
#[test]
fn multi_consumer_pipeline_sums_agree() {
    both_modes(4, || {
        const NWORK: usize = 23;
        const NITER: usize = 27_182;
        const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
        let (q_tx, q_rx) = chan::bounded::<usize>(NWORK * 3);
        let (r_tx, r_rx) = chan::bounded::<usize>(NWORK * 3);
        let wg = WaitGroup::new();
        for w in 0..NWORK {
            let (q_rx, r_tx) = (q_rx.clone(), r_tx.clone());
            wg.go(move || {
                for v in q_rx.iter() {
                    if PN[w % PN.len()] == v {
                        goroutines::yield_now();
                    }
                    r_tx.send(v).unwrap();
                }
            });
        }
        drop((q_rx, r_tx));
        let feeder = goroutines::go(move || {
            let mut expect = 0;
            for i in 0..NITER {
                let v = PN[i % PN.len()];
                expect += v;
                q_tx.send(v).unwrap();
            }
            expect
        });
        let (mut n, mut s) = (0, 0);
        for v in r_rx.iter() {
            n += 1;
            s += v;
        }
        wg.wait();
        assert_eq!((n, s), (NITER, feeder.join().unwrap()));
    });
}

/// Go's nil channel: `never()` arms are never chosen; `select` with only
/// them and a timeout times out.
#[test]
fn never_arms_are_never_ready() {
    both_modes(2, || {
        let n = chan::never::<i32>();
        let (tx, rx) = chan::bounded(1);
        tx.send(5).unwrap();
        for _ in 0..100 {
            select! {
                recv(n) -> _ => unreachable!(),
                default => {}
            }
        }
        select! {
            recv(n) -> _ => unreachable!(),
            recv(rx) -> v => assert_eq!(v, Ok(5)),
        }
        let t = std::time::Instant::now();
        select! {
            recv(n) -> _ => unreachable!(),
            default(Duration::from_millis(10)) => {}
        }
        assert!(t.elapsed() >= Duration::from_millis(10));
        assert_eq!(n.try_recv(), Err(TryRecvError::Empty));
    });
}

/// Timeouts: a select with a deadline returns the arm that becomes ready
/// before it, and `default(timeout)` after it.
#[test]
fn select_timeout_fires_only_when_nothing_arrives() {
    both_modes(2, || {
        let (tx, rx) = chan::bounded::<u32>(0);
        goroutines::go(move || {
            sleep(Duration::from_millis(5));
            tx.send(1).unwrap();
        });
        select! {
            recv(rx) -> v => assert_eq!(v, Ok(1)),
            default(Duration::from_secs(10)) => panic!("timed out with a sender on the way"),
        }
        let t = std::time::Instant::now();
        select! {
            recv(rx) -> v => assert_eq!(v, Err(RecvError)), // sender gone
            default(Duration::from_secs(10)) => panic!("disconnection not seen"),
        }
        assert!(t.elapsed() < Duration::from_secs(5));
        let (_tx, rx) = chan::bounded::<u32>(0);
        let t = std::time::Instant::now();
        select! {
            recv(rx) -> _ => unreachable!(),
            default(Duration::from_millis(15)) => {}
        }
        assert!(t.elapsed() >= Duration::from_millis(15));
    });
}

/// Timer channels in a select: `after` fires once, `tick` repeatedly, and a
/// ready channel still wins before them.
#[test]
fn after_and_tick_arms_fire_in_select() {
    both_modes(2, || {
        let (tx, rx) = chan::bounded::<u32>(1);
        tx.send(3).unwrap();
        select! {
            recv(rx) -> v => assert_eq!(v, Ok(3)),
            recv(chan::after(Duration::from_secs(10))) -> _ => panic!("timer beat a ready channel"),
        }
        let t = std::time::Instant::now();
        select! {
            recv(rx) -> _ => unreachable!(),
            recv(chan::after(Duration::from_millis(10))) -> v => assert!(v.is_ok()),
        }
        assert!(t.elapsed() >= Duration::from_millis(10));
        let ticks = chan::tick(Duration::from_millis(2));
        for _ in 0..3 {
            select! {
                recv(ticks) -> v => assert!(v.is_ok()),
                default(Duration::from_secs(10)) => panic!("tick did not fire"),
            }
        }
    });
}

/// A select send arm parked on a rendezvous channel is completed by a
/// receiver that arrives later (the reservation path).
#[test]
fn select_send_arm_waits_for_a_late_receiver() {
    both_modes(2, || {
        for cap in [0, 1] {
            let (tx, rx) = chan::bounded::<u32>(cap);
            if cap == 1 {
                tx.send(0).unwrap();
            }
            let h = goroutines::go(move || {
                sleep(Duration::from_millis(2));
                let mut got = Vec::new();
                for _ in 0..=cap {
                    got.push(rx.recv().unwrap());
                }
                got
            });
            select! {
                send(tx, 42) -> r => r.unwrap(),
                recv(chan::never::<u32>()) -> _ => unreachable!(),
            }
            let got = h.join().unwrap();
            assert_eq!(*got.last().unwrap(), 42);
        }
    });
}

/// Plain OS threads and goroutines talk in both directions, through every
/// flavour and through select.
#[test]
fn os_threads_and_goroutines_talk_both_ways() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    for cap in [0, 1, 16] {
        let (to_g, from_t) = chan::bounded::<u32>(cap);
        let (to_t, from_g) = chan::bounded::<u32>(cap);
        let echo = rt.go(move || {
            for v in from_t.iter() {
                to_t.send(v * 2).unwrap();
            }
        });
        let thread = std::thread::spawn(move || {
            for i in 0..500 {
                to_g.send(i).unwrap();
                select! {
                    recv(from_g) -> v => assert_eq!(v, Ok(i * 2)),
                    default(Duration::from_secs(10)) => panic!("goroutine did not answer"),
                }
            }
        });
        thread.join().unwrap();
        echo.join().unwrap();
    }
}
