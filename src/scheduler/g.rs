//! G: a goroutine. One allocation holds the G header and the closure; the
//! result goes to the goroutine's join cell (`join_cell.rs`), which the
//! `JoinHandle` owns, so the G itself is freed (back to its size class,
//! `task_alloc.rs`) when the goroutine exits, as Go recycles its Gs,
//! however long the handle lives.
//!
//! ```text
//!   Task<F, T> (repr C)
//!   +---------------------+
//!   | G header            |  refcount, id, status, join cell, context
//!   +---------------------+
//!   | Option<F>           |  taken when the goroutine starts
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
//! * `DEAD`: exited; the stack went back to a cache. The scheduler drops its
//!   reference, which is normally the last.
//!
//! Reference counting: the scheduler holds one reference while the goroutine
//! has not exited, and every counted `Waiter` holds one (so does the
//! registry of goroutines that have parked, for dumps, until the goroutine
//! exits). The allocation is freed when the count reaches zero.

use super::join_cell::{self, JoinCell, JoinCore};
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::stack::Stack;
use std::alloc::Layout;
use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe, Location};
use std::ptr::NonNull;

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

/// The type-erased operations on a `Task<F, T>`.
pub(crate) struct Vtable {
    /// Runs the closure, catching a panic, and stores the result in the
    /// join cell.
    run: unsafe fn(NonNull<G>),
    /// Drops the closure unrun and stores `Err(payload)` as the result.
    fail: unsafe fn(NonNull<G>, Box<dyn Any + Send>),
    /// Frees the join cell (`JoinCell::<T>::free`).
    free_join: join_cell::FreeFn,
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
///
/// `repr(C)`, ordered so that what every park, `ready` and resume touches
/// (the count, the state, the home, the park time, the id, the runtime, the
/// saved context and the registry slot) fills the first 64-byte line, and
/// what only the first run and the exit need (the vtable, the join cell,
/// the spawn site, the locals) shares the second line with the closure
/// behind it (`Task` is 64-byte aligned, see `task_alloc.rs`). A
/// goroutine woken after the cache forgot it (a parked HTTP connection,
/// most goroutines of a million) then costs one miss, not two: with the
/// state and home on the second line, `ready` and the run that follows
/// touched both.
#[repr(C)]
pub(crate) struct G {
    // ---- first line: every park, ready and resume
    /// 32 bits: references are the scheduler's, one per counted waiter and
    /// the registry's, a handful at most (`clone` aborts far below wrapping),
    /// and the G stays at 96 bytes.
    refs: AtomicU32,
    /// State in the low byte, [`WaitReason`] in the next.
    status: AtomicU32,
    /// P index this goroutine is pinned to, or [`NO_HOME`]. Written once, by
    /// the M that first runs it, before it can be readied by anyone else.
    pub(crate) home: AtomicU32,
    /// Runtime-clock milliseconds (sysmon's coarse clock, wrapping) at the
    /// last park, for dumps: how long it has waited. 32 bits keep the G in
    /// a smaller size class; dumps read the wait modulo 49 days.
    pub(crate) parked_at_ms: AtomicU32,
    pub(crate) id: u64,
    /// The runtime this goroutine belongs to. The runtime's shared state
    /// outlives every goroutine that has not exited (it is leaked when a
    /// runtime is dropped with goroutines left).
    pub(crate) shared: *const super::Shared,
    /// Protected by the G's state: see [`Context`].
    pub(crate) ctx: UnsafeCell<Context>,
    /// Where this goroutine is listed in a P's registry (`registry.rs`):
    /// P index in the high half, position + 1 in the low; 0 if it never
    /// parked (or has left). Written under that registry's lock.
    pub(crate) registry_slot: AtomicU64,
    // ---- second line: first run and exit
    vtable: &'static Vtable,
    /// The join cell the result goes to; the goroutine's to use until it
    /// calls [`G::complete`], never after (the handle may free it then).
    join: NonNull<JoinCore>,
    /// Where `go` was called: for dumps.
    pub(crate) spawn_site: &'static Location<'static>,
    /// `goroutine_local!` values; touched only by the goroutine itself while
    /// it runs (and by its exit path).
    pub(crate) locals: UnsafeCell<crate::local::Locals>,
}

// The first line holds what `ready` and a resume touch (see G's docs).
// (loom's atomics are larger, and its runs are not about speed.)
#[cfg(not(loom))]
const _: () = {
    assert!(std::mem::offset_of!(G, registry_slot) + 8 <= 64);
    assert!(std::mem::offset_of!(G, vtable) == 64);
    assert!(std::mem::size_of::<G>() == 96);
};

impl G {
    /// Starts loading both lines of the goroutine at `g` (see G's docs) into
    /// the cache, for a caller that will run it soon: a queue pops one
    /// goroutine and prefetches the one behind it, whose header has often
    /// left the cache since it was queued (a million goroutines do not fit),
    /// so that its miss overlaps the current one's run. Any pointer will do:
    /// a prefetch never faults, so a goroutine stolen and freed meanwhile
    /// is harmless.
    #[inline(always)]
    pub(crate) fn prefetch(g: *const G) {
        crate::arch::prefetch(g.cast());
        crate::arch::prefetch(g.cast::<u8>().wrapping_add(64));
    }
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
    /// The closure, until the goroutine starts (or fails to).
    f: UnsafeCell<Option<F>>,
    _result: std::marker::PhantomData<fn() -> T>,
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
        // As `Arc` does: a count this high means references leak without
        // bound, and wrapping would free a live G.
        if self.refs.fetch_add(1, Ordering::Relaxed) > u32::MAX / 2 {
            std::process::abort();
        }
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

/// Allocates a goroutine running `f`, with the scheduler's reference, and
/// its join cell, for the join handle.
pub(crate) fn new_task<F, T>(
    f: F,
    id: u64,
    shared: *const super::Shared,
    spawn_site: &'static Location<'static>,
) -> (GRef, NonNull<JoinCell<T>>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let cell = JoinCell::<T>::new(id, shared, spawn_site);
    let task = Task {
        header: G {
            refs: AtomicU32::new(1),
            id,
            vtable: &Vtables::<F, T>::VTABLE,
            status: AtomicU32::new(RUNNABLE as u32),
            home: AtomicU32::new(NO_HOME),
            join: JoinCell::core(cell),
            ctx: UnsafeCell::new(Context { sp: 0, stack: None }),
            spawn_site,
            shared,
            registry_slot: AtomicU64::new(0),
            parked_at_ms: AtomicU32::new(0),
            locals: UnsafeCell::new(crate::local::Locals::default()),
        },
        f: UnsafeCell::new(Some(f)),
        _result: std::marker::PhantomData,
    };
    let mem = super::task_alloc::alloc(Layout::new::<Task<F, T>>()).cast::<Task<F, T>>();
    // SAFETY: `mem` is fresh memory with Task's layout.
    unsafe { mem.write(task) };
    // Task is repr(C) with the header first, so the pointer is also a G's.
    // SAFETY: alloc never returns null.
    let g = unsafe { NonNull::new_unchecked(mem.cast::<G>()) };
    (GRef(g), cell)
}

struct Vtables<F, T>(std::marker::PhantomData<(F, T)>);

impl<F: FnOnce() -> T + Send + 'static, T: Send + 'static> Vtables<F, T> {
    const VTABLE: Vtable = Vtable {
        run: Self::run,
        fail: Self::fail,
        free_join: JoinCell::<T>::free,
        dealloc: Self::dealloc,
    };

    /// The closure, if not taken yet.
    ///
    /// # Safety
    /// `g` heads a live `Task<F, T>` whose closure only the caller touches.
    unsafe fn take_f(g: NonNull<G>) -> Option<F> {
        // SAFETY: per the caller's contract.
        unsafe { (*(*g.cast::<Task<F, T>>().as_ptr()).f.get()).take() }
    }

    /// # Safety
    /// `g` heads a live `Task<F, T>` that has not completed.
    unsafe fn cell(g: NonNull<G>) -> NonNull<JoinCell<T>> {
        // SAFETY: per the caller's contract: `join` is this task's cell.
        unsafe { g.as_ref() }.join.cast()
    }

    unsafe fn run(g: NonNull<G>) {
        // SAFETY: only the goroutine itself touches its closure and, before
        // it completes, its cell's result.
        unsafe {
            let f = Self::take_f(g).expect("goroutine run twice");
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            JoinCell::set_result(Self::cell(g), result);
        }
    }

    unsafe fn fail(g: NonNull<G>, payload: Box<dyn Any + Send>) {
        // SAFETY: the goroutine never ran; the scheduler owns it. Dropping
        // the closure runs user code; its panic is the goroutine's to lose.
        unsafe {
            let f = Self::take_f(g);
            let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(f)));
            JoinCell::set_result(Self::cell(g), Err(payload));
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

    /// Marks the result available and wakes a waiting joiner: the G's last
    /// use of its join cell.
    ///
    /// # Safety
    /// Once, after [`G::run`] or [`G::fail`] stored the result.
    pub(crate) unsafe fn complete(&self) {
        // SAFETY: per the caller's contract; `free_join` is the cell's own
        // free.
        unsafe { JoinCore::complete(self.join, self.vtable.free_join) }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    fn task_size<F: FnOnce() -> u64>(_: &F) -> usize {
        std::mem::size_of::<super::Task<F, u64>>()
    }

    /// The G itself stays at 96 bytes, so that a closure of four words
    /// (a couple of channels and a WaitGroup) still fits the 128 class.
    #[test]
    fn the_g_header_is_96_bytes() {
        assert_eq!(std::mem::size_of::<super::G>(), 96);
    }

    /// A goroutine whose closure captures a word or two (a channel, an
    /// index) must fit the 128-byte class: the G is most of what an
    /// unstarted goroutine costs.
    #[test]
    fn a_small_closures_task_fits_128_bytes() {
        let (chan, i) = (0usize, 0u64);
        let f = move || chan as u64 + i;
        assert!(
            task_size(&f) <= 128,
            "G is {} bytes",
            std::mem::size_of::<super::G>()
        );
    }
}
