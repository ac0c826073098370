//! `Condvar`: Go's `sync.Cond`, shaped like std's `Condvar`, for this
//! module's [`Mutex`].
//!
//! A waiter queues its [`Wait`](crate::chan::wait::Wait) *before* it
//! unlocks the mutex, so a notification sent after the waiter checked its
//! condition (under the mutex) always finds it: no lost wake-ups.
//! `notify_one` wakes the longest waiter, `notify_all` every waiter queued
//! at that moment.

use super::mutex::MutexGuard;
use crate::chan::wait::{ClaimList, Entry, Outcome, WaitCell, WaitQueue};
use crate::scheduler::g::WaitReason;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Waits for a condition on data under a [`Mutex`](super::Mutex),
/// parking goroutines.
///
/// ```
/// use goroutines::sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// goroutines::run(|| {
///     let pair = Arc::new((Mutex::new(false), Condvar::new()));
///     let pair2 = pair.clone();
///     goroutines::go(move || {
///         *pair2.0.lock() = true;
///         pair2.1.notify_one();
///     });
///     let (ready, cv) = &*pair;
///     let guard = cv.wait_while(ready.lock(), |ready| !*ready);
///     assert!(*guard);
/// });
/// ```
pub struct Condvar {
    /// Waiting goroutines and threads, oldest first. Held only to queue,
    /// claim or remove, never while parked.
    waiters: Mutex<WaitQueue<()>>,
}

/// Whether a timed wait ended by timing out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    pub const fn new() -> Condvar {
        Condvar {
            waiters: Mutex::new(WaitQueue::new()),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, WaitQueue<()>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unlocks, waits for a notification, locks again. Like Go's
    /// `Cond.Wait`, recheck the condition after waking (or use
    /// [`wait_while`](Condvar::wait_while)).
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until(guard, None).0
    }

    /// Waits while `condition` holds.
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// As [`wait`](Condvar::wait), for at most `timeout`.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_until(guard, Instant::now().checked_add(timeout))
    }

    fn wait_until<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = guard.mutex;
        let cell = WaitCell::new(deadline);
        self.queue()
            .push_back(Entry::new(cell.get(), 0, std::ptr::null_mut()));
        drop(guard);
        let (outcome, _) = cell.park(WaitReason::Condvar, deadline);
        if outcome != Outcome::Selected {
            self.queue().remove(cell.get());
        }
        (
            mutex.lock(),
            WaitTimeoutResult(outcome == Outcome::TimedOut),
        )
    }

    /// Wakes the longest-waiting waiter, if any.
    pub fn notify_one(&self) {
        let waiter = self.queue().claim_first(|_| Outcome::Selected);
        drop(waiter);
    }

    /// Wakes every current waiter.
    pub fn notify_all(&self) {
        let mut all = ClaimList::new();
        self.queue().claim_all(Outcome::Selected, &mut all);
        drop(all);
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
