//! Scoped goroutines: `goroutines::scope(|s| { s.go(|| ...); })`, the shape
//! of `std::thread::scope`, so goroutines can borrow the caller's locals.
//!
//! ```
//! let mut counts = vec![0u32; 4];
//! let label = String::from("hits");
//! goroutines::scope(|s| {
//!     for (i, c) in counts.iter_mut().enumerate() {
//!         let label = &label; // shared borrow of a local
//!         s.go(move || *c = (i as u32 + 1) * label.len() as u32); // a mutable borrow each
//!     }
//! }); // every goroutine spawned above has finished here
//! assert_eq!(counts, [4, 8, 12, 16]);
//! ```
//!
//! Plain [`crate::go`] needs `'static` closures: a goroutine may outlive
//! the function that spawned it, so it cannot borrow that function's
//! locals.
//!
//! ```compile_fail,E0373
//! let mut v = vec![1, 2, 3];
//! let h = goroutines::go(|| v.push(4)); // E0373: the closure may outlive `v`
//! h.join().unwrap();
//! ```
//!
//! # Why lending `'scope` borrows to a goroutine is sound
//!
//! [`Scope::go`] erases the closure's lifetime to hand it to the `'static`
//! spawn. That is sound because [`scope`] cannot return, normally or by
//! unwinding, before every goroutine it spawned has stopped touching
//! anything it borrowed:
//!
//! 1. Each spawned goroutine owns one `Packet`, shared with its
//!    [`ScopedJoinHandle`]. The scope's `running` counter is raised *before*
//!    the goroutine is spawned and lowered only in `Packet::drop`, which
//!    runs after both the goroutine's closure is gone (run to the end, or
//!    dropped unrun if the goroutine could not start) and its result is
//!    dropped or taken by `join`. The closure's captures are dropped before
//!    its packet (field order of `ScopedMain`).
//! 2. A goroutine spawned by a scoped goroutine raises the counter while
//!    its spawner is still counted, so the counter cannot touch zero early.
//! 3. [`scope`] runs the caller's closure under `catch_unwind`, then waits
//!    (parks the goroutine, or blocks the thread) until the counter is zero,
//!    and only then returns or resumes the panic.
//! 4. Nothing else can make the scope return: a goroutine whose runtime is
//!    torn down never finishes, and then the scope waits for ever, which
//!    leaks but never frees what a goroutine still borrows.
//!
//! `'scope` is invariant and bounded by `'env`, as in std, so handles and
//! the `&Scope` cannot escape the closure passed to [`scope`].
//!
//! Panics: a goroutine's panic is caught in the goroutine and kept in its
//! packet. [`ScopedJoinHandle::join`] returns it; a panic nobody joined
//! makes [`scope`] panic with "a scoped goroutine panicked" after all
//! goroutines are done, as std does.

use crate::sync::WaitGroup;
use crate::JoinHandle;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Runs `f` with a [`Scope`] on which it can spawn goroutines that borrow
/// non-`'static` data, and waits for all of them before returning.
///
/// Works in a goroutine (the wait parks it) and on a plain thread (the wait
/// blocks it; the goroutines go to the default runtime). Scoped goroutines
/// run on the runtime of the goroutine that calls `scope`.
///
/// # Panics
/// If `f` panics, after every spawned goroutine has finished, with `f`'s
/// panic. Else, if a spawned goroutine panicked and its handle was not
/// joined, with "a scoped goroutine panicked".
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: WaitGroup::new(),
            a_goroutine_panicked: AtomicBool::new(false),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // The soundness of every `Scope::go` rests on this wait (module docs).
    scope.data.running.wait();
    match result {
        Err(payload) => panic::resume_unwind(payload),
        // Relaxed: the WaitGroup's wait (Acquire) ordered every `done`, and
        // the flag store before it, before this load.
        Ok(_) if scope.data.a_goroutine_panicked.load(Ordering::Relaxed) => {
            panic!("a scoped goroutine panicked")
        }
        Ok(value) => value,
    }
}

/// A scope to spawn goroutines in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariance over `'scope` keeps it from being shrunk or grown, so
    /// the borrows it lends are exactly those that outlive the wait.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// What a scope and its goroutines' packets share.
struct ScopeData {
    /// Goroutines spawned in this scope whose `Packet` is still alive.
    /// Raised by `Scope::go` before spawning, lowered by `Packet::drop`.
    running: WaitGroup,
    /// Set (before `running.done()`) by the drop of a packet whose
    /// goroutine panicked, or never ran, and was not joined.
    a_goroutine_panicked: AtomicBool,
}

/// An owned permission to join a scoped goroutine.
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<()>,
    packet: Arc<Packet<'scope, T>>,
}

/// Where a scoped goroutine leaves its result: shared by the goroutine and
/// its handle; the last of the two to let go drops it and counts the
/// goroutine out of its scope.
struct Packet<'scope, T> {
    scope: Arc<ScopeData>,
    /// Written once by the goroutine when its closure returns or panics;
    /// taken by `join`. The mutex is uncontended: the goroutine writes
    /// before it exits, `join` reads after it exited.
    result: Mutex<Outcome<T>>,
    _scope: PhantomData<&'scope ()>,
}

enum Outcome<T> {
    /// The closure has not returned (or never ran: its goroutine could not
    /// start and the closure was dropped unrun).
    Pending,
    Finished(thread::Result<T>),
    /// `join` took the result.
    Joined,
}

/// The closure a scoped goroutine runs, before its lifetime is erased.
///
/// Field order is drop order: if the goroutine never runs, `f` (and so
/// everything it borrows) is dropped before `packet`, whose drop may let
/// the scope return.
struct ScopedMain<'scope, F, T> {
    f: F,
    packet: Arc<Packet<'scope, T>>,
}

impl<F, T> ScopedMain<'_, F, T>
where
    F: FnOnce() -> T,
{
    fn run(self) {
        let ScopedMain { f, packet } = self;
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        *packet.lock() = Outcome::Finished(result);
        // The last use of 'scope data by this goroutine, unless the handle
        // is gone too, in which case this drop counts us out.
        drop(packet);
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a goroutine that may borrow anything that outlives the scope.
    /// It is joined before [`scope`] returns, whether or not its handle is.
    #[track_caller]
    pub fn go<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            scope: self.data.clone(),
            result: Mutex::new(Outcome::Pending),
            _scope: PhantomData,
        });
        let main = ScopedMain {
            f,
            packet: packet.clone(),
        };
        let main: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || main.run());
        // Raised before the spawn, so the goroutine cannot lower it first;
        // lowered by the packet's drop.
        self.data.running.add(1);
        // SAFETY: only the lifetime changes. The closure borrows nothing
        // that does not outlive 'scope, and `scope` does not return before
        // the count raised above is lowered, which happens only after the
        // closure (and the result it produced) is gone: module docs, steps
        // 1-4.
        let main: Box<dyn FnOnce() + Send + 'static> = unsafe {
            std::mem::transmute::<
                Box<dyn FnOnce() + Send + 'scope>,
                Box<dyn FnOnce() + Send + 'static>,
            >(main)
        };
        ScopedJoinHandle {
            handle: crate::go(main),
            packet,
        }
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine to finish: parks the calling goroutine, or
    /// blocks the calling thread. `Err` carries the payload of its panic; a
    /// panic joined here does not make [`scope`] panic.
    pub fn join(self) -> thread::Result<T> {
        let exited = self.handle.join();
        let mut result = self.packet.lock();
        match std::mem::replace(&mut *result, Outcome::Joined) {
            Outcome::Finished(r) => r,
            Outcome::Pending => {
                // Not joined after all: leave the packet to count the
                // goroutine out when it (ever) lets go.
                *result = Outcome::Pending;
                match exited {
                    Err(payload) => Err(payload),
                    Ok(()) => unreachable!("a scoped goroutine exited without a result"),
                }
            }
            Outcome::Joined => unreachable!("a scoped goroutine's result is taken once"),
        }
    }

    /// Whether the goroutine has finished (so `join` will not wait).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// The goroutine's id, as shown in dumps and panic messages.
    pub fn id(&self) -> u64 {
        self.handle.id()
    }
}

impl<T> Packet<'_, T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Outcome<T>> {
        // Only a panicking result destructor could poison it, and that
        // aborts (Drop below).
        self.result.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Drop for Packet<'_, T> {
    fn drop(&mut self) {
        let outcome = std::mem::replace(
            self.result.get_mut().unwrap_or_else(|e| e.into_inner()),
            Outcome::Joined,
        );
        let unhandled = matches!(outcome, Outcome::Pending | Outcome::Finished(Err(_)));
        // The result may borrow 'scope data: drop it before counting out.
        // A panic here has no catch_unwind above it to go to (it may run
        // on the goroutine's exit path), so, like std, abort.
        if panic::catch_unwind(AssertUnwindSafe(|| drop(outcome))).is_err() {
            crate::fatal(format_args!("a scoped goroutine's result panicked on drop"));
        }
        if unhandled {
            self.scope
                .a_goroutine_panicked
                .store(true, Ordering::Relaxed);
        }
        // AcqRel inside: publishes the flag and everything the goroutine
        // did to the scope's wait. After this, nothing borrowed is touched.
        self.scope.running.done();
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running)
            .field(
                "a_goroutine_panicked",
                &self.data.a_goroutine_panicked.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("handle", &self.handle)
            .finish()
    }
}
