//! `JoinHandle`: waiting for a goroutine's result, by `join` (parks the
//! caller) or by `.await` (`impl Future`: the goroutine's exit wakes the
//! awaiting task's `Waker`, registered in the G's join state).

use crate::scheduler::g::{GRef, WaitReason};
use crate::scheduler::park::{self, Waiter};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;

/// An owned permission to join a goroutine: wait for it to finish and take
/// its result. Dropping the handle detaches the goroutine.
///
/// It is also a [`Future`], so async code on any executor can await a
/// goroutine:
///
/// ```
/// let h = goroutines::go(|| 6 * 7);
/// assert_eq!(futures::executor::block_on(h).unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    g: GRef,
    _result: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("goroutine", &self.g.id)
            .field("spawned_at", &format_args!("{}", self.g.spawn_site))
            .field("state", &self.g.describe_state())
            .finish()
    }
}

impl<T: Send + 'static> JoinHandle<T> {
    pub(crate) fn new(g: GRef) -> JoinHandle<T> {
        JoinHandle {
            g,
            _result: PhantomData,
        }
    }

    /// Waits for the goroutine to finish: parks the calling goroutine, or
    /// blocks the calling thread. `Err` carries the payload of its panic, as
    /// with `std::thread::JoinHandle::join`.
    pub fn join(self) -> thread::Result<T> {
        let g = &self.g;
        if !g.is_finished() {
            // SAFETY: a goroutine that has not exited keeps its runtime's
            // Shared alive.
            if unsafe { &*g.shared }.is_shut_down() {
                return Err(shut_down_first(g.id));
            }
            if !join_from_outside(g) {
                return Err(shut_down_first(g.id));
            }
        } else {
            crate::scheduler::m::preempt_point();
        }
        // SAFETY: T is this goroutine's output type (JoinHandle<T> was made
        // by spawn with it), and completion was observed (Acquire) either
        // by is_finished or by set_joiner/the wake-up.
        match unsafe { g.take_output::<T>() } {
            Some(result) => result,
            None => unreachable!("a goroutine's result is taken once, by its only handle"),
        }
    }

    /// Whether the goroutine has finished (so `join` will not wait).
    pub fn is_finished(&self) -> bool {
        self.g.is_finished()
    }

    /// The goroutine's id, as shown in dumps and panic messages.
    pub fn id(&self) -> u64 {
        self.g.id
    }
}

/// Awaiting a goroutine: ready with what [`JoinHandle::join`] would return.
/// The goroutine's exit wakes the task; polling never blocks.
///
/// # Panics
/// If polled again after it returned `Ready`.
/// The error of a join that cannot complete because the goroutine's runtime
/// was dropped first.
fn shut_down_first(id: u64) -> Box<dyn std::any::Any + Send> {
    Box::new(format!(
        "goroutine {id} cannot be joined: its runtime was shut down first"
    ))
}

/// Parks until `g` completes. False if its runtime shut down first.
///
/// A join from one of the runtime's own goroutines just parks: if the
/// runtime stops, so does the joiner. A join from anywhere else (a plain
/// thread, a goroutine of another runtime) is listed in the runtime's
/// `foreign_joiners`, which shutdown ends (`G::abort_join_wait`); it
/// registers under that list's lock and only if the runtime is not shut
/// down, so no join slips between the shutdown flag and the list.
fn join_from_outside(g: &GRef) -> bool {
    let waiter = Waiter::current();
    let own = crate::scheduler::m::current_shared().is_some_and(|s| std::ptr::eq(s, g.shared));
    if own {
        // SAFETY: we own the unique join handle and register once.
        park::park(WaitReason::Join, || unsafe { g.set_joiner(waiter) });
        return true;
    }
    // SAFETY: a goroutine that has not exited keeps its runtime's Shared
    // alive; holding an Arc keeps it alive until we leave the list.
    let Some(shared) = (unsafe { &*g.shared }).try_arc() else {
        return g.is_finished();
    };
    park::park(WaitReason::Join, || {
        let mut list = shared
            .foreign_joiners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if shared.is_shut_down() {
            return false;
        }
        // SAFETY: we own the unique join handle and register once.
        let parked = unsafe { g.set_joiner(waiter) };
        if parked {
            list.push(g.clone());
        }
        parked
    });
    let mut list = shared
        .foreign_joiners
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(i) = list
        .iter()
        .position(|x| std::ptr::eq(x.as_ptr(), g.as_ptr()))
    {
        list.swap_remove(i);
    }
    drop(list);
    g.is_finished()
}

impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = thread::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<thread::Result<T>> {
        let g = &self.g;
        if !g.is_finished() {
            // SAFETY: a goroutine that has not exited keeps its runtime's
            // Shared alive.
            if unsafe { &*g.shared }.is_shut_down() {
                return Poll::Ready(Err(shut_down_first(g.id)));
            }
            // SAFETY: we own the unique join handle (`&mut self`), so calls
            // do not overlap.
            if unsafe { g.set_join_waker(cx.waker()) } {
                return Poll::Pending;
            }
        }
        // SAFETY: T is this goroutine's output type, and completion was
        // observed (Acquire) by is_finished or set_join_waker.
        match unsafe { g.take_output::<T>() } {
            Some(result) => Poll::Ready(result),
            None => panic!("JoinHandle polled after it returned Ready"),
        }
    }
}

/// Loom model of the `Future` registration against the goroutine's exit:
/// `set_join_waker` (as `poll` calls it) re-registering while `complete`
/// runs on another thread. Every interleaving must end with the result
/// ready at a poll or the latest registered waker woken.
#[cfg(all(test, loom))]
mod loom_models {
    use crate::scheduler::g;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn loom_join_waker_reregistered_while_the_goroutine_exits() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let site = std::panic::Location::caller();
            // `shared` is never dereferenced by run, complete or the join
            // state.
            let (sched, join) = g::new_task(|| 7u32, 1, std::ptr::null(), site);
            let exiting = loom::thread::spawn(move || {
                // SAFETY: run once, by the only "goroutine" thread.
                unsafe { sched.run() };
                sched.complete();
            });
            let wakers: Vec<_> = (0..2)
                .map(|_| Arc::new(CountingWaker(AtomicUsize::new(0))))
                .collect();
            let mut pending_on = None;
            for w in &wakers {
                // SAFETY: this thread owns the join reference; calls do not
                // overlap.
                if unsafe { join.set_join_waker(&Waker::from(w.clone())) } {
                    pending_on = Some(w.clone());
                } else {
                    pending_on = None;
                    break;
                }
            }
            exiting.join().unwrap();
            if let Some(latest) = pending_on {
                assert_eq!(latest.0.load(Ordering::SeqCst), 1, "a lost wake-up");
            }
            assert!(join.is_finished());
            // SAFETY: u32 is the task's output type; completion observed.
            let out = unsafe { join.take_output::<u32>() };
            assert!(matches!(out, Some(Ok(7))));
        });
    }
}
