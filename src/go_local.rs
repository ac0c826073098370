//! `go_local`: a goroutine for a closure that is not `Send`.
//!
//! In pinned mode a P keeps one OS thread for life and a goroutine homed on
//! a P never leaves it, so a goroutine spawned onto the caller's own P runs,
//! parks and exits on the caller's OS thread. A `!Send` closure (holding an
//! `Rc`, a `RefCell`, a thread-affine handle) may therefore be moved into
//! it, and its `!Send` result handed back through a [`LocalJoinHandle`],
//! which is itself `!Send` and so stays on that thread too.
//!
//! What makes it sound rather than merely usual: the closure and the result
//! travel inside the goroutine's task as [`ThreadBound`] values, which can
//! only be opened, and are only dropped, on the thread that made them. If
//! the last reference to a task is ever released on another thread (a timer
//! or a waker elsewhere can hold one briefly), whatever is still inside is
//! leaked, never dropped there.
//!
//! Go mode has no such guarantee (Ps move between OS threads), so there
//! `go_local` panics rather than spawn something that could migrate.

use crate::join::JoinHandle;
use crate::runtime;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::thread::{self, ThreadId};

/// A value that may be carried through `Send` plumbing but is opened and
/// dropped only on the thread that created it (elsewhere it is leaked).
struct ThreadBound<T> {
    value: ManuallyDrop<T>,
    thread: ThreadId,
}

// SAFETY: the value is only accessed (opened or dropped) on `thread`, the
// thread that created it; moving the wrapper itself between threads moves
// bytes only. Any access from another thread is refused (`into_inner`
// panics, `drop` leaks).
unsafe impl<T> Send for ThreadBound<T> {}

impl<T> ThreadBound<T> {
    fn new(value: T) -> ThreadBound<T> {
        ThreadBound {
            value: ManuallyDrop::new(value),
            thread: thread::current().id(),
        }
    }

    fn into_inner(self) -> T {
        assert_eq!(
            thread::current().id(),
            self.thread,
            "goroutines: a go_local value was opened on another OS thread"
        );
        let mut me = ManuallyDrop::new(self);
        // SAFETY: we are on the creating thread, and `me` is never used or
        // dropped again, so the value is taken exactly once.
        unsafe { ManuallyDrop::take(&mut me.value) }
    }
}

impl<T> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        if thread::current().id() == self.thread {
            // SAFETY: on the creating thread, dropped once (this is drop).
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
        // Elsewhere: leaked. Dropping a `!Send` value on a foreign thread
        // could race with its home thread (an `Rc`'s count, say).
    }
}

/// Spawns a goroutine for a closure that need not be `Send`: it runs on the
/// caller's OS thread, for life (pinned mode only).
///
/// The new goroutine is queued on the caller's P, never stolen, and takes
/// turns with the caller like any other goroutine: it first runs when the
/// caller parks or yields. Its result comes back through a
/// [`LocalJoinHandle`], which cannot leave the thread.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// goroutines::run(|| {
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let handles: Vec<_> = (0..3)
///         .map(|i| {
///             let log = log.clone();
///             goroutines::go_local(move || log.borrow_mut().push(i))
///         })
///         .collect();
///     for h in handles {
///         h.join().unwrap();
///     }
///     // As with `go`, the newest goroutine runs first (it is in `runnext`).
///     log.borrow_mut().sort();
///     assert_eq!(*log.borrow(), [0, 1, 2]);
/// });
/// ```
///
/// # Panics
/// When called from a plain thread (there is no goroutine's thread to stay
/// on), or on a runtime in Go mode (`Builder::migrate_goroutines`), whose Ps
/// move between OS threads.
#[track_caller]
pub fn go_local<F, T>(f: F) -> LocalJoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let site = Location::caller();
    let f = ThreadBound::new(f);
    let task = move || ThreadBound::new((f.into_inner())());
    assert!(
        crate::scheduler::park::in_goroutine(),
        "goroutines::go_local must be called from a goroutine: a plain thread has no P whose \
         OS thread the new goroutine could be kept on"
    );
    let Some(g) = runtime::with_current(|shared| shared.spawn_here(task, site)) else {
        panic!(
            "goroutines::go_local needs a runtime in pinned mode (the default): with \
             Builder::migrate_goroutines, goroutines move between OS threads"
        );
    };
    crate::scheduler::m::preempt_point();
    LocalJoinHandle {
        inner: JoinHandle::new(g),
        _not_send: PhantomData,
    }
}

/// Waits for a goroutine spawned by [`go_local`]. Not `Send`: it stays on the
/// OS thread the goroutine runs on.
pub struct LocalJoinHandle<T> {
    inner: JoinHandle<ThreadBound<T>>,
    _not_send: PhantomData<*const ()>,
}

impl<T: 'static> LocalJoinHandle<T> {
    /// Parks until the goroutine exits; its result, or its panic payload.
    pub fn join(self) -> thread::Result<T> {
        self.inner.join().map(ThreadBound::into_inner)
    }

    /// Whether the goroutine has exited.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The goroutine's id.
    pub fn id(&self) -> u64 {
        self.inner.id()
    }
}

impl<T> std::fmt::Debug for LocalJoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalJoinHandle")
            .field("goroutine", &self.inner)
            .finish()
    }
}
