//! The bounded flavour, `bounded(n)` with `n >= 1`: Go's buffered channel
//! (`runtime/chan.go`, the `c.dataqsiz > 0` paths): a fixed ring of `cap`
//! values under the channel lock, with queues of parked senders (buffer
//! full) and receivers (buffer empty).
//!
//! Invariants, restored by [`Inner::settle`] before every unlock:
//! * `buf.len() + reserved <= cap`. `reserved` counts slots promised to
//!   `select` send arms that were chosen and have not sent yet.
//! * If `buf` is not empty, `receivers` has no live entries: a value is
//!   handed to a waiting receiver before it would be buffered.
//! * If there is room, `senders` has no live entries: a waiting sender's
//!   value moves into the buffer (or a valueless select arm gets a
//!   reservation) as soon as a slot frees.
//! * Once `closed`, both queues are empty of live entries.
//!
//! Direct hand-off, as in Go: a sender that finds a parked receiver (the
//! buffer is then empty) writes into the receiver's packet and wakes it; a
//! receiver that frees a slot moves the first parked sender's value into
//! the ring and wakes that sender.

use super::error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
use super::select::Reservation;
use super::wait::{
    disconnect_both_in_batches, expired, park_recv, park_send, ClaimList, Entry, Outcome, SendNow,
    Wait, WaitQueue,
};
use crate::scheduler::lock::{Lock, LockGuard};
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::Instant;

struct Inner<T> {
    buf: VecDeque<T>,
    reserved: usize,
    senders: WaitQueue<T>,
    receivers: WaitQueue<T>,
    closed: bool,
}

impl<T> Inner<T> {
    fn has_room(&self, cap: usize) -> bool {
        self.buf.len() + self.reserved < cap
    }

    /// Restores the invariants in the module docs after a change: buffered
    /// values go to waiting receivers, waiting senders fill free room.
    fn settle(&mut self, cap: usize, done: &mut ClaimList<T>) {
        loop {
            while !self.buf.is_empty() {
                match self.receivers.claim_first(|_| Outcome::Selected) {
                    Some(mut r) => {
                        r.put(self.buf.pop_front().expect("checked non-empty"));
                        done.push(r);
                    }
                    None => break,
                }
            }
            if !self.has_room(cap) {
                return;
            }
            let Some(mut s) = self.senders.claim_first(|_| Outcome::Selected) else {
                return;
            };
            match s.take_value() {
                Some(v) => self.buf.push_back(v),
                None => self.reserved += 1,
            }
            done.push(s);
        }
    }
}

pub(crate) struct Channel<T> {
    cap: usize,
    /// All channel state; held only for buffer, queue and flag updates (a
    /// blocking operation releases it once its goroutine has switched out,
    /// `wait.rs`), never while a goroutine sleeps.
    inner: Lock<Inner<T>>,
}

impl<T> Channel<T> {
    pub(crate) fn new(cap: usize) -> Channel<T> {
        assert!(cap > 0, "the array flavour needs capacity");
        Channel {
            cap,
            inner: Lock::new(Inner {
                buf: VecDeque::with_capacity(cap.min(1024)),
                reserved: 0,
                senders: WaitQueue::new(),
                receivers: WaitQueue::new(),
                closed: false,
            }),
        }
    }

    fn lock(&self) -> LockGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    /// The non-waiting part of a send, in Go's order: closed, then a parked
    /// receiver (the buffer is then empty), then room in the buffer. When
    /// full, the lock stays held so that a blocking send queues under it.
    fn send_now<'a>(
        &'a self,
        mut inner: LockGuard<'a, Inner<T>>,
        value: T,
    ) -> SendNow<LockGuard<'a, Inner<T>>, T> {
        if inner.closed {
            return SendNow::Closed(value);
        }
        if let Some(receiver) = inner.receivers.claim_first(|_| Outcome::Selected) {
            drop(inner);
            receiver.deliver(value);
            return SendNow::Sent;
        }
        if inner.has_room(self.cap) {
            inner.buf.push_back(value);
            return SendNow::Sent;
        }
        SendNow::Full(inner, value)
    }

    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.send_now(self.lock(), value) {
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
            let mut inner = match self.send_now(self.lock(), value) {
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

    /// Pops the head of the buffer, letting a parked sender in behind it.
    fn pop(&self, inner: &mut Inner<T>, done: &mut ClaimList<T>) -> Option<T> {
        let v = inner.buf.pop_front()?;
        inner.settle(self.cap, done);
        Some(v)
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut done = ClaimList::new();
        let mut inner = self.lock();
        let got = self.pop(&mut inner, &mut done);
        let closed = inner.closed;
        drop(inner);
        drop(done);
        match got {
            Some(v) => Ok(v),
            None if closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut done = ClaimList::new();
            let mut inner = self.lock();
            if let Some(v) = self.pop(&mut inner, &mut done) {
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
                inner
            };
            if let ControlFlow::Break(result) =
                park_recv(deadline, enqueue, |me| self.lock().receivers.remove(me))
            {
                return result;
            }
        }
    }

    /// Go's `close`: true if this call closed the channel. Buffered values
    /// stay for receivers to drain.
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

    /// The last receiver left: close, and drop what nobody can receive.
    pub(crate) fn disconnect_receivers(&self) {
        self.close();
        let buf = std::mem::take(&mut self.lock().buf);
        drop(buf);
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
        if let Some(r) = inner.receivers.claim_first(|_| Outcome::Selected) {
            return Some(Reservation::Hand(r));
        }
        if inner.has_room(self.cap) {
            inner.reserved += 1;
            return Some(Reservation::Capacity);
        }
        None
    }

    /// Sends into a slot reserved earlier.
    pub(crate) fn send_reserved(&self, value: T) -> Result<(), SendError<T>> {
        let mut done = ClaimList::new();
        let mut inner = self.lock();
        inner.reserved -= 1;
        if inner.closed {
            return Err(SendError(value));
        }
        inner.buf.push_back(value);
        inner.settle(self.cap, &mut done);
        drop(inner);
        drop(done);
        Ok(())
    }

    /// Gives a reserved slot back unused.
    pub(crate) fn release_reserved(&self) {
        let mut done = ClaimList::new();
        let mut inner = self.lock();
        inner.reserved -= 1;
        inner.settle(self.cap, &mut done);
        drop(inner);
        drop(done);
    }

    /// Queues a select receive arm, unless the channel is ready now.
    pub(crate) fn register_recv(&self, entry: Entry<T>, _me: &Wait) -> bool {
        let mut inner = self.lock();
        if inner.closed || !inner.buf.is_empty() {
            return false;
        }
        inner.receivers.push_back(entry);
        true
    }

    /// Queues a select send arm (valueless), unless the channel is ready now.
    pub(crate) fn register_send(&self, entry: Entry<T>, me: &Wait) -> bool {
        let mut inner = self.lock();
        if inner.closed || inner.has_room(self.cap) || inner.receivers.has_live_other(me) {
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
