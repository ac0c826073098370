//! `goroutines::syscall(f)`: run a blocking call without blocking an M.
//!
//! The goroutine parks; `f` runs on a thread of the blocking pool
//! ([`pool`]); when it returns, its result is written into the parked
//! goroutine's stack frame and the goroutine is readied. Meanwhile the M
//! runs other goroutines: this is the seed's promise that the goroutine
//! making a system call waits and its OS thread is given another goroutine.
//!
//! `f` may borrow from the caller's stack (it need not be `'static`): the
//! caller cannot resume, so cannot return and invalidate the borrow, until
//! `f` has returned and the pool thread has handed the result over.
//!
//! That is pinned mode. Go mode does what Go does: `f` runs inline on the
//! goroutine's own M, which first marks its P as retakeable
//! (`scheduler::m::enter_syscall`); if `f` is still running a sysmon cycle
//! later (20 µs), sysmon hands the P to another M. When `f` returns the M
//! takes its P back, or any idle P, or queues the goroutine globally and
//! sleeps. A short call thus costs two atomic operations instead of a trip
//! through the pool. Pinned mode cannot do this: its goroutines must stay
//! on their M, and an M must keep its P.
//!
//! While an inline `f` runs, its thread is a plain thread to the runtime:
//! a goroutine it spawns goes to the global queue, and a channel operation
//! that waits blocks the thread (as it would on the pool).
//!
//! From a plain thread, `f` simply runs on that thread.

mod pool;

use crate::scheduler::g::WaitReason;
use crate::scheduler::park::{self, Waiter};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// Runs a blocking call (file I/O, a DNS lookup, a blocking FFI call) while
/// the calling goroutine's OS thread runs other goroutines. Returns what `f`
/// returns; a panic in `f` is resumed in the caller.
///
/// ```
/// let len = goroutines::run(|| {
///     goroutines::syscall(|| std::fs::read("Cargo.toml").map(|b| b.len()))
/// });
/// assert!(len.unwrap() > 0);
/// ```
pub fn syscall<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if !park::in_goroutine() {
        return f();
    }
    let f = match inline_or_back(f) {
        Ok(v) => return v,
        Err(f) => f,
    };
    let mut result: Option<thread::Result<T>> = None;
    let slot = SendPtr(&mut result as *mut Option<thread::Result<T>>);
    let waiter = Waiter::current();
    let job = move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        let slot = slot;
        // SAFETY: the caller stays parked, with `result` alive in its frame,
        // until `wake` below; nothing else touches `result` meanwhile.
        unsafe { *slot.0 = Some(r) };
        waiter.wake();
        // After the wake: the goroutine is runnable before the count says
        // no syscall is in flight (deadlock.rs relies on it).
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    };
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(job);
    // SAFETY: the job borrows from this frame (`f`'s captures, `result`),
    // and this frame cannot be left before the job has run: we stay parked
    // until the job's last action, `wake`. Erasing the lifetime is therefore
    // sound.
    let job: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(job) };
    park::park(WaitReason::Syscall, move || {
        pool::submit(job);
        true
    });
    crate::trace::syscall_exit();
    match result.take() {
        Some(Ok(v)) => v,
        Some(Err(payload)) => panic::resume_unwind(payload),
        None => unreachable!("a syscall goroutine resumed without its result"),
    }
}

/// Go mode: runs `f` inline as a syscall (the P may be handed to another M
/// meanwhile; see the module docs). Elsewhere `f` comes back unrun, with the
/// call already counted in flight and traced, for the pool. The caller is a
/// goroutine.
fn inline_or_back<F: FnOnce() -> T, T>(f: F) -> Result<T, F> {
    // Counted before the goroutine looks blocked (deadlock.rs).
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    crate::trace::syscall_enter();
    let Some(entered) = crate::scheduler::m::enter_syscall() else {
        return Err(f);
    };
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    crate::scheduler::m::exit_syscall(entered); // ends with inline_done
    crate::trace::syscall_exit();
    match r {
        Ok(v) => Ok(v),
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// A blocking call that cannot move to another thread (its closure is not
/// `Send`): in Go mode it runs as an inline syscall, so the P goes to
/// another M if the call lasts; elsewhere (pinned mode, a plain thread) it
/// simply runs, blocking the caller's thread.
pub(crate) fn blocking_here<T>(f: impl FnOnce() -> T) -> T {
    if !park::in_goroutine() {
        return f();
    }
    match inline_or_back(f) {
        Ok(v) => v,
        Err(f) => {
            // Pinned mode: not a syscall after all.
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            crate::trace::syscall_exit();
            f()
        }
    }
}

/// `syscall` jobs submitted and not finished.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// An inline syscall is over and its goroutine runnable again.
pub(crate) fn inline_done() {
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
}

/// How many `syscall` calls are running (on the pool, or inline) right now.
pub(crate) fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

/// A raw pointer the pool thread may carry; see the SAFETY comment of its use.
struct SendPtr<T>(*mut T);
// SAFETY: the pointee is only accessed by the pool thread while its owner is
// parked (see `syscall`), so there is never concurrent access.
unsafe impl<T: Send> Send for SendPtr<T> {}
