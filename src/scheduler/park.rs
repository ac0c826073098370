//! `park` and `ready`: the one pair everything that blocks is built on.
//!
//! * A [`Waiter`] names what to wake: the current goroutine, or, when called
//!   from a plain OS thread, that thread. Wait queues (channels, mutexes,
//!   joins, timers, the poller) store `Waiter`s.
//! * [`park`] suspends the current goroutine (its M runs others meanwhile)
//!   or blocks the current thread, until its waiter is woken.
//! * [`Waiter::wake`] is Go's `goready`: a goroutine goes to the waker's P
//!   (`runnext`), to its home P, or to the global queue; a thread is
//!   unparked.
//!
//! The protocol, as in Go's `gopark(unlockf, ...)`:
//! 1. The caller creates a `Waiter`, publishes it (usually in a wait queue,
//!    under a lock), and calls `park(reason, unlock)`.
//! 2. For a goroutine, `unlock` runs *after* the goroutine has switched
//!    out: on the M's scheduler stack (g0), or, for [`park_passing`], on
//!    the stack of the goroutine the M switched to directly (`m.rs`,
//!    `park_current`), before that one runs its own code. So a waker, which
//!    can only find the waiter once `unlock` released the lock, never
//!    readies a goroutine that is still running. For a thread, `unlock`
//!    runs before it sleeps.
//! 3. `unlock` returns `false` to cancel the park (the condition it waited
//!    for already holds); the goroutine resumes at once, or, after a direct
//!    switch, as soon as the goroutine switched to stops (it is put in
//!    `runnext`).
//! 4. Every park that was not cancelled is ended by exactly one `wake` of its
//!    waiter. Waking a goroutine that is not parked is a fatal error.
//!
//! A goroutine's waiter from [`Waiter::current`] holds a reference of its
//! own. A waiter from [`Waiter::current_passing`], for a park through
//! [`park_passing`], holds none: a park that is not cancelled leaves the
//! scheduler's reference with the parked goroutine (the M does not drop
//! it), and the wake passes that reference on to a run queue. So the wait
//! costs no reference-count traffic, and a waiter dropped unwoken (its park
//! was cancelled, or never happened) does nothing. Only a protocol that
//! wakes exactly when the park was not cancelled may use it (`chan/wait.rs`
//! wakes only after seeing its `PARKED` flag, which `unlock` sets, or which
//! is set before the wait is published when the park cannot be
//! cancelled).

use super::g::{GRef, WaitReason};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What to wake.
pub(crate) enum Waiter {
    Goroutine(GoroutineWaiter),
    Thread(Arc<Parker>),
}

/// A goroutine to wake.
pub(crate) enum GoroutineWaiter {
    /// With a reference of its own.
    Counted(GRef),
    /// Parked through [`park_passing`], without a reference of its own
    /// (module docs).
    Passing(PassingRef),
}

/// A goroutine, without a reference of its own (module docs).
pub(crate) struct PassingRef(*const super::g::G);

// SAFETY: a G is Send + Sync; the pointer is only turned into the
// scheduler's reference by the one wake of a park that was not cancelled.
unsafe impl Send for PassingRef {}

impl Waiter {
    /// The current goroutine, or the current thread.
    pub(crate) fn current() -> Waiter {
        match super::m::current_g() {
            Some(g) => Waiter::Goroutine(GoroutineWaiter::Counted(g)),
            None => Waiter::Thread(THREAD_PARKER.with(|p| p.clone())),
        }
    }

    /// The current goroutine, for a park through [`park_passing`], or the
    /// current thread.
    #[inline]
    pub(crate) fn current_passing() -> Waiter {
        match super::m::running_g_ptr() {
            Some(g) => Waiter::Goroutine(GoroutineWaiter::Passing(PassingRef(g))),
            None => Waiter::Thread(THREAD_PARKER.with(|p| p.clone())),
        }
    }

    /// Ends the park this waiter was created for.
    pub(crate) fn wake(self) {
        match self {
            Waiter::Goroutine(GoroutineWaiter::Counted(g)) => super::ready(g),
            Waiter::Goroutine(GoroutineWaiter::Passing(g)) => {
                // SAFETY: a Passing waiter is woken only to end a park
                // through park_passing that was not cancelled (module docs);
                // such a park left the scheduler's reference with the parked
                // goroutine, which stays parked, and so alive, until this
                // wake takes the reference over.
                super::ready(unsafe { GRef::from_raw(g.0) })
            }
            Waiter::Thread(p) => {
                if p.counted.swap(false, Ordering::SeqCst) {
                    super::deadlock::THREADS_PARKED.fetch_sub(1, Ordering::SeqCst);
                }
                super::deadlock::THREAD_EVENTS.fetch_add(1, Ordering::SeqCst);
                p.unpark();
            }
        }
    }
}

thread_local! {
    static THREAD_PARKER: Arc<Parker> = Arc::new(Parker::new());
}

/// Parks the current goroutine, or blocks the current thread, until the
/// waiter published before this call is woken. See the module docs.
pub(crate) fn park(reason: WaitReason, unlock: impl FnOnce() -> bool) {
    park_inner(reason, unlock, false);
}

/// [`park`] for a waiter from [`Waiter::current_passing`]: unless `unlock`
/// cancels it, the park leaves the scheduler's reference to the goroutine
/// for the wake to take (module docs). `unlock` must be short (a flag, a
/// lock release, wakes): it may run on the stack of the goroutine the M
/// switches to next.
#[inline]
pub(crate) fn park_passing(reason: WaitReason, unlock: impl FnOnce() -> bool) {
    park_inner(reason, unlock, true);
}

#[inline]
fn park_inner(reason: WaitReason, unlock: impl FnOnce() -> bool, passing: bool) {
    let mut unlock = Some(unlock);
    let mut call = move || (unlock.take().expect("unlock runs once"))();
    if super::m::park_current(reason, &mut call, passing) {
        return;
    }
    // A plain thread.
    THREAD_PARKER.with(|p| {
        // Counted before `unlock` publishes us, so "counted" always
        // means "not yet woken" (deadlock.rs).
        p.counted.store(true, Ordering::SeqCst);
        super::deadlock::THREADS_PARKED.fetch_add(1, Ordering::SeqCst);
        super::deadlock::THREAD_EVENTS.fetch_add(1, Ordering::SeqCst);
        if call() {
            p.park();
        } else if p.counted.swap(false, Ordering::SeqCst) {
            super::deadlock::THREADS_PARKED.fetch_sub(1, Ordering::SeqCst);
        }
    });
}

/// Whether the caller runs in a goroutine (rather than on a plain thread).
pub(crate) fn in_goroutine() -> bool {
    super::m::in_goroutine()
}

const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;
const PARKED: u32 = u32::MAX;

/// A futex-based one-permit parker for OS threads: idle Ms and plain threads
/// blocked in a runtime primitive.
///
/// `unpark` before `park` makes that `park` return at once; permits do not
/// accumulate.
pub(crate) struct Parker {
    state: AtomicU32,
    /// Whether this (plain) thread is counted in the deadlock check's
    /// `THREADS_PARKED`; whoever clears it takes the count off.
    counted: std::sync::atomic::AtomicBool,
}

impl Parker {
    pub(crate) const fn new() -> Parker {
        Parker {
            state: AtomicU32::new(EMPTY),
            counted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Blocks until unparked.
    pub(crate) fn park(&self) {
        self.park_inner(None);
    }

    /// Blocks until unparked or `timeout` passes; true if unparked.
    pub(crate) fn park_timeout(&self, timeout: Duration) -> bool {
        self.park_inner(Some(timeout))
    }

    fn park_inner(&self, timeout: Option<Duration>) -> bool {
        // Acquire pairs with unpark's Release: what the unparker did before
        // is visible after we return.
        if self.state.fetch_sub(1, Ordering::Acquire) == NOTIFIED {
            return true; // NOTIFIED -> EMPTY
        }
        // EMPTY -> PARKED
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let left = match deadline {
                Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                    Some(left) => Some(left),
                    None => break,
                },
                None => None,
            };
            futex_wait(&self.state, PARKED, left);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Acquire)
                .is_ok()
            {
                return true;
            }
        }
        // Timed out: leave PARKED, keeping a permit that raced in.
        self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED
    }

    pub(crate) fn unpark(&self) {
        // Release pairs with park's Acquire.
        if self.state.swap(NOTIFIED, Ordering::Release) == PARKED {
            futex_wake(&self.state);
        }
    }
}

/// `d` as the kernel's relative timeout (seconds clamped, never wrapped).
pub(crate) fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live u32; FUTEX_WAIT only reads it. EINTR and
    // EAGAIN are fine: callers re-check the state.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
        );
    }
}

pub(crate) fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live u32 has no other effect than waking.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}
