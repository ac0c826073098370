//! Loom models of the channel algorithms (`RUSTFLAGS="--cfg loom" cargo
//! test --release --lib loom`).
//!
//! What is modelled: the real flavour code (locks, queues, the `Wait`
//! claim CAS and the PARKED/DONE handshake, the lock kept across a plain
//! operation's park and its CAS-free claim, select registration and abort,
//! reservations) with loom threads as the owners, through `wait.rs`'s loom
//! stand-in for park/ready: `unlock` runs, then the thread sleeps until its
//! one permit is set, the plain-thread semantics of the real `park`. A
//! deadline is modelled as a timer firing as the owner parks, racing the
//! peers' claims.
//!
//! What is not: the scheduler side of park/ready (a goroutine switching to
//! g0 before `unlock` runs, run queues), which uses std atomics and a futex
//! and is covered by the scheduler's own tests; `select`'s random order
//! (fixed under loom so executions replay).

use super::{bounded, Select};
use crate::chan::{RecvError, RecvTimeoutError};
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(f);
}

/// A rendezvous send meets a receive: the value arrives once, nobody
/// sleeps for good, whichever side parks first.
#[test]
fn loom_rendezvous_hands_off_exactly_once() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(rx.recv(), Ok(7));
        t.join().unwrap();
    });
}

/// Two threads bounce a value over two rendezvous channels, each blocking
/// operation keeping its channel's lock until its park's `unlock` and
/// claimed without a CAS: every value arrives once, nobody sleeps for good.
#[test]
fn loom_rendezvous_ping_pong_round_trips() {
    model(|| {
        let (ping_tx, ping_rx) = bounded::<u32>(0);
        let (pong_tx, pong_rx) = bounded::<u32>(0);
        let t = thread::spawn(move || {
            while let Ok(v) = ping_rx.recv() {
                pong_tx.send(v + 1).unwrap();
            }
        });
        ping_tx.send(1).unwrap();
        assert_eq!(pong_rx.recv(), Ok(2));
        drop(ping_tx);
        t.join().unwrap();
    });
}

/// A plain receiver (claimed under the lock, no CAS) and a select receiver
/// (claimed by CAS) wait on one rendezvous channel; one value and a close
/// end both waits, each exactly once.
#[test]
fn loom_plain_and_select_receivers_share_a_queue() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let plain_rx = rx.clone();
        let plain = thread::spawn(move || plain_rx.recv().ok());
        let selecting = thread::spawn(move || {
            let mut sel = Select::new();
            sel.recv(&rx);
            let oper = sel.select();
            oper.recv(&rx).ok()
        });
        tx.send(3).unwrap();
        tx.close();
        let got: Vec<u32> = [plain.join().unwrap(), selecting.join().unwrap()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(got, [3]);
    });
}

/// `close` racing a receiver that may or may not be parked yet.
#[test]
fn loom_close_wakes_a_parking_receiver() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || {
            tx.close();
        });
        assert_eq!(rx.recv(), Err(RecvError));
        t.join().unwrap();
    });
}

/// A sender parked on a full ring is moved into the slot the receiver
/// frees; order is kept.
#[test]
fn loom_full_ring_admits_the_parked_sender() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        tx.send(1).unwrap();
        let t = thread::spawn(move || tx.send(2).unwrap());
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        t.join().unwrap();
    });
}

/// Two senders race to complete one select: exactly one arm is taken, the
/// other value stays in its channel.
#[test]
fn loom_select_is_claimed_exactly_once() {
    model(|| {
        let (a_tx, a_rx) = bounded::<u32>(1);
        let (b_tx, b_rx) = bounded::<u32>(1);
        let ta = thread::spawn(move || a_tx.send(1).unwrap());
        let tb = thread::spawn(move || b_tx.send(2).unwrap());
        let mut sel = Select::new();
        sel.recv(&a_rx);
        sel.recv(&b_rx);
        let oper = sel.select();
        let (first, other) = if oper.index() == 0 {
            (oper.recv(&a_rx), &b_rx)
        } else {
            (oper.recv(&b_rx), &a_rx)
        };
        let second = other.recv();
        let mut got = [first.unwrap(), second.unwrap()];
        got.sort();
        assert_eq!(got, [1, 2]);
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// A select send arm on a rendezvous channel (valueless while queued)
/// meets a receiver: through `Retry` and the reservation, the value is
/// delivered once.
#[test]
fn loom_select_send_reserves_a_rendezvous_receiver() {
    model(|| {
        let (tx, rx) = bounded::<u32>(0);
        let t = thread::spawn(move || rx.recv());
        let mut sel = Select::new();
        sel.send(&tx);
        let oper = sel.select();
        oper.send(&tx, 9).unwrap();
        assert_eq!(t.join().unwrap(), Ok(9));
    });
}

/// A timeout racing a delivery: either the receiver gets the value, or it
/// times out and the value is still in the channel.
#[test]
fn loom_timeout_racing_delivery_loses_nothing() {
    model(|| {
        let (tx, rx) = bounded::<u32>(1);
        let t = thread::spawn(move || tx.send(5).unwrap());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        match rx.recv_deadline(deadline) {
            Ok(v) => assert_eq!(v, 5),
            Err(RecvTimeoutError::Timeout) => {
                t.join().unwrap();
                assert_eq!(rx.try_recv(), Ok(5));
                return;
            }
            Err(e) => panic!("{e:?}"),
        }
        t.join().unwrap();
    });
}
