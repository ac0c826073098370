//! `WaitGroup`: Go's `sync.WaitGroup`: wait for a set of goroutines.
//!
//! The counter is one atomic (the fast path of `add`/`done`); waiters queue
//! under `waiters`' lock. The waker that brings the counter to zero takes
//! that lock *after* the counter reached zero, and a waiter re-reads the
//! counter under the lock before queueing, so no waiter can queue after the
//! last wake-up pass and sleep for good.

use crate::chan::wait::{ClaimList, Entry, Outcome, WaitCell, WaitQueue};
use crate::scheduler::g::WaitReason;
use crate::JoinHandle;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Waits until a counter of outstanding work drops to zero. Clones share
/// the counter.
///
/// ```
/// use goroutines::sync::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// goroutines::run(|| {
///     let wg = WaitGroup::new();
///     let hits = Arc::new(AtomicUsize::new(0));
///     for _ in 0..10 {
///         let hits = hits.clone();
///         wg.go(move || hits.fetch_add(1, Ordering::Relaxed));
///     }
///     wg.wait();
///     assert_eq!(hits.load(Ordering::Relaxed), 10);
/// });
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    /// Outstanding work. Never observed negative without a panic.
    count: AtomicI64,
    /// Parked `wait` callers. Held only to queue, claim or remove.
    waiters: Mutex<WaitQueue<()>>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            count: AtomicI64::new(0),
            waiters: Mutex::new(WaitQueue::new()),
        }
    }
}

/// Calls `done` when dropped: after `go`'s closure returns or unwinds.
struct DoneOnDrop(WaitGroup);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done();
    }
}

impl WaitGroup {
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `delta` (which may be negative) to the counter; waiters wake
    /// when it reaches zero.
    ///
    /// # Panics
    /// If the counter would go below zero.
    #[track_caller]
    pub fn add(&self, delta: i64) {
        // AcqRel: the work of every `done` happens before a waiter returns.
        let prev = self.inner.count.fetch_add(delta, Ordering::AcqRel);
        let now = prev + delta;
        if now < 0 {
            self.inner.count.fetch_sub(delta, Ordering::AcqRel);
            panic!(
                "goroutines::sync::WaitGroup: negative counter \
                 (done() called more often than add(), or add({delta}) with a count of {prev})"
            );
        }
        if now == 0 && delta != 0 {
            let mut woken = ClaimList::new();
            self.waiters().claim_all(Outcome::Selected, &mut woken);
            drop(woken);
        }
    }

    /// Subtracts one: a unit of work is finished.
    #[track_caller]
    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits until the counter is zero.
    pub fn wait(&self) {
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut waiters = self.waiters();
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let cell = WaitCell::new(None);
        waiters.push_back(Entry::new(cell.get(), 0, std::ptr::null_mut()));
        drop(waiters);
        cell.park(WaitReason::WaitGroup, None);
    }

    /// Adds one, runs `f` in a new goroutine, and calls `done` when `f`
    /// returns or panics (Go 1.25's `WaitGroup.Go`).
    #[track_caller]
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.add(1);
        let done = DoneOnDrop(self.clone());
        crate::go(move || {
            let _done = done;
            f()
        })
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, WaitQueue<()>> {
        self.inner.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.inner.count.load(Ordering::Relaxed))
            .finish()
    }
}
