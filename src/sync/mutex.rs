//! `Mutex<T>`: Go's `sync.Mutex` (`sync/mutex.go`) holding its data, with
//! Go's two modes.
//!
//! * **Normal mode**: waiters queue FIFO on a [`Sema`], but a woken waiter
//!   does not own the mutex: it competes with goroutines that are arriving
//!   (and that are already running, so they usually win: barging keeps the
//!   lock hot). A waiter that loses goes back to the *front* of the queue.
//! * **Starvation mode**: entered when a waiter has waited more than 1 ms.
//!   Unlock then hands the mutex directly to the first waiter; arrivals do
//!   not try to take it and queue at the back. The mode ends when the last
//!   waiter is served, or a waiter that waited less than 1 ms is served.
//!
//! `state` bits, as in Go: `LOCKED`; `WOKEN` (a waiter was woken or a
//! spinner is about to take the lock: unlock need not wake another);
//! `STARVING`; and the number of queued waiters from `WAITER_SHIFT` up. In
//! starvation mode, ownership passes with `LOCKED` clear until the new owner
//! sets it.

use super::sema::Sema;
use crate::scheduler::g::WaitReason;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const LOCKED: usize = 1;
const WOKEN: usize = 2;
const STARVING: usize = 4;
const WAITER_SHIFT: u32 = 3;
const ONE_WAITER: usize = 1 << WAITER_SHIFT;
const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// A mutual-exclusion lock that parks goroutines (not threads) while they
/// wait; see the [module docs](crate::sync) for why it does not poison.
///
/// ```
/// use goroutines::sync::{Mutex, WaitGroup};
/// use std::sync::Arc;
///
/// goroutines::run(|| {
///     let total = Arc::new(Mutex::new(0u64));
///     let wg = WaitGroup::new();
///     for i in 0..100 {
///         let total = total.clone();
///         wg.go(move || *total.lock() += i);
///     }
///     wg.wait();
///     assert_eq!(*total.lock(), 4950);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    /// See the module docs. Changed only by CAS/atomic adds.
    state: AtomicUsize,
    /// Where waiters park.
    sema: Sema,
    /// Accessed only by the holder of the lock.
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one party at a time access to `data`; T moves
// between threads with the lock, so T: Send suffices (as for std's Mutex).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Proof of holding a [`Mutex`]; unlocks when dropped. Unlike std's, it may
/// be sent to another thread (and so be held across a park in Go mode):
/// unlocking does not depend on the thread.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(super) mutex: &'a Mutex<T>,
    /// Send iff T: Send, Sync iff T: Sync, as `&mut T`.
    _data: PhantomData<&'a mut T>,
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicUsize::new(0),
            sema: Sema::new(),
            data: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the goroutine (or blocking the thread) while another
    /// holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        crate::chan::preempt_point();
        // Acquire pairs with unlock's Release: the previous holder's writes
        // are visible to us.
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        self.guard()
    }

    /// Locks if nobody holds the lock and nobody is being handed it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & (LOCKED | STARVING) != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                old,
                old | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.guard()),
                Err(actual) => old = actual,
            }
        }
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _data: PhantomData,
        }
    }

    /// Go's `lockSlow`, step for step.
    fn lock_slow(&self) {
        let mut wait_start: Option<Instant> = None;
        let mut starving = false;
        let mut awoke = false;
        let mut iter = 0;
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            // Spin a little while the lock is held in normal mode: the
            // holder may be about to release it. Tell unlock not to wake a
            // waiter meanwhile (WOKEN).
            if old & (LOCKED | STARVING) == LOCKED && iter < 4 {
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                for _ in 0..30 {
                    std::hint::spin_loop();
                }
                iter += 1;
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut new = old;
            // Do not grab a starving mutex: it goes to the queue's head.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += ONE_WAITER;
            }
            // Switch to starvation mode, if the mutex is still held (an
            // unlocked mutex in starvation mode would confuse unlock).
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                assert!(new & WOKEN != 0, "sync: inconsistent mutex state");
                new &= !WOKEN;
            }
            // Acquire: if this CAS takes the lock, it pairs with unlock.
            if self
                .state
                .compare_exchange(old, new, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            if old & (LOCKED | STARVING) == 0 {
                return; // took it with the CAS
            }
            // A waiter that already waited goes back to the front.
            let lifo = wait_start.is_some();
            let started = *wait_start.get_or_insert_with(Instant::now);
            self.sema.acquire(lifo, WaitReason::Mutex);
            starving = starving || started.elapsed() > STARVATION_THRESHOLD;
            old = self.state.load(Ordering::Acquire);
            if old & STARVING != 0 {
                // Handed to us directly: we own it, LOCKED still clear.
                assert!(
                    old & (LOCKED | WOKEN) == 0 && old >> WAITER_SHIFT != 0,
                    "sync: inconsistent mutex state"
                );
                let mut delta = LOCKED.wrapping_sub(ONE_WAITER);
                if !starving || old >> WAITER_SHIFT == 1 {
                    // Leave starvation mode: we waited briefly, or nobody
                    // is left to starve.
                    delta = delta.wrapping_sub(STARVING);
                }
                self.state.fetch_add(delta, Ordering::Acquire);
                return;
            }
            awoke = true;
            iter = 0;
        }
    }

    /// Go's `Unlock`.
    fn unlock(&self) {
        // Release pairs with the next locker's Acquire.
        let new = self.state.fetch_sub(LOCKED, Ordering::Release) - LOCKED;
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    fn unlock_slow(&self, new: usize) {
        if (new + LOCKED) & LOCKED == 0 {
            crate::fatal(format_args!("sync: unlock of unlocked mutex"));
        }
        if new & STARVING == 0 {
            let mut old = new;
            loop {
                // Nobody to wake, or someone is already woken, has the lock
                // or it is being handed off: nothing to do.
                if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                    return;
                }
                let new = (old - ONE_WAITER) | WOKEN;
                match self
                    .state
                    .compare_exchange(old, new, Ordering::Release, Ordering::Relaxed)
                {
                    Ok(_) => {
                        self.sema.release();
                        return;
                    }
                    Err(actual) => old = actual,
                }
            }
        } else {
            // Starvation mode: hand ownership to the first waiter and let it
            // run at once (it is in this P's runnext).
            self.sema.release();
            crate::yield_now();
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, and is borrowed
        // mutably.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
