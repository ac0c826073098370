//! The join cell: a goroutine's result and join state, in a small
//! allocation of its own that the `JoinHandle` owns, apart from the G.
//!
//! ```text
//!   JoinCell<T> (repr C)                     G (task_alloc, recycled at exit)
//!   +------------------------------+         +----------------------+
//!   | JoinCore: state and id, wait,| <------ | join (until complete)|
//!   |   shared, spawn site         |         | ...                  |
//!   +------------------------------+         +----------------------+
//!   | result: thread::Result<T>    |
//!   +------------------------------+
//! ```
//!
//! Go recycles a G when its goroutine exits. A Rust `JoinHandle` may
//! outlive its goroutine by any amount (a program spawning a million and
//! joining them afterwards holds a million handles), so the G cannot be
//! what the handle keeps: the G (header, closure, goroutine-locals, about
//! three cache lines) goes back to its size-class cache at exit and the
//! handle keeps only this cell, 48 bytes for a word-sized result.
//!
//! Two owners, no reference count: the goroutine until it has completed,
//! and the handle until it is dropped. The `state` word settles who frees:
//! * `COMPLETE`: the result is written (Release), and the goroutine is done
//!   with the cell, unless `NOTIFYING` is also set.
//! * `NOTIFYING`: set together with `COMPLETE` when a joiner or waker is
//!   registered; the goroutine is still taking it out of `wait`, and clears
//!   the bit when it is done with the cell.
//! * `HANDLE_GONE`: the handle was dropped.
//! * Whoever makes the state `COMPLETE` and `HANDLE_GONE` without
//!   `NOTIFYING` (the handle's drop, or the goroutine's last step) frees.
//!
//! Waiting for the result (`JOIN_WAITING`, `WAKER_WAITING`) is the protocol
//! the G's join word used before the split: the handle writes its waiter or
//! waker into `wait` (a box allocated at the first wait, so a handle that
//! never waits costs no more) before setting the bit, and the goroutine
//! takes what it finds set when it completes; a bit cleared first by the
//! handle (re-registering a waker) or by shutdown (`abort_join_wait`) keeps
//! the goroutine away from the slot.

use super::park::Waiter;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::thread;

/// The result is written; see the module docs.
const COMPLETE: usize = 1;
/// A joiner's waiter is in `wait.joiner`.
const JOIN_WAITING: usize = 2;
/// A `Waker` awaiting the handle (as a `Future`) is in `wait.waker`.
const WAKER_WAITING: usize = 4;
/// The completing goroutine is taking the registered waiters out.
const NOTIFYING: usize = 8;
/// The handle was dropped.
const HANDLE_GONE: usize = 16;
/// The handle took the result (handle-only bit).
const TAKEN: usize = 32;
/// The goroutine id sits above the state bits, in the same word, so that
/// a cell with a word-sized result fits the 48-byte class. Every change
/// of state is a `fetch_or`, `fetch_and` or CAS of the low bits, so the id
/// never changes; ids past 2^58 (centuries of spawning) would wrap.
const ID_SHIFT: u32 = 6;

/// Where a waiting handle leaves its waiter or waker.
#[derive(Default)]
struct Wait {
    joiner: Option<Waiter>,
    waker: Option<std::task::Waker>,
}

/// The type-independent part of a [`JoinCell`], first in it.
pub(crate) struct JoinCore {
    /// The state bits, with the goroutine id above them.
    state: AtomicUsize,
    /// Allocated by the handle before it first sets a waiting bit, then
    /// never replaced; its contents move per the bits (module docs).
    wait: UnsafeCell<Option<Box<Wait>>>,
    /// The goroutine's runtime. Valid while the goroutine has not
    /// completed (a goroutine that has not exited keeps it alive).
    pub(crate) shared: *const super::Shared,
    /// Where `go` was called, for the handle's `Debug`.
    pub(crate) spawn_site: &'static std::panic::Location<'static>,
}

/// A listed join cell (`Shared::foreign_joiners`).
pub(crate) struct CoreRef(pub(crate) NonNull<JoinCore>);

// SAFETY: the cell's shared fields are atomic or handed over by its state
// protocol; the list only passes it to `abort_join_wait`.
unsafe impl Send for CoreRef {}

/// A goroutine's join cell.
#[repr(C)]
pub(crate) struct JoinCell<T> {
    core: JoinCore,
    /// Written once by the goroutine (or by the scheduler for one that
    /// could not start) before `COMPLETE`; moved out by the handle after
    /// it saw `COMPLETE`, which it records with `TAKEN`.
    result: UnsafeCell<MaybeUninit<thread::Result<T>>>,
}

/// Frees a `JoinCell<T>` whose `T` the caller's code does not name (the
/// G's vtable carries it).
pub(crate) type FreeFn = unsafe fn(NonNull<JoinCore>);

impl<T> JoinCell<T> {
    /// A cell for goroutine `id`, owned by the goroutine and the handle.
    pub(crate) fn new(
        id: u64,
        shared: *const super::Shared,
        spawn_site: &'static std::panic::Location<'static>,
    ) -> NonNull<JoinCell<T>> {
        let layout = std::alloc::Layout::new::<JoinCell<T>>();
        let mem = super::task_alloc::alloc(layout).cast::<JoinCell<T>>();
        // SAFETY: fresh memory with the cell's layout.
        unsafe {
            mem.write(JoinCell {
                core: JoinCore {
                    state: AtomicUsize::new((id as usize) << ID_SHIFT),
                    wait: UnsafeCell::new(None),
                    shared,
                    spawn_site,
                },
                result: UnsafeCell::new(MaybeUninit::uninit()),
            });
            NonNull::new_unchecked(mem)
        }
    }

    pub(crate) fn core(this: NonNull<JoinCell<T>>) -> NonNull<JoinCore> {
        // repr(C), core first.
        this.cast()
    }

    /// Stores the goroutine's result.
    ///
    /// # Safety
    /// By the goroutine's side, once, before it completes.
    pub(crate) unsafe fn set_result(this: NonNull<JoinCell<T>>, r: thread::Result<T>) {
        // SAFETY: per the contract, nobody else touches `result` before
        // COMPLETE.
        unsafe { (*(*this.as_ptr()).result.get()).write(r) };
    }

    /// Moves the result out: `Some` the first time after completion.
    ///
    /// # Safety
    /// By the handle's owner, after it observed `COMPLETE` (Acquire).
    pub(crate) unsafe fn take_result(this: NonNull<JoinCell<T>>) -> Option<thread::Result<T>> {
        // SAFETY: the cell is alive while the handle is.
        let cell = unsafe { &*this.as_ptr() };
        // Relaxed: TAKEN is the handle's own bit; the others are not
        // changed by it.
        if cell.core.state.fetch_or(TAKEN, Ordering::Relaxed) & TAKEN != 0 {
            return None;
        }
        // SAFETY: COMPLETE was observed, so the result is written, and
        // TAKEN was clear, so it is still there.
        Some(unsafe { (*cell.result.get()).assume_init_read() })
    }

    /// The handle lets go: frees the cell, or leaves that to the
    /// goroutine if it has not finished with it.
    ///
    /// # Safety
    /// By the handle's owner, once, as its last use of the cell.
    pub(crate) unsafe fn release_handle(this: NonNull<JoinCell<T>>) {
        // SAFETY: alive until this call.
        let core = unsafe { &(*this.as_ptr()).core };
        // AcqRel: Acquire orders our free after the goroutine's last use;
        // Release hands our earlier writes (a taken result) to its free.
        let prev = core.state.fetch_or(HANDLE_GONE, Ordering::AcqRel);
        if prev & COMPLETE != 0 && prev & NOTIFYING == 0 {
            // SAFETY: both owners are done with it.
            unsafe { Self::free(Self::core(this)) };
        }
    }

    /// Drops what the cell holds and returns its memory.
    ///
    /// # Safety
    /// `core` heads a `JoinCell<T>` that neither owner will touch again.
    pub(crate) unsafe fn free(core: NonNull<JoinCore>) {
        let cell = core.cast::<JoinCell<T>>().as_ptr();
        // SAFETY: per the contract; the last state change was made with
        // AcqRel by whoever calls this, so all writes to the cell are
        // visible.
        unsafe {
            let state = (*cell).core.state.load(Ordering::Acquire);
            if state & COMPLETE != 0 && state & TAKEN == 0 {
                (*(*cell).result.get()).assume_init_drop();
            }
            std::ptr::drop_in_place(cell);
            let layout = std::alloc::Layout::new::<JoinCell<T>>();
            super::task_alloc::dealloc(cell.cast(), layout);
        }
    }

    /// Registers, or replaces, the waker of a task awaiting the handle.
    /// False when the goroutine has already completed: nobody will wake it
    /// and the result can be taken.
    ///
    /// # Safety
    /// By the handle's owner, one call at a time.
    pub(crate) unsafe fn set_join_waker(
        this: NonNull<JoinCell<T>>,
        waker: &std::task::Waker,
    ) -> bool {
        // SAFETY: alive while the handle is.
        let core = unsafe { &(*this.as_ptr()).core };
        // Take the slot back from a previous registration. AcqRel: Acquire
        // makes the result visible if COMPLETE is already set.
        let prev = core.state.fetch_and(!WAKER_WAITING, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // complete() saw WAKER_WAITING (if it was set) and owns the
            // slot; it wakes the old waker, a harmless spurious wake.
            return false;
        }
        // SAFETY: WAKER_WAITING is clear and COMPLETE was not set when we
        // cleared it, so complete() will not touch the slot.
        unsafe {
            let wait = core.wait_box();
            if !wait.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                wait.waker = Some(waker.clone());
            }
        }
        // AcqRel: Release publishes the waker to complete(); Acquire makes
        // the result visible if COMPLETE is already set.
        let prev = core.state.fetch_or(WAKER_WAITING, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // complete() ran in between and did not see WAKER_WAITING.
            // SAFETY: it has finished with the slot and ignored it.
            drop(unsafe { core.wait_box() }.waker.take());
            return false;
        }
        true
    }

    /// Registers the joiner's waiter. False when the goroutine has already
    /// completed, in which case nobody will wake the waiter.
    ///
    /// # Safety
    /// By the handle's owner, at most once.
    pub(crate) unsafe fn set_joiner(this: NonNull<JoinCell<T>>, waiter: Waiter) -> bool {
        // SAFETY: alive while the handle is.
        let core = unsafe { &(*this.as_ptr()).core };
        // SAFETY: nobody reads `joiner` before JOIN_WAITING is set.
        unsafe { core.wait_box().joiner = Some(waiter) };
        let prev = core.state.fetch_or(JOIN_WAITING, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // The goroutine did not see JOIN_WAITING: reclaim.
            // SAFETY: complete() has run and ignored `joiner`.
            drop(unsafe { core.wait_box() }.joiner.take());
            return false;
        }
        true
    }
}

impl JoinCore {
    /// The goroutine's id.
    pub(crate) fn id(&self) -> u64 {
        (self.state.load(Ordering::Relaxed) >> ID_SHIFT) as u64
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// The wait box, allocated on first use.
    ///
    /// # Safety
    /// By the handle's owner, while the goroutine cannot be reading the
    /// part of it the caller touches (module docs).
    #[allow(clippy::mut_from_ref)]
    unsafe fn wait_box(&self) -> &mut Wait {
        // SAFETY: per the contract; the box itself is written only here,
        // by the handle, before any waiting bit was ever set, so the
        // goroutine (which reads it only after seeing one) never races
        // with this write.
        unsafe { (*self.wait.get()).get_or_insert_with(Box::default) }
    }

    /// The goroutine is done: marks the result available and wakes a
    /// registered joiner or waker. The goroutine's last use of the cell;
    /// `free` is the cell's `JoinCell::<T>::free`.
    ///
    /// # Safety
    /// By the goroutine's side, once, after its result was stored.
    pub(crate) unsafe fn complete(this: NonNull<JoinCore>, free: FreeFn) {
        // SAFETY: the goroutine co-owns the cell until this call.
        let core = unsafe { this.as_ref() };
        // Set COMPLETE, and NOTIFYING too when someone waits, so that the
        // handle does not free the cell while we take its waiter out.
        // AcqRel: Release publishes the result; Acquire makes a waiter
        // (written before its bit was set) visible.
        let mut cur = core.state.load(Ordering::Relaxed);
        let prev = loop {
            let waiting = cur & (JOIN_WAITING | WAKER_WAITING) != 0;
            let new = cur | COMPLETE | if waiting { NOTIFYING } else { 0 };
            match core
                .state
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(prev) => break prev,
                Err(actual) => cur = actual,
            }
        };
        if prev & (JOIN_WAITING | WAKER_WAITING) == 0 {
            if prev & HANDLE_GONE != 0 {
                // SAFETY: the handle is gone and we are done.
                unsafe { free(this) };
            }
            return;
        }
        // SAFETY: the handle set the bits after writing the box, and with
        // COMPLETE set it no longer touches the slots whose bits we saw.
        let (joiner, waker) = unsafe {
            let wait = (*core.wait.get())
                .as_deref_mut()
                .expect("a waiting bit without a wait box");
            (
                if prev & JOIN_WAITING != 0 {
                    wait.joiner.take()
                } else {
                    None
                },
                if prev & WAKER_WAITING != 0 {
                    wait.waker.take()
                } else {
                    None
                },
            )
        };
        let prev = core.state.fetch_and(!NOTIFYING, Ordering::AcqRel);
        let id = (prev >> ID_SHIFT) as u64;
        if prev & HANDLE_GONE != 0 {
            // SAFETY: the handle let go while we notified; we are last.
            unsafe { free(this) };
        }
        // The cell may be gone now; the waiters are ours.
        if let Some(w) = joiner {
            w.wake();
        }
        if let Some(w) = waker {
            // Foreign code, possibly on g0 (a goroutine that could not
            // start): a panic must not unwind into the scheduler.
            if panic::catch_unwind(AssertUnwindSafe(|| w.wake())).is_err() {
                eprintln!("goroutines: a Waker awaiting goroutine {id} panicked");
            }
        }
    }

    /// Runtime shutdown: ends a blocking join that would otherwise wait for
    /// ever, by waking the registered joiner without completing. If the
    /// goroutine completes first, it wakes the joiner as usual; either way
    /// the joiner is woken exactly once.
    ///
    /// # Safety
    /// The cell must be alive: its handle's owner is blocked in the join
    /// and cannot return before the caller is done (shutdown holds the
    /// `foreign_joiners` lock the joiner takes on its way out).
    pub(crate) unsafe fn abort_join_wait(&self) {
        // AcqRel: Acquire makes the joiner's waiter (written before it set
        // JOIN_WAITING) visible; clearing the bit keeps complete() away
        // from the slot.
        let prev = self.state.fetch_and(!JOIN_WAITING, Ordering::AcqRel);
        if prev & JOIN_WAITING != 0 && prev & COMPLETE == 0 {
            // SAFETY: we cleared JOIN_WAITING before COMPLETE was set, so
            // complete() will not touch `joiner`, and the joiner does not
            // touch it while waiting.
            let joiner = unsafe { (*self.wait.get()).as_deref_mut() }.and_then(|w| w.joiner.take());
            if let Some(w) = joiner {
                w.wake();
            }
        }
    }
}

/// Loom models of the cell's two-owner protocol: the goroutine completing
/// while the handle registers wakers, takes the result and lets go. In
/// every interleaving the result must be dropped exactly once (by its
/// taker, or by the one `free`: a missed or doubled free shows as a count
/// of 0 or 2) and no wake-up may be lost.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc as LoomArc;
    use std::sync::atomic::AtomicUsize as StdAtomic;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct CountingWaker(StdAtomic);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A result whose drop is counted: the cell must drop it exactly once
    /// (by `take_result`'s caller, or by `free` if never taken).
    struct Counted(LoomArc<loom::sync::atomic::AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct SendPtr<T>(NonNull<JoinCell<T>>);
    // SAFETY: the models hand the cell to the "goroutine" thread as the
    // runtime does.
    unsafe impl<T> Send for SendPtr<T> {}

    fn goroutine_side(cell: SendPtr<Counted>, drops: LoomArc<loom::sync::atomic::AtomicUsize>) {
        // SAFETY: the goroutine's side, once.
        unsafe {
            JoinCell::set_result(cell.0, Ok(Counted(drops)));
            JoinCore::complete(JoinCell::core(cell.0), JoinCell::<Counted>::free);
        }
    }

    /// Runs `body` under loom with a fresh cell and its drop counter.
    fn model(body: fn(NonNull<JoinCell<Counted>>, LoomArc<loom::sync::atomic::AtomicUsize>)) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(move || {
            let drops = LoomArc::new(loom::sync::atomic::AtomicUsize::new(0));
            let cell =
                JoinCell::<Counted>::new(1, std::ptr::null(), std::panic::Location::caller());
            body(cell, drops);
        });
    }

    #[test]
    fn loom_join_waker_reregistered_while_the_goroutine_exits() {
        model(|cell, drops| {
            let g = SendPtr(cell);
            let d = drops.clone();
            let exiting = loom::thread::spawn(move || goroutine_side(g, d));
            let wakers: Vec<_> = (0..2)
                .map(|_| Arc::new(CountingWaker(StdAtomic::new(0))))
                .collect();
            let mut pending_on = None;
            for w in &wakers {
                // SAFETY: this thread owns the handle; calls do not overlap.
                if unsafe { JoinCell::set_join_waker(cell, &Waker::from(w.clone())) } {
                    pending_on = Some(w.clone());
                } else {
                    pending_on = None;
                    break;
                }
            }
            exiting.join().unwrap();
            if let Some(latest) = pending_on {
                assert_eq!(
                    latest.0.load(std::sync::atomic::Ordering::SeqCst),
                    1,
                    "a lost wake-up"
                );
            }
            // SAFETY: the handle's side; completion observed by join above.
            unsafe {
                assert!(JoinCell::core(cell).as_ref().is_finished());
                let out = JoinCell::take_result(cell);
                assert!(matches!(out, Some(Ok(_))));
                drop(out);
                JoinCell::release_handle(cell);
            }
            assert_eq!(drops.load(Ordering::SeqCst), 1, "the result dropped once");
        });
    }

    /// The handle is dropped (unjoined, or after a poll registered a
    /// waker) while the goroutine completes: whichever comes last frees,
    /// and the result is dropped exactly once.
    #[test]
    fn loom_handle_dropped_while_the_goroutine_completes() {
        model(|cell, drops| {
            let waker = Arc::new(CountingWaker(StdAtomic::new(0)));
            // SAFETY: the handle's side, before the goroutine starts.
            let registered = unsafe { JoinCell::set_join_waker(cell, &Waker::from(waker.clone())) };
            assert!(registered);
            let g = SendPtr(cell);
            let d = drops.clone();
            let exiting = loom::thread::spawn(move || goroutine_side(g, d));
            // SAFETY: the handle's last use.
            unsafe { JoinCell::release_handle(cell) };
            exiting.join().unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), 1, "the result dropped once");
            assert_eq!(waker.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// What a spawn-and-join-later program keeps per handle: a cell for a
    /// word-sized result must stay in the 48-byte class.
    #[test]
    fn a_word_sized_result_cell_fits_48_bytes() {
        assert!(std::mem::size_of::<JoinCell<u64>>() <= 48);
        assert!(std::mem::size_of::<JoinCell<()>>() <= 48);
    }

    #[test]
    fn the_id_survives_every_state_change() {
        let id = (1u64 << 57) + 12345;
        let cell = JoinCell::<u8>::new(id, std::ptr::null(), std::panic::Location::caller());
        // SAFETY: this test plays both owners, in order.
        unsafe {
            let core = JoinCell::core(cell);
            assert_eq!(core.as_ref().id(), id);
            let w = std::task::Waker::noop();
            assert!(JoinCell::set_join_waker(cell, w));
            JoinCell::set_result(cell, Ok(7));
            JoinCore::complete(core, JoinCell::<u8>::free);
            assert_eq!(core.as_ref().id(), id);
            assert!(core.as_ref().is_finished());
            assert!(matches!(JoinCell::take_result(cell), Some(Ok(7))));
            assert!(JoinCell::take_result(cell).is_none());
            JoinCell::release_handle(cell);
        }
    }
}
