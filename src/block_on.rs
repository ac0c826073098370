//! The async bridge: [`block_on`] runs a future to completion on the calling
//! goroutine, which parks (its M runs other goroutines) whenever the future
//! is pending; on a plain thread it blocks the thread. The other direction,
//! async code awaiting a goroutine, is `impl Future for JoinHandle`
//! (`join.rs`).
//!
//! ```
//! let (tx, rx) = futures::channel::oneshot::channel();
//! std::thread::spawn(move || tx.send(42).unwrap());
//! let got = goroutines::run(move || goroutines::block_on(rx));
//! assert_eq!(got, Ok(42));
//! ```
//!
//! # The waker state machine
//!
//! One `Signal` per `block_on` call; its [`Waker`]s may be cloned, kept
//! after `block_on` returned, and woken from any thread, any number of
//! times, before, during or after a park. `park`/`Waiter` demand exactly
//! one `Waiter::wake` per park that was not cancelled, so the state word
//! lets only one wake through, and only when the owner really parked:
//!
//! ```text
//!   IDLE ──owner polls──▶ POLLING ──owner: Pending, CAS in park's unlock──▶ PARKED
//!                           │  ▲                                              │
//!                any wake   │  │ owner re-polls (swap)           a wake swaps │
//!                           ▼  │                                              ▼
//!                         NOTIFIED ◀──────────────────────────────────────── (calls Waiter::wake)
//! ```
//!
//! 1. Before each poll the owner swaps the word to POLLING (Acquire: the
//!    work of every wake it replaces is visible to the poll).
//! 2. A wake swaps the word to NOTIFIED (AcqRel) whatever it was. Only the
//!    one wake whose swap returned PARKED takes the waiter out of the slot
//!    and calls `Waiter::wake`; every other wake just leaves NOTIFIED,
//!    which makes the owner poll again instead of parking.
//! 3. On `Pending` the owner puts its `Waiter` in the slot and parks; the
//!    park's `unlock` (which for a goroutine runs on the scheduler stack
//!    after it switched out) CASes POLLING → PARKED (Release: publishes
//!    the slot to the wake that will take it). If the CAS fails, a wake
//!    came during the poll: the park is cancelled and the owner polls
//!    again.
//! 4. After `park` returns, the slot is the owner's again: empty if a wake
//!    took the waiter, still holding it if the park was cancelled. The
//!    owner empties it, so no `Waiter` outlives the call.
//! 5. On `Ready` the owner stores IDLE. Later wakes see IDLE or NOTIFIED,
//!    never PARKED, so they wake nobody.
//!
//! The slot is owned by the owner in IDLE, POLLING and NOTIFIED, and by the
//! one wake that swapped PARKED away in PARKED.
//!
//! Loom models of this machine (`RUSTFLAGS="--cfg loom" cargo test
//! --release --lib loom_block_on`) run the real code against a stand-in for
//! park/ready that checks goready's rule: a wake of an owner that is not
//! parked, or a wake during a cancelled park, fails the model; a lost wake
//! deadlocks it.

use self::parking::{park, Waiter};
use crate::loom::sync::atomic::{AtomicU8, Ordering};
use crate::scheduler::g::WaitReason;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// No poll in progress: before the first and after the last.
const IDLE: u8 = 0;
/// The owner is polling; nobody has woken it since the poll began.
const POLLING: u8 = 1;
/// Woken since the last poll began: the owner must poll again.
const NOTIFIED: u8 = 2;
/// The owner is parked (or switching out to park) and its waiter is in
/// the slot.
const PARKED: u8 = 3;

/// Runs `future` to completion on the calling goroutine and returns its
/// output. While the future is pending the goroutine parks and its OS
/// thread runs other goroutines; the future's [`Waker`] readies it again.
/// Called on a plain thread, it blocks that thread instead.
///
/// This lets goroutines use async libraries (channels, clients) written
/// for any executor, as long as the future does not need that executor's
/// own reactor or timer to be polled by one of its threads. A goroutine
/// waiting here shows as `block_on` in dumps.
///
/// Every pending `.await` inside is a park point: in Go mode
/// (`migrate_goroutines`) the future must keep SAFETY.md's contract across
/// it, as any code does across a park (no thread-local borrows, no
/// thread-affine lock guards).
///
/// ```
/// use futures::channel::mpsc;
/// use futures::StreamExt;
///
/// let sum = goroutines::run(|| {
///     let (tx, mut rx) = mpsc::unbounded::<u32>();
///     for i in 1..=10 {
///         let tx = tx.clone();
///         goroutines::go(move || tx.unbounded_send(i).unwrap());
///     }
///     drop(tx);
///     goroutines::block_on(async move {
///         let mut sum = 0;
///         while let Some(i) = rx.next().await {
///             sum += i;
///         }
///         sum
///     })
/// });
/// assert_eq!(sum, 55);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let signal = Arc::new(Signal {
        state: AtomicU8::new(IDLE),
        waiter: Slot::new(None),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        // Step 1. Acquire pairs with the wakes' swaps: what a waker did
        // before waking us is visible to this poll.
        signal.state.swap(POLLING, Ordering::Acquire);
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            signal.state.store(IDLE, Ordering::Relaxed);
            crate::scheduler::m::preempt_point();
            return output;
        }
        if signal.state.load(Ordering::Relaxed) == NOTIFIED {
            // Woken during the poll: poll again without the round trip
            // through the scheduler, but give up the P if our slice is up
            // (a future that keeps waking itself would otherwise hog it).
            crate::scheduler::m::preempt_point();
            continue;
        }
        signal.park();
    }
}

/// What a `block_on` call and its wakers share.
struct Signal {
    /// IDLE, POLLING, NOTIFIED or PARKED (module docs).
    state: AtomicU8,
    /// The owner's waiter while it is PARKED. Owned by the owner in every
    /// other state; in PARKED, by the one wake that swaps PARKED away.
    waiter: Slot<Option<Waiter>>,
}

// SAFETY: `state` is atomic; `waiter` is accessed by one party at a time,
// handed over by the state word as the module docs lay out, and a Waiter
// is Send.
unsafe impl Sync for Signal {}
// SAFETY: as above.
unsafe impl Send for Signal {}

impl Signal {
    /// Steps 3 and 4: parks the owner unless a wake came during the poll.
    fn park(&self) {
        let me = Waiter::current();
        self.waiter.with_mut(|slot| {
            // SAFETY: the state is POLLING or NOTIFIED, so the slot is ours.
            unsafe { *slot = Some(me) }
        });
        park(WaitReason::BlockOn, || {
            // Release publishes the slot to the wake that swaps PARKED
            // away. After a successful CAS we touch nothing of ours: a
            // wake may ready us at once.
            self.state
                .compare_exchange(POLLING, PARKED, Ordering::Release, Ordering::Relaxed)
                .is_ok()
        });
        let cancelled = self.waiter.with_mut(|slot| {
            // SAFETY: woken (the wake took the waiter out before waking us,
            // and its wake happens before we run) or cancelled (the slot was
            // never published): either way the slot is ours again.
            unsafe { (*slot).take() }
        });
        drop(cancelled);
    }

    /// Step 2.
    fn notify(&self) {
        // AcqRel: Release hands the waker's prior work to the owner's next
        // poll (its swap to POLLING, or its failed CAS then swap); Acquire
        // pairs with the owner's PARKED CAS so the slot is visible.
        if self.state.swap(NOTIFIED, Ordering::AcqRel) == PARKED {
            let waiter = self.waiter.with_mut(|slot| {
                // SAFETY: we swapped PARKED away, so the slot is ours until
                // the owner runs again, which it cannot before `wake` below.
                unsafe { (*slot).take() }
            });
            waiter.expect("a parked block_on has a waiter").wake();
        }
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.notify();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notify();
    }
}

/// The slot's cell: `std`'s normally, loom's (which checks that accesses
/// never overlap) under loom.
#[cfg(not(loom))]
struct Slot<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> Slot<T> {
    fn new(value: T) -> Slot<T> {
        Slot(std::cell::UnsafeCell::new(value))
    }

    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
use loom::cell::UnsafeCell as Slot;

/// The park/ready pair as `block_on` sees it.
#[cfg(not(loom))]
mod parking {
    pub(crate) use crate::scheduler::park::{park, Waiter};
}

/// A loom stand-in for park/ready that enforces goready's rule, as the
/// scheduler does for goroutines: the owner is WAITING from before
/// `unlock` runs; a wake must find it WAITING and makes it RUNNABLE (else
/// the model fails, like the runtime's "readying goroutine ... which is not
/// parked"); a cancelled park must not have been woken.
#[cfg(loom)]
mod parking {
    use crate::scheduler::g::WaitReason;
    use loom::sync::atomic::{AtomicU8, Ordering};
    use loom::sync::Arc;

    const RUNNING: u8 = 0;
    const WAITING: u8 = 1;
    const RUNNABLE: u8 = 2;

    loom::thread_local! {
        static STATUS: Arc<AtomicU8> = Arc::new(AtomicU8::new(RUNNING));
    }

    pub(crate) struct Waiter {
        thread: loom::thread::Thread,
        status: Arc<AtomicU8>,
    }

    impl Waiter {
        pub(crate) fn current() -> Waiter {
            Waiter {
                thread: loom::thread::current(),
                status: STATUS.with(|s| s.clone()),
            }
        }

        pub(crate) fn wake(self) {
            let was = self.status.compare_exchange(
                WAITING,
                RUNNABLE,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            assert_eq!(was, Ok(WAITING), "readying an owner that is not parked");
            self.thread.unpark();
        }
    }

    pub(crate) fn park(_reason: WaitReason, unlock: impl FnOnce() -> bool) {
        let status = STATUS.with(|s| s.clone());
        status.store(WAITING, Ordering::Relaxed);
        if !unlock() {
            let was = status.swap(RUNNING, Ordering::AcqRel);
            assert_eq!(was, WAITING, "a cancelled park was woken");
            return;
        }
        while status.load(Ordering::Acquire) != RUNNABLE {
            loom::thread::park();
        }
        status.store(RUNNING, Ordering::Relaxed);
    }
}

/// Loom models: the owner in `block_on` on the main loom thread, wakers on
/// others, every interleaving (within a preemption bound) of polls, parks
/// and wakes.
#[cfg(all(test, loom))]
mod loom_models {
    use super::block_on;
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::{Arc, Mutex};
    use loom::thread;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(f);
    }

    /// Ready once `done` is set; keeps the latest waker for the peers.
    #[derive(Clone, Default)]
    struct Event {
        done: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
    }

    impl Event {
        fn set(&self) {
            self.done.store(true, Ordering::Release);
            self.wake();
        }

        /// A wake for no reason.
        fn wake(&self) {
            let waker = self.waker.lock().unwrap().clone();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    impl Future for Event {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            // Store the waker before looking, so a `set` in between wakes it.
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.done.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    #[test]
    fn loom_block_on_one_wake_from_another_thread_ends_the_park() {
        model(|| {
            let event = Event::default();
            let setter = event.clone();
            let t = thread::spawn(move || setter.set());
            block_on(event);
            t.join().unwrap();
        });
    }

    /// Spurious wakes race the real one and outlive the call: one
    /// `Waiter::wake` per park, none after `block_on` returned.
    #[test]
    fn loom_block_on_spurious_wakes_before_during_and_after() {
        model(|| {
            let event = Event::default();
            let (setter, spurious) = (event.clone(), event.clone());
            let t1 = thread::spawn(move || setter.set());
            let t2 = thread::spawn(move || {
                spurious.wake();
                spurious.wake();
            });
            block_on(event);
            t1.join().unwrap();
            t2.join().unwrap();
        });
    }

    /// Two calls in a row share nothing: a late wake of the first call's
    /// waker never ends the second call's park.
    #[test]
    fn loom_block_on_a_stale_waker_does_not_end_the_next_park() {
        model(|| {
            let first = Event::default();
            first.done.store(true, Ordering::Relaxed);
            block_on(first.clone()); // leaves its waker behind
            let second = Event::default();
            let (stale, setter) = (first.clone(), second.clone());
            let t1 = thread::spawn(move || stale.wake());
            let t2 = thread::spawn(move || setter.set());
            block_on(second);
            t1.join().unwrap();
            t2.join().unwrap();
        });
    }
}
