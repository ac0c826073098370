//! The rendezvous flavour, `bounded(0)`: Go's unbuffered channel
//! (`runtime/chan.go`, the `c.dataqsiz == 0` paths). No buffer: a value
//! passes straight from a sender to a receiver, one of which waits for the
//! other in a queue.
//!
//! Invariants, under `inner`'s lock:
//! * At most one of `senders` and `receivers` holds live (unclaimed)
//!   entries of different owners: an arriving sender takes a waiting
//!   receiver before it would queue, and vice versa. (A `select` with both
//!   a send and a receive arm on one channel may sit in both.)
//! * Once `closed` is set, both queues are empty of live entries and stay
//!   so: `close` claims every entry with `Disconnected`.
//!
//! Hand-off: the active side claims the waiting side's [`Wait`], moves the
//! value through the waiter's packet (a sender's value, or a receiver's
//! empty slot) and wakes it; the woken goroutine finds its operation done.
//! A blocking operation keeps `inner`'s lock until it has switched out
//! (`wait.rs`, `Wait::park_locked`), so whoever finds its entry finds it
//! parked. The woken goroutine goes to the waker's `runnext`, and when the
//! waker parks in turn its M switches straight to it (a ping-pong never
//! passes through the scheduler loop; `scheduler/m.rs`).
//!
//! A `select` send arm queues without a value (its value is produced only
//! once the arm is chosen). A receiver that meets one claims it with
//! `Retry`, which makes that select poll again and find the receiver, now
//! queued, ready to be reserved.

use super::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use super::select::Reservation;
use super::wait::{
    disconnect_both_in_batches, expired, park_recv, park_send, ClaimList, Entry, Outcome, SendNow,
    Wait, WaitQueue,
};
use crate::scheduler::lock::{Lock, LockGuard};
use std::ops::ControlFlow;
use std::time::Instant;

struct Inner<T> {
    senders: WaitQueue<T>,
    receivers: WaitQueue<T>,
    closed: bool,
}

pub(crate) struct Channel<T> {
    /// All channel state; held only for queue and flag updates (a blocking
    /// operation releases it once its goroutine has switched out), never
    /// while a goroutine sleeps or while touching a claimed owner's packet.
    inner: Lock<Inner<T>>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Channel<T> {
        Channel {
            inner: Lock::new(Inner {
                senders: WaitQueue::new(),
                receivers: WaitQueue::new(),
                closed: false,
            }),
        }
    }

    fn lock(&self) -> LockGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    /// The non-waiting part of a send: closed, then a parked receiver to
    /// hand the value to. With no receiver, the lock stays held so that a
    /// blocking send queues under it.
    fn send_now(
        mut inner: LockGuard<'_, Inner<T>>,
        value: T,
    ) -> SendNow<LockGuard<'_, Inner<T>>, T> {
        if inner.closed {
            return SendNow::Closed(value);
        }
        match inner.receivers.claim_first(|_| Outcome::Selected) {
            Some(receiver) => {
                drop(inner);
                receiver.deliver(value);
                SendNow::Sent
            }
            None => SendNow::Full(inner, value),
        }
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match Self::send_now(self.lock(), value) {
            SendNow::Sent => Ok(()),
            SendNow::Closed(v) => Err(TrySendError::Disconnected(v)),
            SendNow::Full(_, v) => Err(TrySendError::Full(v)),
        }
    }

    pub(crate) fn send(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut value = value;
        loop {
            let mut inner = match Self::send_now(self.lock(), value) {
                SendNow::Sent => return Ok(()),
                SendNow::Closed(v) => return Err(SendTimeoutError::Disconnected(v)),
                SendNow::Full(inner, v) => {
                    value = v;
                    inner
                }
            };
            if expired(deadline) {
                return Err(SendTimeoutError::Timeout(value));
            }
            let enqueue = |entry| {
                inner.senders.push_back(entry);
                inner
            };
            match park_send(value, deadline, enqueue, |me| {
                self.lock().senders.remove(me)
            }) {
                ControlFlow::Break(result) => return result,
                ControlFlow::Continue(v) => value = v,
            }
        }
    }

    /// Takes a waiting sender's value. Valueless select senders met on the
    /// way are claimed with `Retry` and returned to be completed.
    fn take_sender(inner: &mut Inner<T>, retries: &mut ClaimList<T>) -> Option<T> {
        loop {
            let mut sender = inner.senders.claim_first(|e| {
                if e.is_valueless() {
                    Outcome::Retry
                } else {
                    Outcome::Selected
                }
            })?;
            match sender.take_value() {
                Some(v) => return Some(v),
                None => retries.push(sender),
            }
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut retries = ClaimList::new();
        let mut inner = self.lock();
        let got = Self::take_sender(&mut inner, &mut retries);
        let closed = inner.closed;
        drop(inner);
        drop(retries);
        match got {
            Some(v) => Ok(v),
            None if closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut retries = ClaimList::new();
            let mut inner = self.lock();
            if let Some(v) = Self::take_sender(&mut inner, &mut retries) {
                drop(inner);
                return Ok(v);
            }
            if inner.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            if expired(deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
            let enqueue = |entry| {
                inner.receivers.push_back(entry);
                // Released in this order: the select senders we passed over
                // are woken only once we are visibly queued, so that their
                // retry finds us.
                (inner, retries)
            };
            if let ControlFlow::Break(result) =
                park_recv(deadline, enqueue, |me| self.lock().receivers.remove(me))
            {
                return result;
            }
        }
    }

    /// Go's `close`: true if this call closed the channel.
    pub(crate) fn close(&self) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        inner.closed = true;
        disconnect_both_in_batches(
            inner,
            || self.lock(),
            |inner| (&mut inner.senders, &mut inner.receivers),
        );
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    // --- select support (see select.rs) ---

    /// A send reservation if one is possible now.
    pub(crate) fn try_reserve(&self) -> Option<Reservation<T>> {
        let mut inner = self.lock();
        if inner.closed {
            return Some(Reservation::Disconnected);
        }
        inner
            .receivers
            .claim_first(|_| Outcome::Selected)
            .map(Reservation::Hand)
    }

    /// Queues a select receive arm, unless the channel is ready now.
    pub(crate) fn register_recv(&self, entry: Entry<T>, me: &Wait) -> bool {
        let mut inner = self.lock();
        if inner.closed || inner.senders.has_live_other(me) {
            return false;
        }
        inner.receivers.push_back(entry);
        true
    }

    /// Queues a select send arm (valueless), unless the channel is ready now.
    pub(crate) fn register_send(&self, entry: Entry<T>, me: &Wait) -> bool {
        let mut inner = self.lock();
        if inner.closed || inner.receivers.has_live_other(me) {
            return false;
        }
        inner.senders.push_back(entry);
        true
    }

    pub(crate) fn unregister(&self, me: &Wait) {
        let mut inner = self.lock();
        inner.senders.remove(me);
        inner.receivers.remove(me);
    }
}
