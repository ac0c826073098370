//! The unbounded flavour, `unbounded()`: Go's buffered channel with no
//! limit (a growable ring, `VecDeque`, under the channel lock) and a queue
//! of parked receivers. Sending never blocks.
//!
//! Invariants, under `inner`'s lock:
//! * If `buf` is not empty, `receivers` has no live entries: a sender hands
//!   its value to the first waiting receiver (writing into its packet and
//!   waking it) before it would buffer it.
//! * Once `closed`, `receivers` is empty of live entries.

use super::error::{RecvTimeoutError, SendError, TryRecvError};
use super::wait::{disconnect_in_batches, expired, park_recv, Entry, Outcome, Wait, WaitQueue};
use crate::scheduler::lock::{Lock, LockGuard};
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::Instant;

struct Inner<T> {
    buf: VecDeque<T>,
    receivers: WaitQueue<T>,
    closed: bool,
}

pub(crate) struct Channel<T> {
    /// All channel state; never held while a goroutine sleeps (a blocking
    /// receive releases it once its goroutine has switched out, `wait.rs`).
    inner: Lock<Inner<T>>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Channel<T> {
        Channel {
            inner: Lock::new(Inner {
                buf: VecDeque::new(),
                receivers: WaitQueue::new(),
                closed: false,
            }),
        }
    }

    fn lock(&self) -> LockGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    pub(crate) fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(SendError(value));
        }
        match inner.receivers.claim_first(|_| Outcome::Selected) {
            Some(receiver) => {
                drop(inner);
                receiver.deliver(value);
            }
            None => inner.buf.push_back(value),
        }
        Ok(())
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut inner = self.lock();
        match inner.buf.pop_front() {
            Some(v) => Ok(v),
            None if inner.closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut inner = self.lock();
            if let Some(v) = inner.buf.pop_front() {
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
        disconnect_in_batches(
            inner,
            || self.lock(),
            |inner, claims, budget| inner.receivers.disconnect_some(claims, budget),
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

    // --- select support (see select.rs); sends are always ready ---

    /// Queues a select receive arm, unless the channel is ready now.
    pub(crate) fn register_recv(&self, entry: Entry<T>, _me: &Wait) -> bool {
        let mut inner = self.lock();
        if inner.closed || !inner.buf.is_empty() {
            return false;
        }
        inner.receivers.push_back(entry);
        true
    }

    pub(crate) fn unregister(&self, me: &Wait) {
        self.lock().receivers.remove(me);
    }
}
