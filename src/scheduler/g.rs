//! G: a goroutine. One heap allocation holds the G header, the closure and,
//! later, its result.
//!
//! ```text
//!   Task<F, T> (repr C)
//!   +---------------------+
//!   | G header            |  refcount, id, status, join state, context
//!   +---------------------+
//!   | Stage<F, T>         |  Pending(F) -> Finished(thread::Result<T>) -> Taken
//!   +---------------------+
//! ```
//!
//! The header's [`Vtable`] is the only code that knows `F` and `T`.
//!
//! States (`status`, low byte) and who owns the G in each:
//! * `RUNNABLE`: on a run queue, in a `runnext` slot, or being handed to an
//!   M. The queue (or whoever took it off) owns the scheduling reference; the
//!   stack, if any, is not in use.
//! * `RUNNING`: executing on an M. The M's `curg` owns the reference and the
//!   stack is in use. Only that M touches `ctx`.
//! * `WAITING`: parked; the wait reason is in the second byte. Whoever holds
//!   the [`super::park::Waiter`] may ready it, exactly once.
//! * `DEAD`: exited; the stack went back to a cache. Only the `JoinHandle`
//!   (and `Waiter`s never woken, which cannot exist for a dead G) keep it.
//!
//! Reference counting: the scheduler holds one reference while the goroutine
//! has not exited, the `JoinHandle` holds one until dropped, and every
//! `Waiter` holds one. The allocation is freed when the count reaches zero.

use crate::loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crate::stack::Stack;
use std::alloc::Layout;
use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe, Location};
use std::ptr::NonNull;
use std::thread;

/// Why a goroutine is parked: shown by `JoinHandle`'s `Debug`, dumps and
/// the deadlock report, with Go's names for the same waits. Each blocking
/// layer adds its own reason when it lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum WaitReason {
    None = 0,
    Join,
    ChanReceive,
    ChanSend,
    Select,
    Sleep,
    Mutex,
    RwLock,
    Condvar,
    WaitGroup,
    Once,
    Syscall,
    IoWait,
    BlockOn,
}

impl WaitReason {
    fn from_u8(v: u8) -> WaitReason {
        use WaitReason::*;
        [
            None,
            Join,
            ChanReceive,
            ChanSend,
            Select,
            Sleep,
            Mutex,
            RwLock,
            Condvar,
            WaitGroup,
            Once,
            Syscall,
            IoWait,
            BlockOn,
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(None)
    }

    /// The name Go's dumps use for the same wait.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::Join => "join",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Mutex => "sync.Mutex",
            WaitReason::RwLock => "sync.RWMutex",
            WaitReason::Condvar => "sync.Cond.Wait",
            WaitReason::WaitGroup => "sync.WaitGroup.Wait",
            WaitReason::Once => "sync.Once",
            WaitReason::IoWait => "IO wait",
            WaitReason::Syscall => "syscall",
            WaitReason::BlockOn => "block_on",
        }
    }
}

pub(crate) const RUNNABLE: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const WAITING: u8 = 2;
pub(crate) const DEAD: u8 = 3;

/// `home` of a goroutine that may run on any P.
pub(crate) const NO_HOME: u32 = u32::MAX;

/// Join state bits.
const COMPLETE: usize = 1;
const JOIN_WAITING: usize = 2;
/// A `Waker` awaiting the `JoinHandle` (as a `Future`) is in `join_waker`.
const WAKER_WAITING: usize = 4;

/// The type-erased operations on a `Task<F, T>`.
pub(crate) struct Vtable {
    /// Runs the closure, catching a panic, and stores the result.
    run: unsafe fn(NonNull<G>),
    /// Drops the closure unrun and stores `Err(payload)` as the result.
    fail: unsafe fn(NonNull<G>, Box<dyn Any + Send>),
    /// Moves the result into `*out`, an `Option<thread::Result<T>>`.
    take_output: unsafe fn(NonNull<G>, *mut ()),
    /// Frees the allocation.
    dealloc: unsafe fn(NonNull<G>),
}

/// Per-goroutine execution context. Owned by the M running the goroutine, or
/// by whoever holds it while it is not running (see the module docs).
pub(crate) struct Context {
    /// Saved stack pointer while switched out.
    pub(crate) sp: usize,
    /// The stack, from first run until exit.
    pub(crate) stack: Option<Stack>,
}

/// The goroutine header.
pub(crate) struct G {
    refs: AtomicUsize,
    pub(crate) id: u64,
    vtable: &'static Vtable,
    /// State in the low byte, [`WaitReason`] in the next.
    status: AtomicU32,
    /// P index this goroutine is pinned to, or [`NO_HOME`]. Written once, by
    /// the M that first runs it, before it can be readied by anyone else.
    pub(crate) home: AtomicU32,
    /// COMPLETE | JOIN_WAITING | WAKER_WAITING.
    join: AtomicUsize,
    /// The joiner's waiter: written by the `JoinHandle` owner before it sets
    /// JOIN_WAITING (Release), read by the exiting goroutine after it sees
    /// JOIN_WAITING (Acquire).
    joiner: UnsafeCell<Option<super::park::Waiter>>,
    /// The waker of the task awaiting the `JoinHandle`: owned by the handle
    /// while WAKER_WAITING is clear; while it is set, taken by the exiting
    /// goroutine if it sets COMPLETE first (the handle then leaves it
    /// alone), else reclaimed by the handle, which clears the bit first.
    join_waker: UnsafeCell<Option<std::task::Waker>>,
    /// Protected by the G's state: see [`Context`].
    pub(crate) ctx: UnsafeCell<Context>,
    /// Where `go` was called: for dumps.
    pub(crate) spawn_site: &'static Location<'static>,
    /// The runtime this goroutine belongs to. The runtime's shared state
    /// outlives every goroutine that has not exited (it is leaked when a
    /// runtime is dropped with goroutines left).
    pub(crate) shared: *const super::Shared,
    /// Set by the M that first parks this goroutine, when it adds it to its
    /// P's registry (`registry.rs`). Only that M writes it.
    pub(crate) registered: AtomicBool,
    /// Runtime-clock time of the last park (sysmon's coarse clock), for
    /// dumps: how long it has waited.
    pub(crate) parked_at: AtomicU64,
    /// `goroutine_local!` values; touched only by the goroutine itself while
    /// it runs (and by its exit path).
    pub(crate) locals: UnsafeCell<crate::local::Locals>,
}

// SAFETY: every field shared between threads is atomic or protected by the
// ownership protocol in the module docs; F and T are Send (enforced by
// `new_task`).
unsafe impl Sync for G {}
// SAFETY: as above.
unsafe impl Send for G {}

#[repr(C)]
struct Task<F, T> {
    header: G,
    stage: UnsafeCell<Stage<F, T>>,
}

enum Stage<F, T> {
    Pending(F),
    Finished(thread::Result<T>),
    Taken,
}

/// An owned, counted reference to a G.
pub(crate) struct GRef(NonNull<G>);

// SAFETY: G is Send + Sync.
unsafe impl Send for GRef {}
// SAFETY: as above.
unsafe impl Sync for GRef {}

impl GRef {
    pub(crate) fn as_ptr(&self) -> *const G {
        self.0.as_ptr()
    }

    /// Gives up ownership without touching the count.
    pub(crate) fn into_raw(self) -> *const G {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` must come from [`GRef::into_raw`], and be used once.
    pub(crate) unsafe fn from_raw(p: *const G) -> GRef {
        // SAFETY: into_raw never yields null.
        GRef(unsafe { NonNull::new_unchecked(p as *mut G) })
    }
}

impl std::ops::Deref for GRef {
    type Target = G;
    fn deref(&self) -> &G {
        // SAFETY: a GRef keeps the allocation alive.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for GRef {
    fn clone(&self) -> GRef {
        self.refs.fetch_add(1, Ordering::Relaxed);
        GRef(self.0)
    }
}

impl Drop for GRef {
    fn drop(&mut self) {
        // Release pairs with the Acquire below, so that everything done
        // through other references happens before the free.
        if self.refs.fetch_sub(1, Ordering::Release) == 1 {
            crate::loom::sync::atomic::fence(Ordering::Acquire);
            // SAFETY: the last reference is gone.
            unsafe { (self.vtable.dealloc)(self.0) }
        }
    }
}

/// Allocates a goroutine running `f`, with two references: the scheduler's
/// and the join handle's.
pub(crate) fn new_task<F, T>(
    f: F,
    id: u64,
    shared: *const super::Shared,
    spawn_site: &'static Location<'static>,
) -> (GRef, GRef)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let task = Task {
        header: G {
            refs: AtomicUsize::new(2),
            id,
            vtable: &Vtables::<F, T>::VTABLE,
            status: AtomicU32::new(RUNNABLE as u32),
            home: AtomicU32::new(NO_HOME),
            join: AtomicUsize::new(0),
            joiner: UnsafeCell::new(None),
            join_waker: UnsafeCell::new(None),
            ctx: UnsafeCell::new(Context { sp: 0, stack: None }),
            spawn_site,
            shared,
            registered: AtomicBool::new(false),
            parked_at: AtomicU64::new(0),
            locals: UnsafeCell::new(crate::local::Locals::default()),
        },
        stage: UnsafeCell::new(Stage::<F, T>::Pending(f)),
    };
    let mem = super::task_alloc::alloc(Layout::new::<Task<F, T>>()).cast::<Task<F, T>>();
    // SAFETY: `mem` is fresh memory with Task's layout.
    unsafe { mem.write(task) };
    // Task is repr(C) with the header first, so the pointer is also a G's.
    // SAFETY: alloc never returns null.
    let g = unsafe { NonNull::new_unchecked(mem.cast::<G>()) };
    (GRef(g), GRef(g))
}

struct Vtables<F, T>(std::marker::PhantomData<(F, T)>);

impl<F: FnOnce() -> T + Send + 'static, T: Send + 'static> Vtables<F, T> {
    const VTABLE: Vtable = Vtable {
        run: Self::run,
        fail: Self::fail,
        take_output: Self::take_output,
        dealloc: Self::dealloc,
    };

    /// # Safety
    /// `g` heads a live `Task<F, T>` whose stage only the caller touches.
    unsafe fn stage<'a>(g: NonNull<G>) -> &'a mut Stage<F, T> {
        // SAFETY: per the caller's contract.
        unsafe { &mut *(*g.cast::<Task<F, T>>().as_ptr()).stage.get() }
    }

    unsafe fn run(g: NonNull<G>) {
        // SAFETY: only the goroutine itself touches its stage while running.
        let stage = unsafe { Self::stage(g) };
        let Stage::Pending(f) = std::mem::replace(stage, Stage::Taken) else {
            unreachable!("goroutine run twice")
        };
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        *stage = Stage::Finished(result);
    }

    unsafe fn fail(g: NonNull<G>, payload: Box<dyn Any + Send>) {
        // SAFETY: the goroutine never ran; the scheduler owns it.
        let stage = unsafe { Self::stage(g) };
        *stage = Stage::Finished(Err(payload));
    }

    unsafe fn take_output(g: NonNull<G>, out: *mut ()) {
        // SAFETY: called once COMPLETE is observed (Acquire), by the unique
        // join handle.
        let stage = unsafe { Self::stage(g) };
        if let Stage::Finished(r) = std::mem::replace(stage, Stage::Taken) {
            // SAFETY: the caller passes an Option<thread::Result<T>>.
            unsafe { *out.cast::<Option<thread::Result<T>>>() = Some(r) };
        }
    }

    unsafe fn dealloc(g: NonNull<G>) {
        let task = g.cast::<Task<F, T>>().as_ptr();
        // SAFETY: the last reference is gone; the memory came from
        // task_alloc::alloc with this layout in new_task.
        unsafe {
            std::ptr::drop_in_place(task);
            super::task_alloc::dealloc(task.cast(), Layout::new::<Task<F, T>>());
        }
    }
}

impl G {
    pub(crate) fn state(&self) -> (u8, WaitReason) {
        let s = self.status.load(Ordering::Relaxed);
        (s as u8, WaitReason::from_u8((s >> 8) as u8))
    }

    /// The state as Go's dumps print it: `runnable`, `running`, the wait
    /// reason, or `dead`.
    pub(crate) fn describe_state(&self) -> &'static str {
        match self.state() {
            (RUNNABLE, _) => "runnable",
            (RUNNING, _) => "running",
            (WAITING, reason) => reason.as_str(),
            _ => "dead",
        }
    }

    pub(crate) fn set_state(&self, state: u8, reason: WaitReason) {
        self.status
            .store(state as u32 | (reason as u32) << 8, Ordering::Relaxed);
    }

    /// WAITING -> RUNNABLE; anything else is a broken wake-once protocol.
    pub(crate) fn transition_to_runnable(&self) {
        let cur = self.status.load(Ordering::Relaxed);
        if cur as u8 != WAITING
            || self
                .status
                .compare_exchange(cur, RUNNABLE as u32, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            crate::fatal(format_args!(
                "readying goroutine {} which is not parked (state {})",
                self.id, cur as u8
            ));
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.join.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Runs the closure (on the goroutine's own stack).
    ///
    /// # Safety
    /// Called once, by the goroutine itself.
    pub(crate) unsafe fn run(&self) {
        // SAFETY: per the caller's contract.
        unsafe { (self.vtable.run)(NonNull::from(self)) }
    }

    /// Records that the goroutine could not start.
    ///
    /// # Safety
    /// The goroutine must never have run and the caller must own it.
    pub(crate) unsafe fn fail(&self, payload: Box<dyn Any + Send>) {
        // SAFETY: per the caller's contract.
        unsafe { (self.vtable.fail)(NonNull::from(self), payload) }
    }

    /// Marks the result available and wakes a waiting joiner.
    pub(crate) fn complete(&self) {
        // AcqRel: Release publishes the result to the joiner; Acquire makes
        // the joiner's waiter (written before it set JOIN_WAITING) visible.
        let prev = self.join.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & JOIN_WAITING != 0 {
            // SAFETY: the joiner wrote the waiter before setting JOIN_WAITING
            // and touches it no more; we are the only reader.
            let waiter = unsafe { (*self.joiner.get()).take() };
            if let Some(w) = waiter {
                w.wake();
            }
        }
        if prev & WAKER_WAITING != 0 {
            // SAFETY: the handle wrote the waker before setting
            // WAKER_WAITING, and once it sees COMPLETE it leaves the slot
            // to us (set_join_waker).
            let waker = unsafe { (*self.join_waker.get()).take() };
            if let Some(w) = waker {
                // Foreign code, possibly on g0 (a goroutine that could not
                // start): a panic must not unwind into the scheduler.
                if panic::catch_unwind(AssertUnwindSafe(|| w.wake())).is_err() {
                    eprintln!(
                        "goroutines: a Waker awaiting goroutine {} panicked",
                        self.id
                    );
                }
            }
        }
    }

    /// Registers, or replaces, the waker of a task awaiting the join
    /// handle. Returns false when the goroutine has already completed, in
    /// which case nobody will wake it and the result can be taken.
    ///
    /// # Safety
    /// Only the join handle's owner may call this, one call at a time.
    pub(crate) unsafe fn set_join_waker(&self, waker: &std::task::Waker) -> bool {
        // Take the slot back from a previous registration. AcqRel: Acquire
        // makes the result visible if COMPLETE is already set.
        let prev = self.join.fetch_and(!WAKER_WAITING, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // complete() saw WAKER_WAITING (if it was set) and owns the
            // slot; it wakes the old waker, a harmless spurious wake.
            return false;
        }
        // SAFETY: WAKER_WAITING is clear and COMPLETE was not set when we
        // cleared it, so complete() will not touch the slot.
        unsafe {
            let slot = &mut *self.join_waker.get();
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
        // AcqRel: Release publishes the waker to complete(); Acquire makes
        // the result visible if COMPLETE is already set.
        let prev = self.join.fetch_or(WAKER_WAITING, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // complete() ran in between and did not see WAKER_WAITING.
            // SAFETY: it has finished with the join word and ignored the slot.
            drop(unsafe { (*self.join_waker.get()).take() });
            return false;
        }
        true
    }

    /// Registers the joiner's waiter. Returns false when the goroutine has
    /// already completed, in which case nobody will wake the waiter.
    ///
    /// # Safety
    /// Only the join handle's owner may call this, at most once.
    pub(crate) unsafe fn set_joiner(&self, waiter: super::park::Waiter) -> bool {
        // SAFETY: nobody reads `joiner` before JOIN_WAITING is set.
        unsafe { *self.joiner.get() = Some(waiter) };
        let prev = self.join.fetch_or(JOIN_WAITING, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // The exiting goroutine did not see JOIN_WAITING: reclaim.
            // SAFETY: complete() has run and ignored `joiner`.
            drop(unsafe { (*self.joiner.get()).take() });
            return false;
        }
        true
    }

    /// Runtime shutdown: ends a blocking join that would otherwise wait for
    /// ever, by waking the registered joiner without completing. If the
    /// goroutine completes first, `complete` wakes the joiner as usual;
    /// either way the joiner is woken exactly once.
    pub(crate) fn abort_join_wait(&self) {
        // AcqRel: Acquire makes the joiner's waiter (written before it set
        // JOIN_WAITING) visible; clearing the bit keeps complete() away
        // from the slot.
        let prev = self.join.fetch_and(!JOIN_WAITING, Ordering::AcqRel);
        if prev & JOIN_WAITING != 0 && prev & COMPLETE == 0 {
            // SAFETY: we cleared JOIN_WAITING before COMPLETE was set, so
            // complete() will not touch `joiner`, and the joiner does not
            // touch it while waiting.
            if let Some(w) = unsafe { (*self.joiner.get()).take() } {
                w.wake();
            }
        }
    }

    /// Moves the result out: `Some` the first time after completion.
    ///
    /// # Safety
    /// `T` must be this task's output type; completion must be observed.
    pub(crate) unsafe fn take_output<T>(&self) -> Option<thread::Result<T>> {
        let mut out: Option<thread::Result<T>> = None;
        // SAFETY: per the caller's contract.
        unsafe { (self.vtable.take_output)(NonNull::from(self), (&raw mut out).cast()) };
        out
    }
}
