//! `JoinHandle`: waiting for a goroutine's result, by `join` (parks the
//! caller) or by `.await` (`impl Future`: the goroutine's exit wakes the
//! awaiting task's `Waker`, registered in the G's join state).

use crate::scheduler::g::WaitReason;
use crate::scheduler::join_cell::{CoreRef, JoinCell, JoinCore};
use crate::scheduler::park::{self, Waiter};
use crate::scheduler::Shared;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;

/// An owned permission to join a goroutine: wait for it to finish and take
/// its result. Dropping the handle detaches the goroutine.
///
/// The handle owns the goroutine's join cell (its result and join state,
/// 48 bytes for a word-sized result), not the goroutine: a finished
/// goroutine's memory is recycled at once, however long its handle lives.
///
/// It is also a [`Future`], so async code on any executor can await a
/// goroutine:
///
/// ```
/// let h = goroutines::go(|| 6 * 7);
/// assert_eq!(futures::executor::block_on(h).unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    cell: NonNull<JoinCell<T>>,
    _result: PhantomData<fn() -> T>,
}

// SAFETY: the handle moves the result (T: Send) to whichever thread joins;
// the cell's shared state is atomic.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the atomic state and the id.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

/// Shows the goroutine's id, where it was spawned, and its state as dumps
/// name it (`runnable`, `running`, a wait reason such as `chan receive`,
/// or `dead`).
impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let core = self.core();
        let mut d = f.debug_struct("JoinHandle");
        d.field("goroutine", &core.id());
        d.field("spawned_at", &format_args!("{}", core.spawn_site));
        let live = if core.is_finished() {
            None
        } else {
            runtime_of(core)
        };
        let state = live.map_or("dead", |shared| shared.describe_goroutine(core.id()));
        d.field("state", &state).finish()
    }
}

impl<T> JoinHandle<T> {
    fn core(&self) -> &JoinCore {
        // SAFETY: the cell lives while the handle does.
        unsafe { JoinCell::core(self.cell).as_ref() }
    }
}

/// The runtime of the goroutine behind `core`, if it still exists.
///
/// The cell's `shared` pointer is only known to be valid while the
/// goroutine has not exited (a runtime dropped with goroutines left is
/// leaked, never freed), but a goroutine can exit, and its runtime be
/// dropped, right after the handle saw it unfinished. So the pointer is
/// dereferenced only where it is the caller's own runtime (whose M holds
/// a reference), and otherwise looked up among the live runtimes.
fn runtime_of(core: &JoinCore) -> Option<Arc<Shared>> {
    match crate::scheduler::m::current_shared() {
        // SAFETY: the caller's M holds a reference to its runtime.
        Some(own) if std::ptr::eq(own, core.shared) => unsafe { &*own }.try_arc(),
        _ => crate::scheduler::registry::find_runtime(core.shared),
    }
}

/// [`runtime_of`], unless it is shutting down: the runtime a wait for the
/// goroutine can still end on. Without one, only a goroutine that has just
/// finished can still be joined.
fn running_runtime_of(core: &JoinCore) -> Option<Arc<Shared>> {
    runtime_of(core).filter(|shared| !shared.is_shut_down())
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle's last use of its cell.
        unsafe { JoinCell::release_handle(self.cell) }
    }
}

impl<T: Send + 'static> JoinHandle<T> {
    pub(crate) fn new(cell: NonNull<JoinCell<T>>) -> JoinHandle<T> {
        JoinHandle {
            cell,
            _result: PhantomData,
        }
    }

    /// Waits for the goroutine to finish: parks the calling goroutine, or
    /// blocks the calling thread. `Err` carries the payload of its panic, as
    /// with `std::thread::JoinHandle::join`.
    pub fn join(self) -> thread::Result<T> {
        let core = self.core();
        if !core.is_finished() {
            let waited = match running_runtime_of(core) {
                Some(shared) => join_from_outside(self.cell, &shared),
                None => core.is_finished(),
            };
            if !waited {
                return Err(shut_down_first(core.id()));
            }
        } else {
            crate::scheduler::m::preempt_point();
        }
        // SAFETY: completion was observed (Acquire) either by is_finished
        // or by set_joiner/the wake-up.
        match unsafe { JoinCell::take_result(self.cell) } {
            Some(result) => result,
            None => unreachable!("a goroutine's result is taken once, by its only handle"),
        }
    }

    /// Whether the goroutine has finished (so `join` will not wait).
    pub fn is_finished(&self) -> bool {
        self.core().is_finished()
    }

    /// The goroutine's id, as shown in dumps and panic messages.
    pub fn id(&self) -> u64 {
        self.core().id()
    }
}

/// The error of a join that cannot complete because the goroutine's runtime
/// was dropped first.
fn shut_down_first(id: u64) -> Box<dyn std::any::Any + Send> {
    Box::new(format!(
        "goroutine {id} cannot be joined: its runtime was shut down first"
    ))
}

/// Parks until the goroutine of `cell` completes. False if its runtime
/// shut down first.
///
/// A join from one of the runtime's own goroutines just parks: if the
/// runtime stops, so does the joiner. A join from anywhere else (a plain
/// thread, a goroutine of another runtime) is listed in the runtime's
/// `foreign_joiners`, which shutdown ends (`JoinCore::abort_join_wait`,
/// under the list's lock, which we take again before we return); it
/// registers under that lock and only if the runtime is not shut down, so
/// no join slips between the shutdown flag and the list.
fn join_from_outside<T: Send + 'static>(cell: NonNull<JoinCell<T>>, shared: &Arc<Shared>) -> bool {
    // SAFETY: the caller's handle keeps the cell alive.
    let core = unsafe { JoinCell::core(cell).as_ref() };
    let waiter = Waiter::current();
    let own = crate::scheduler::m::current_shared().is_some_and(|s| std::ptr::eq(s, core.shared));
    if own {
        // SAFETY: we own the unique join handle and register once.
        park::park(WaitReason::Join, || unsafe {
            JoinCell::set_joiner(cell, waiter)
        });
        return true;
    }
    park::park(WaitReason::Join, || {
        let mut list = shared
            .foreign_joiners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if shared.is_shut_down() {
            return false;
        }
        // SAFETY: we own the unique join handle and register once.
        let parked = unsafe { JoinCell::set_joiner(cell, waiter) };
        if parked {
            list.push(CoreRef(JoinCell::core(cell)));
        }
        parked
    });
    let mut list = shared
        .foreign_joiners
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(i) = list.iter().position(|x| x.0 == JoinCell::core(cell)) {
        list.swap_remove(i);
    }
    drop(list);
    core.is_finished()
}

/// Awaiting a goroutine: ready with what [`JoinHandle::join`] would return.
/// The goroutine's exit wakes the task; polling never blocks.
///
/// # Panics
/// If polled again after it returned `Ready`.
impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = thread::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<thread::Result<T>> {
        let core = self.core();
        if !core.is_finished() {
            if running_runtime_of(core).is_none() {
                if !core.is_finished() {
                    return Poll::Ready(Err(shut_down_first(core.id())));
                }
            // SAFETY: we own the unique join handle (`&mut self`), so calls
            // do not overlap.
            } else if unsafe { JoinCell::set_join_waker(self.cell, cx.waker()) } {
                return Poll::Pending;
            }
        }
        // SAFETY: completion was observed (Acquire) by is_finished or
        // set_join_waker.
        match unsafe { JoinCell::take_result(self.cell) } {
            Some(result) => Poll::Ready(result),
            None => panic!("JoinHandle polled after it returned Ready"),
        }
    }
}
