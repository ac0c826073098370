//! M: an OS thread that runs goroutines while it holds a P.
//!
//! Each M has a scheduler context, *g0*: the thread's own stack, running
//! [`MLocal::schedule`]. Running a goroutine is a switch from g0 to the
//! goroutine's stack; every way a goroutine stops running (yield, park,
//! exit) is a switch back to g0 with an [`Action`] saying what to do with it.
//! Doing that work on g0, after the goroutine's registers are saved, is what
//! makes `park`'s unlock-after-switch protocol possible (see `park.rs`).
//!
//! ```text
//!   g0: find_runnable -> execute(g) --switch--> g runs ... park()
//!                                                  |
//!   g0: action = Park: unlock, drop g  <--switch---+
//! ```
//!
//! One shortcut, Go's `runnext` hand-off without the trip through g0: a
//! goroutine parking through `park::park_passing` (channel and `sync`
//! waits), when g0 would only take the started goroutine in `runnext` and
//! run it, switches straight to that goroutine, leaving a [`DirectPark`]
//! record on its own stack. The resumed goroutine, back on its own stack
//! and before its own code, does what g0 would have done in between
//! ([`finish_direct_park`]): record the park, run `unlock`, count the
//! switch. Every resumption of a goroutine checks for such a record (the
//! value the switch returns).
//!
//! ```text
//!   a: park_passing() --switch_ret(record)--> b: finish_direct_park:
//!                                                  a parked, unlock, b runs
//! ```
//!
//! Per-thread state lives in an [`MLocal`] on g0's stack, reachable through
//! the thread-local `CURRENT`. Goroutine code reads it through
//! [`current_m`], which is never inlined: in Go mode a goroutine may resume
//! on another thread, and a thread-local address computed before a switch
//! must not be reused after it (LLVM would otherwise be free to).

use super::g::{GRef, WaitReason, DEAD, G, NO_HOME, RUNNABLE, RUNNING};
use super::hold::{self, Entry};
use super::p::{GOID_BATCH, P};
use super::park::Parker;
use super::Shared;
use crate::arch;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::stack::overflow::AltStack;
use std::cell::Cell;
use std::ptr;
use std::sync::{Arc, Mutex};

/// The part of an M other threads see.
pub(crate) struct MShared {
    pub(crate) id: usize,
    parker: Parker,
    /// A P handed over by a waker: `(p + 1) << 1 | spinning`, 0 for none.
    handoff: AtomicUsize,
    /// Set while this M is blocked in the network poller (`netpoll.rs`).
    pub(crate) in_netpoll: std::sync::atomic::AtomicBool,
    /// Set once the thread is started; taken by shutdown to join it.
    pub(crate) thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl MShared {
    /// Gives this (parked) M P `p` to run, spinning or not.
    pub(crate) fn hand_off(&self, p: u32, spinning: bool) {
        crate::trace::hand_off(p, self.id);
        // SeqCst: pairs with the Acquire swap in stop_m, and with
        // netpoll::sleep's store of in_netpoll (netpoll.rs step 3).
        self.handoff.store(
            ((p as usize + 1) << 1) | spinning as usize,
            Ordering::SeqCst,
        );
        self.parker.unpark();
        super::netpoll::interrupt(self);
    }

    /// Whether a hand-off is waiting for this M to take it.
    pub(crate) fn has_handoff(&self) -> bool {
        self.handoff.load(Ordering::SeqCst) != 0
    }

    /// Wakes the M so it notices shutdown.
    pub(crate) fn kick(&self) {
        self.parker.unpark();
        super::netpoll::interrupt(self);
    }
}

/// What a goroutine asks g0 to do once it has switched out.
#[derive(Clone, Copy)]
enum Action {
    None,
    Yield,
    /// Park for the reason; call the unlock function (on g0); if it returns
    /// false, resume the goroutine at once. With `true`, a park that is not
    /// cancelled leaves the scheduler's reference to the goroutine for its
    /// waker (`park::park_passing`) rather than dropping it.
    Park(WaitReason, *mut (dyn FnMut() -> bool + 'static), bool),
    Exit,
    /// Go mode: the goroutine came back from an inline `syscall` to find
    /// its P retaken and no idle P; this M holds no P. Queue the goroutine
    /// globally and put the M to sleep (Go's `exitsyscall0`).
    SyscallNoP,
}

/// How long a spinning M watches for work before it sleeps.
const SPIN_WAIT: std::time::Duration = std::time::Duration::from_micros(50);

/// A ring this long is stolen from at once; a shorter one after
/// [`STEAL_PATIENCE`] (`spin_for_work`).
const STEAL_BATCH: usize = 16;
const STEAL_PATIENCE: std::time::Duration = std::time::Duration::from_micros(3);

/// A spinning M polls the network every this many spin rounds (each 64
/// `pause`s, about a microsecond).
const NETPOLL_EVERY: u32 = 4;

/// Every how many rounds (about 10 µs) a spin offers its CPU to any other
/// runnable thread (`sched_yield`, which returns at once when there is
/// none). See `spin_for_work`.
const YIELD_EVERY: u32 = 8;

/// `p` when the M holds no P.
const NO_P: u32 = u32::MAX;

/// The M's own state. Lives on g0's stack; only this thread touches it.
pub(crate) struct MLocal {
    shared: Arc<Shared>,
    me: Arc<MShared>,
    p: Cell<u32>,
    /// The P's `sys` word when this M took it: the M holds the P while the
    /// word reads this (`hold.rs`).
    held: Cell<u64>,
    spinning: Cell<bool>,
    /// g0's saved stack pointer while a goroutine runs.
    g0_sp: Cell<usize>,
    /// The running goroutine: the scheduler's reference to it
    /// (`GRef::into_raw`), from `execute` or a direct switch
    /// (`park_current`) until it switches out.
    curg: Cell<*const G>,
    action: Cell<Action>,
    rng: Cell<u64>,
    /// This thread's Linux id (for sysmon's look at its kernel state).
    tid: i32,
    /// While a goroutine runs: its P's `preempt` flag, so that
    /// [`preempt_point`] costs one thread-local read and two loads. Null
    /// on g0 and during an inline syscall.
    preempt: Cell<*const crate::loom::sync::atomic::AtomicBool>,
    /// Go mode: set while this M runs a goroutine whose P sysmon took
    /// (`hold.rs`) and no idle P was to be had. Its runtime calls take the
    /// plain-thread paths (`with_p` is None) until it gets a P back or
    /// switches out, when g0 finishes without a P (`finish_without_p`).
    without_p: Cell<bool>,
    /// The goroutine in an inline syscall (Go mode), while `curg` is null so
    /// that runtime calls from the syscall's closure act as from a plain
    /// thread. Only the overflow handler reads it.
    syscall_g: Cell<*const G>,
}

thread_local! {
    static CURRENT: Cell<*const MLocal> = const { Cell::new(ptr::null()) };
}

/// The current thread's M, or null on a plain thread. Never inlined: see the
/// module docs.
#[inline(never)]
fn current_m() -> *const MLocal {
    CURRENT.with(|c| c.get())
}

/// The goroutine running on this thread, if the caller is one. The G stays
/// alive while it runs: `curg` holds a reference until it switches out.
fn running_g() -> Option<&'static G> {
    let m = current_m();
    if m.is_null() {
        return None;
    }
    // SAFETY: a non-null CURRENT points at the live MLocal of this thread;
    // curg, when set, is kept alive by the reference curg holds for as long
    // as the goroutine runs, which outlasts every use by the goroutine itself.
    unsafe { (*m).curg.get().as_ref() }
}

/// The running goroutine, if the caller is one, without a reference.
pub(crate) fn running_g_ptr() -> Option<*const G> {
    running_g().map(|g| g as *const G)
}

/// Whether the caller is a goroutine.
pub(crate) fn in_goroutine() -> bool {
    running_g().is_some()
}

/// A reference to the running goroutine, if the caller is one.
pub(crate) fn current_g() -> Option<GRef> {
    running_g().map(|g| {
        // SAFETY: curg owns a reference to the running G (running_g);
        // we borrow it to clone a new one and give the borrowed one back.
        let r = unsafe { GRef::from_raw(g) };
        let out = r.clone();
        std::mem::forget(r);
        out
    })
}

/// The running goroutine's `goroutine_local!` list, if the caller is one.
pub(crate) fn current_locals() -> Option<*mut crate::local::Locals> {
    running_g().map(|g| g.locals.get())
}

/// The id of the running goroutine, if the caller is one.
pub(crate) fn current_goroutine_id() -> Option<u64> {
    running_g().map(|g| g.id)
}

/// The runtime and P the caller runs on, if it is an M of `shared` holding
/// a P (a goroutine, or g0 between goroutines).
#[inline]
pub(crate) fn with_p<R>(shared: *const Shared, f: impl FnOnce(&P) -> R) -> Option<R> {
    let m = current_m();
    if m.is_null() {
        return None;
    }
    // SAFETY: CURRENT is live; Ps live as long as the runtime's Shared.
    let m = unsafe { &*m };
    if !ptr::eq(Arc::as_ptr(&m.shared), shared) {
        return None;
    }
    if m.curg.get().is_null() {
        // g0, or an inline syscall (which has no P): the M is inside the
        // runtime already.
        return (m.p.get() != NO_P).then(|| f(m.p()));
    }
    // A goroutine: make sure the P is still ours (Go mode may retake it).
    let m = enter_runtime(m)?;
    let p = m.p();
    let r = f(p);
    hold::leave(&p.user_code);
    Some(r)
}

/// For runtime code on a goroutine's stack about to use the M's P: marks
/// the M as inside the runtime and checks that it still holds the P
/// (`hold.rs`). If sysmon took it, the M tries for an idle P; failing that
/// it runs on without one and this returns None: the caller takes the
/// plain-thread path. It never switches away: callers may hold locks (a
/// channel's, while they ready a goroutine), and a goroutine queued to wait
/// for a P while holding one could stop the Ms holding every P. Pair a Some
/// with `hold::leave` on the M's P before going back to goroutine code (a
/// switch to g0 needs no pairing: g0 is runtime code).
///
/// `m` is the caller's M, read after its last switch.
#[inline]
fn enter_runtime(m: &MLocal) -> Option<&MLocal> {
    if m.p.get() == NO_P {
        // Running without a P since an earlier call.
        return m.regain_p().then_some(m);
    }
    let p = m.p();
    match hold::enter(&p.sys, &p.user_code, m.held.get()) {
        Entry::Held => Some(m),
        Entry::Lost => {
            m.p.set(NO_P);
            m.preempt.set(ptr::null());
            m.without_p.set(true);
            m.regain_p().then_some(m)
        }
    }
}

/// The runtime the caller runs on, if it is one of its Ms. The pointer is
/// valid while the caller stays on this thread: the M holds a reference.
pub(crate) fn current_shared() -> Option<*const Shared> {
    let m = current_m();
    // SAFETY: CURRENT is live when non-null.
    (!m.is_null()).then(|| unsafe { Arc::as_ptr(&(*m).shared) })
}

/// Where the running goroutine's guard page is, for the overflow handler.
/// Async-signal-safe: reads plain thread-local and goroutine fields only.
pub(crate) struct RunningStack {
    pub(crate) guard: std::ops::Range<usize>,
    pub(crate) id: u64,
    pub(crate) size: usize,
}

pub(crate) fn running_stack() -> Option<RunningStack> {
    let m = CURRENT.with(|c| c.get());
    if m.is_null() {
        return None;
    }
    // SAFETY: this thread's MLocal; the running goroutine's context is owned
    // by this thread while it runs, so nothing changes it under us.
    unsafe {
        let mut g = (*m).curg.get();
        if g.is_null() {
            g = (*m).syscall_g.get();
        }
        if g.is_null() {
            return None;
        }
        let stack = (*(*g).ctx.get()).stack.as_ref()?;
        Some(RunningStack {
            guard: stack.guard(),
            id: (*g).id,
            size: stack.size(),
        })
    }
}

/// Switches from the running goroutine to g0 with `action`.
///
/// # Safety
/// Must be called by a goroutine (`in_goroutine()`).
unsafe fn switch_to_g0(action: Action) {
    let m = current_m();
    if !matches!(action, Action::SyscallNoP) {
        // g0 will use the P, if the M still holds one (else it finishes
        // without, `finish_without_p`).
        // SAFETY: the caller is a goroutine, so CURRENT is live.
        let _ = enter_runtime(unsafe { &*m });
    }
    // SAFETY: per our contract.
    unsafe { switch_to_g0_entered(m, action) }
}

/// [`switch_to_g0`] for a caller that has entered the runtime already, on
/// M `m`.
///
/// # Safety
/// Must be called by a goroutine, after [`enter_runtime`], with its M.
unsafe fn switch_to_g0_entered(m: *const MLocal, action: Action) {
    // SAFETY: the caller is a goroutine, so CURRENT and curg are set. The
    // MLocal is not touched after the switch: we may resume on another M.
    unsafe {
        let g = (*m).curg.get();
        (*m).action.set(action);
        let from = arch::switch(ptr::addr_of_mut!((*(*g).ctx.get()).sp), (*m).g0_sp.get(), 0);
        resumed(from);
    }
}

/// Back on a goroutine's stack after a switch away from it: `from` is what
/// the resumer passed, 0 from g0, or the [`DirectPark`] of a goroutine that
/// parked and switched straight here, whose park is finished first.
///
/// # Safety
/// `from` is the value the switch that resumed us returned.
#[inline(always)]
unsafe fn resumed(from: usize) {
    if from != 0 {
        // SAFETY: per the caller's contract: a DirectPark still intact on
        // the stack of the goroutine that switched here.
        unsafe { finish_direct_park(from as *const DirectPark) };
    }
}

/// Parks the running goroutine; see `park.rs`. False, with nothing done,
/// if the caller is not a goroutine.
///
/// With `passing` (`park::park_passing`: the waker takes over the
/// scheduler's reference, and `unlock` is short), and when
/// [`MLocal::next_for_direct_switch`] finds the goroutine g0 would run next
/// anyway, the M switches straight to that goroutine, which finishes this
/// park, exactly as g0 would have, as soon as it is back on its own stack
/// ([`finish_direct_park`]). Otherwise the switch is to g0.
pub(crate) fn park_current(
    reason: WaitReason,
    unlock: &mut dyn FnMut() -> bool,
    passing: bool,
) -> bool {
    let m = current_m();
    // SAFETY: CURRENT is live when non-null; curg is set while a goroutine
    // runs.
    if m.is_null() || unsafe { (*m).curg.get().is_null() } {
        return false;
    }
    // SAFETY: as above.
    let m = unsafe { &*m };
    if m.shared.config.park_stacks {
        crate::dump::record_park_stack();
    }
    let unlock: *mut (dyn FnMut() -> bool + '_) = unlock;
    // SAFETY: g0, or the goroutine switched to, calls `unlock` before this
    // goroutine can resume, while the closure is still alive on this
    // goroutine's stack; erasing its lifetime is therefore sound. We are a
    // goroutine, so CURRENT and curg are set; `m` is not used after a
    // switch (we may resume on another M).
    unsafe {
        let unlock: *mut (dyn FnMut() -> bool + 'static) = std::mem::transmute(unlock);
        // Both g0 and a direct switch use the P (if the M still holds one:
        // Go mode may have taken it, `hold.rs`).
        let held = enter_runtime(m).is_some();
        if passing && held {
            if let Some(next) = m.next_for_direct_switch() {
                let to = (*next.ctx.get()).sp;
                let next = next.into_raw();
                let prev = m.curg.replace(next);
                let rec = DirectPark {
                    m,
                    prev,
                    reason,
                    unlock,
                    next,
                };
                // `to` is the context of a goroutine that has started (it
                // was saved by a switch away from it), resumed only here:
                // we took it off runnext. Its stack is owned by its G,
                // which the record keeps alive.
                let from = arch::switch_ret(
                    ptr::addr_of_mut!((*(*prev).ctx.get()).sp),
                    to,
                    &rec as *const DirectPark as usize,
                );
                resumed(from);
                return true;
            }
        }
        switch_to_g0_entered(m, Action::Park(reason, unlock, passing));
    }
    true
}

/// What a goroutine parking by a direct switch leaves to the goroutine it
/// switches to. On the parking goroutine's stack, which stays intact until
/// `unlock` has run; [`finish_direct_park`] copies it out first.
struct DirectPark {
    /// The M: the switch does not leave its thread.
    m: *const MLocal,
    /// The parking goroutine: the scheduler's reference (`into_raw`).
    prev: *const G,
    reason: WaitReason,
    unlock: *mut (dyn FnMut() -> bool + 'static),
    /// The goroutine switched to, already in `curg`.
    next: *const G,
}

/// Runs on the stack of the goroutine a parking one switched to directly,
/// before it returns into its own code: what g0 does after a park (record
/// it, run `unlock`, requeue the goroutine if the park was cancelled), then
/// what g0 does before running a goroutine.
///
/// # Safety
/// `rec` is the [`DirectPark`] the parking goroutine passed to this switch.
#[inline(never)]
unsafe fn finish_direct_park(rec: *const DirectPark) {
    // SAFETY: the record is intact until unlock runs, and we copy it out
    // first. The switch happened on this thread, so the record's M is this
    // thread's MLocal; the references in the record are ours.
    unsafe {
        let DirectPark {
            m,
            prev,
            reason,
            unlock,
            next,
        } = ptr::read(rec);
        let m = &*m;
        // What follows is g0's work, and runs as on g0: with no current
        // goroutine, so that runtime calls from `unlock` (a `ready`) take
        // g0's paths and do not mark the M as back in goroutine code
        // (`hold.rs`) while it still uses the P.
        m.curg.set(ptr::null());
        let p = m.p();
        p.preempt.store(false, Ordering::Relaxed);
        let prev = GRef::from_raw(prev);
        if m.park_switched_out(p, &prev, reason, unlock) {
            // park_passing: the waiter's wake takes this reference over.
            std::mem::forget(prev);
        } else {
            // Cancelled: runnable at once. `next` has taken its turn, so
            // `prev` runs right after it.
            prev.set_state(RUNNABLE, WaitReason::None);
            let (overflow, stealable) = p.put(prev, true);
            if let Some(batch) = overflow {
                m.shared.global.push_batch(batch);
            }
            if stealable {
                m.shared.wakep();
            }
        }
        m.curg.set(next);
        m.running(p, &*next);
    }
}

/// A goroutine inside an inline `syscall` (Go mode): what [`exit_syscall`]
/// needs to take the M's P back.
pub(crate) struct InlineSyscall {
    m: *const MLocal,
    g: *const G,
    p: u32,
    /// The P's `sys` word as [`enter_syscall`] left it (IN_SYSCALL).
    word: u64,
}

/// Go's `entersyscall`, for a goroutine of a Go-mode runtime about to block
/// in the kernel: the M keeps running the goroutine but stops holding its P
/// in a way that lets sysmon take the P away (`P::sys`), so the P's other
/// goroutines run on another M if the call lasts. Until [`exit_syscall`]
/// the thread acts as a plain thread to the runtime (no `curg`, no P), so
/// whatever the closure does (spawn, send on a channel, even block on one)
/// takes the plain-thread paths and never touches the P.
///
/// None, and nothing changed, unless the caller is a running goroutine of a
/// Go-mode runtime (pinned mode uses the blocking pool instead: an M there
/// must not give its P to another thread).
pub(crate) fn enter_syscall() -> Option<InlineSyscall> {
    let m = current_m();
    if m.is_null() {
        return None;
    }
    // SAFETY: CURRENT is live; curg, when set, is the running goroutine (us).
    unsafe {
        let ml = &*m;
        if ml.curg.get().is_null() || ml.p.get() == NO_P || ml.shared.config.mode.binds_m_to_p() {
            return None;
        }
        // Without a P, the blocking pool runs the call.
        let ml = enter_runtime(ml)?;
        let m: *const MLocal = ml;
        let g = ml.curg.get();
        let p = ml.p();
        p.curg.store(0, Ordering::Relaxed);
        (*g).set_state(super::g::WAITING, WaitReason::Syscall);
        ml.syscall_g.set(g);
        ml.curg.set(ptr::null());
        ml.preempt.set(ptr::null());
        let id = ml.p.replace(NO_P);
        // From here on sysmon may take the P (the flag stays clear: the
        // syscall retake looks at the word alone).
        let word = hold::begin_syscall(&p.sys, ml.held.get());
        ml.shared.wake_sysmon();
        Some(InlineSyscall { m, g, p: id, word })
    }
}

/// Go's `exitsyscall`: take the P back if sysmon left it to us, else any
/// idle P, else queue the goroutine globally and put this M to sleep (the
/// goroutine then resumes wherever it is picked up).
pub(crate) fn exit_syscall(s: InlineSyscall) {
    // SAFETY: the goroutine has not switched since enter_syscall, so it is
    // still on the M whose MLocal `s.m` points to.
    let m = unsafe { &*s.m };
    let shared = &*m.shared;
    m.syscall_g.set(ptr::null());
    m.curg.set(s.g);
    // SAFETY: the goroutine (us) is alive while it runs.
    let g = unsafe { &*s.g };
    let back = match hold::end_syscall(&shared.ps[s.p as usize].sys, s.word) {
        Some(word) => {
            m.p.set(s.p);
            m.held.set(word);
            m.attach(g);
            true
        }
        // Possibly our own P again, by way of the idle list and other
        // holders: it is held by whatever word it has now.
        None => m.take_idle_p_for(g),
    };
    if back {
        g.set_state(RUNNING, WaitReason::None);
        crate::syscall::inline_done();
        hold::leave(&m.p().user_code);
    } else {
        // SAFETY: we are the goroutine; curg is set again. g0 queues us
        // (finish_without_p) and we resume on whichever M takes us.
        unsafe { switch_to_g0(Action::SyscallNoP) }
    }
}

/// A preemption point: if sysmon found the running goroutine past its time
/// slice, yield. Runtime calls that do not otherwise park call this.
///
/// Never inlined, and reads the thread-local itself: it runs on every
/// channel operation and spawn, and nothing between the read and the use
/// can switch threads (the yield comes last).
#[inline(never)]
pub(crate) fn preempt_point() {
    let m = CURRENT.with(|c| c.get());
    if m.is_null() {
        return;
    }
    // SAFETY: CURRENT is live when non-null; `preempt`, when set, points
    // into a P of the M's runtime, which outlives the M.
    let flagged = unsafe {
        let flag = (*m).preempt.get();
        !flag.is_null() && (*flag).load(Ordering::Relaxed)
    };
    if flagged {
        yield_current();
    }
}

/// Lets other goroutines run; the caller goes to the back of the line.
pub(crate) fn yield_current() {
    // SAFETY: callers check in_goroutine.
    unsafe { switch_to_g0(Action::Yield) }
}

/// First code of every goroutine, on its own stack.
unsafe extern "sysv64" fn goroutine_main(g: usize, first: usize) -> ! {
    // Only g0 starts goroutines (next_for_direct_switch skips new ones).
    debug_assert_eq!(first, 0);
    let g = g as *const G;
    // SAFETY: execute passes a G that it keeps alive while it runs, and runs
    // it once.
    unsafe {
        (*g).run();
        // Goroutine-locals die with the goroutine, before anyone joins it.
        let locals = &mut *(*g).locals.get();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| locals.clear())).is_err() {
            eprintln!(
                "goroutines: a goroutine_local! destructor of goroutine {} panicked",
                (*g).id
            );
        }
        if (*(*g).shared).config.park_stacks {
            crate::dump::forget_park_stack((*g).id);
        }
        // Count the exit before waking a joiner, so that a joiner never
        // sees its goroutine in num_goroutines.
        if with_p((*g).shared, |p| p.bump(&p.exited)).is_none() {
            (*(*g).shared)
                .exits_without_p
                .fetch_add(1, Ordering::Relaxed);
        }
        (*g).complete();
        switch_to_g0(Action::Exit);
    }
    unreachable!("an exited goroutine was resumed");
}

/// Starts a new M holding P `p`.
pub(crate) fn start(shared: Arc<Shared>, p: u32, spinning: bool) -> std::io::Result<Arc<MShared>> {
    static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let me = Arc::new(MShared {
        id,
        parker: Parker::new(),
        handoff: AtomicUsize::new(0),
        in_netpoll: std::sync::atomic::AtomicBool::new(false),
        thread: Mutex::new(None),
    });
    let me2 = me.clone();
    let handle = std::thread::Builder::new()
        .name(format!("goroutines-m{id}"))
        .spawn(move || m_main(shared, me2, p, spinning))?;
    *me.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    Ok(me)
}

fn m_main(shared: Arc<Shared>, me: Arc<MShared>, p: u32, spinning: bool) {
    let _alt = AltStack::install();
    let m = MLocal {
        rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((me.id as u64 + 1) << 17)),
        shared,
        me,
        p: Cell::new(p),
        held: Cell::new(0),
        spinning: Cell::new(spinning),
        g0_sp: Cell::new(0),
        curg: Cell::new(ptr::null()),
        action: Cell::new(Action::None),
        // SAFETY: gettid has no preconditions.
        tid: unsafe { libc::syscall(libc::SYS_gettid) } as i32,
        syscall_g: Cell::new(ptr::null()),
        without_p: Cell::new(false),
        preempt: Cell::new(ptr::null()),
    };
    CURRENT.with(|c| c.set(&m));
    m.took_p();
    m.schedule();
    CURRENT.with(|c| c.set(ptr::null()));
}

impl MLocal {
    fn p(&self) -> &P {
        &self.shared.ps[self.p.get() as usize]
    }

    /// The scheduler loop: until shutdown, find a goroutine and run it.
    fn schedule(&self) {
        while let Some(g) = self.find_runnable() {
            if self.spinning.get() {
                self.reset_spinning();
            }
            self.execute(g);
        }
        // Shutdown: give the P back quietly; nothing runs any more.
        self.p.set(NO_P);
    }

    /// A spinning M found work: stop spinning, and recruit the next spinner
    /// if this was the last and more work is visible (idle.rs step 3).
    fn reset_spinning(&self) {
        self.spinning.set(false);
        if self.shared.idle.nmspinning.fetch_sub(1, Ordering::SeqCst) == 1
            && self.shared.work_visible()
        {
            self.shared.wakep();
        }
    }

    /// Runs `g` until it yields, parks or exits. While a goroutine runs,
    /// the scheduler's reference to it is in `curg` (`into_raw`): a
    /// goroutine parking with a direct switch hands the M to the next one
    /// without g0 (`park_current`), so whoever switches back to g0 is the
    /// goroutine in `curg`, not necessarily `g`.
    fn execute(&self, g: GRef) {
        let shared = &*self.shared;
        // SAFETY: a runnable G's context belongs to whoever dequeued it: us.
        if unsafe { (*g.ctx.get()).stack.is_none() } && !self.start_goroutine(&g, self.p()) {
            return;
        }
        let mut g = g;
        loop {
            self.running(self.p(), &g);
            // SAFETY: the context is ours while the goroutine is runnable.
            let to = unsafe { (*g.ctx.get()).sp };
            self.curg.set(g.into_raw());
            // SAFETY: `to` is a context saved by switch or made by
            // init_stack, not resumed since; its stack is owned by the G,
            // which curg keeps alive. g0_sp is ours to write.
            unsafe { arch::switch(self.g0_sp.as_ptr(), to, 0) };
            // SAFETY: every switch back to g0 leaves the scheduler's
            // reference to the goroutine that made it in curg.
            g = unsafe { GRef::from_raw(self.curg.replace(ptr::null())) };
            let ctx = g.ctx.get();
            self.preempt.set(ptr::null());
            let action = self.action.replace(Action::None);
            if self.p.get() == NO_P {
                self.finish_without_p(g, action);
                return;
            }
            // An inline syscall or a retake (Go mode) may have moved us to
            // another P while the goroutine ran.
            let p = self.p();
            p.curg.store(0, Ordering::Relaxed);
            p.preempt.store(false, Ordering::Relaxed);
            match action {
                Action::Yield => {
                    crate::trace::yielded(g.id);
                    g.set_state(RUNNABLE, WaitReason::None);
                    if g.home.load(Ordering::Relaxed) == NO_HOME {
                        shared.global.push(g);
                    } else {
                        // SAFETY: we hold the P.
                        unsafe { p.local() }.pinned.push_back(g);
                        // SAFETY: we hold the P.
                        unsafe { p.publish_local_len() };
                    }
                    return;
                }
                Action::Park(reason, unlock, passing) => {
                    // SAFETY: the closure lives on the parked goroutine's
                    // stack, which stays intact until it is resumed, and it
                    // cannot be resumed before unlock has run.
                    if unsafe { self.park_switched_out(p, &g, reason, unlock) } {
                        if passing {
                            // The waiter's wake takes this reference over.
                            std::mem::forget(g);
                        }
                        return; // a Waiter owns the wake-up now
                    }
                }
                Action::Exit => {
                    crate::trace::exit(g.id);
                    g.set_state(DEAD, WaitReason::None);
                    shared.unregister(&g);
                    // SAFETY: the goroutine made its final switch; its
                    // stack is dead and ours to recycle. We hold the P.
                    if let Some(stack) = unsafe { (*ctx).stack.take() } {
                        // SAFETY: we hold the P.
                        unsafe { p.local() }.stacks.put(stack, &shared.arena);
                    }
                    return;
                }
                Action::SyscallNoP => unreachable!("an M without a P finishes above"),
                Action::None => unreachable!("goroutine switched to g0 without an action"),
            }
        }
    }

    /// What is recorded before `g` runs on `p` (the caller then puts it in
    /// curg and switches to it).
    fn running(&self, p: &P, g: &G) {
        g.set_state(RUNNING, WaitReason::None);
        self.preempt.set(&p.preempt);
        p.bump(&p.switches);
        p.curg.store(g.id, Ordering::Relaxed);
        crate::trace::run(g.id, p.id, self.me.id);
        // Last: from here on the M does not touch the P until the goroutine
        // calls into the runtime again (`hold.rs`).
        hold::leave(&p.user_code);
    }

    /// The park of `g`, which has switched out: record it, then run
    /// `unlock`. False if `unlock` cancelled the park.
    ///
    /// # Safety
    /// `unlock` is the park's closure, alive on `g`'s stack, and `g` cannot
    /// resume before it has run.
    unsafe fn park_switched_out(
        &self,
        p: &P,
        g: &GRef,
        reason: WaitReason,
        unlock: *mut (dyn FnMut() -> bool + 'static),
    ) -> bool {
        // Checked here too so that the name is looked up only when tracing.
        if crate::trace::is_recording() {
            crate::trace::park(g.id, reason.as_str());
        }
        g.set_state(super::g::WAITING, reason);
        g.parked_at_ms.store(
            (self.shared.coarse_now.load(Ordering::Relaxed) / 1_000_000) as u32,
            Ordering::Relaxed,
        );
        if g.registry_slot.load(Ordering::Relaxed) == 0 {
            p.registry.add(p.id, g);
        }
        // SAFETY: per the caller's contract.
        unsafe { (*unlock)() }
    }

    /// For a goroutine about to park with a direct switch: the goroutine to
    /// switch to, taken from `runnext`, if g0 would run it next and has
    /// nothing to do first. That is: no shutdown; not the schedule that
    /// looks at the global queue first (this counts as a schedule, as in
    /// `find_runnable`, so every 61st goes through g0); no due timer on the
    /// P; and a goroutine in `runnext` that has started (a new one gets its
    /// stack from g0). In pinned mode a started goroutine in this P's
    /// `runnext` is homed on the P, whose one M we are: it stays on its
    /// thread.
    fn next_for_direct_switch(&self) -> Option<GRef> {
        let shared = &*self.shared;
        if shared.is_shut_down() {
            return None;
        }
        let p = self.p();
        // SAFETY: a running goroutine's M holds the P; the borrow ends at once.
        let tick = unsafe { p.local() }.schedtick.wrapping_add(1);
        if tick % 61 == 0 {
            return None;
        }
        let timer = p.timers.next();
        if timer != crate::time::heap::NONE && timer <= shared.now() {
            return None;
        }
        let g = p.take_runnext()?;
        // SAFETY: a runnable G's context belongs to whoever dequeued it: us.
        if unsafe { (*g.ctx.get()).stack.is_none() } {
            // SAFETY: we hold the P; `runnext` is empty, so this puts it
            // back and nothing else.
            unsafe { p.put(g, true) };
            return None;
        }
        debug_assert!(matches!(g.home.load(Ordering::Relaxed), h if h == NO_HOME || h == p.id));
        // SAFETY: as above.
        unsafe {
            p.local().schedtick = tick;
            p.publish_local_len();
        }
        Some(g)
    }

    /// Gives a goroutine about to run for the first time its stack and home.
    /// On failure the goroutine completes with the error as its panic
    /// payload, and false is returned.
    fn start_goroutine(&self, g: &GRef, p: &P) -> bool {
        let shared = &*self.shared;
        // SAFETY: we hold the P.
        match unsafe { p.local() }.stacks.get(&shared.arena) {
            Ok(stack) => {
                // SAFETY: a fresh stack top is 16-aligned and writable; the
                // context is ours (see execute).
                unsafe {
                    let sp = arch::init_stack(stack.top(), goroutine_main, g.as_ptr() as usize);
                    let ctx = g.ctx.get();
                    (*ctx).sp = sp;
                    (*ctx).stack = Some(stack);
                }
                if g.home.load(Ordering::Relaxed) == NO_HOME {
                    g.home
                        .store(shared.config.mode.home_on_start(p.id), Ordering::Relaxed);
                }
                true
            }
            Err(e) => {
                let msg = format!("goroutine {} could not start: {e}", g.id);
                shared.report_once(&msg);
                // SAFETY: never ran; we own it.
                unsafe { g.fail(Box::new(msg)) };
                g.set_state(DEAD, WaitReason::None);
                p.bump(&p.exited);
                // SAFETY: fail stored the result; the goroutine never runs.
                unsafe { g.complete() };
                false
            }
        }
    }

    /// On g0, with no P (Go mode): the goroutine `g` came back from an
    /// inline syscall to no P (`SyscallNoP`, see [`exit_syscall`]), or ran
    /// without one after sysmon took it (`without_p`) and now yields, parks
    /// or exits. Does what `execute` would, with the global queue and the
    /// arena standing in for the P's, then puts this M to sleep. The M joins
    /// the idle Ms before any work it queues is visible, so `wakep` may hand
    /// a P straight back to it.
    fn finish_without_p(&self, g: GRef, action: Action) {
        let shared = &*self.shared;
        shared.idle_m(&self.me);
        match action {
            Action::SyscallNoP => {
                g.set_state(RUNNABLE, WaitReason::None);
                shared.global.push(g);
                // Runnable before the count says no syscall is in flight
                // (deadlock.rs relies on it).
                crate::syscall::inline_done();
            }
            Action::Yield => {
                crate::trace::yielded(g.id);
                g.set_state(RUNNABLE, WaitReason::None);
                shared.global.push(g);
            }
            Action::Park(reason, unlock, passing) => {
                // Registries have their own locks; any P's will do.
                // SAFETY: as in execute: the closure lives on the parked
                // goroutine's stack, intact until it is resumed, which
                // cannot happen before unlock has run.
                if unsafe { self.park_switched_out(&shared.ps[0], &g, reason, unlock) } {
                    if passing {
                        // The waiter's wake takes this reference over.
                        std::mem::forget(g);
                    }
                } else {
                    // Not parked after all: run it again, elsewhere.
                    g.set_state(RUNNABLE, WaitReason::None);
                    shared.global.push(g);
                }
            }
            Action::Exit => {
                crate::trace::exit(g.id);
                g.set_state(DEAD, WaitReason::None);
                shared.unregister(&g);
                // SAFETY: the goroutine made its final switch; its stack is
                // dead and ours to recycle.
                if let Some(stack) = unsafe { (*g.ctx.get()).stack.take() } {
                    shared.arena.free(vec![stack]);
                }
            }
            Action::None => unreachable!("goroutine switched to g0 without an action"),
        }
        self.end_without_p();
        shared.wakep();
        self.stop_m();
    }

    /// Go mode, on a goroutine's stack: the M runs it without a P (sysmon
    /// took the P, `hold.rs`); takes an idle P if there is one.
    fn regain_p(&self) -> bool {
        // SAFETY: curg is the running goroutine (our caller), alive while
        // it runs.
        if !self.take_idle_p_for(unsafe { &*self.curg.get() }) {
            return false;
        }
        self.end_without_p();
        true
    }

    /// On the stack of goroutine `g`, which this M runs without a P: takes
    /// an idle P to run it on, if there is one.
    fn take_idle_p_for(&self, g: &G) -> bool {
        let Some(id) = self.shared.take_idle_p() else {
            return false;
        };
        self.p.set(id);
        self.took_p();
        crate::trace::m_wake(id, self.me.id);
        self.attach(g);
        true
    }

    /// Records on the M's P that goroutine `g`, already running, runs on
    /// it (for sysmon and stats) and where its preempt flag is.
    fn attach(&self, g: &G) {
        let p = self.p();
        p.curg.store(g.id, Ordering::Relaxed);
        self.preempt.set(&p.preempt);
    }

    /// The M no longer runs goroutine code without a P.
    fn end_without_p(&self) {
        if self.without_p.replace(false) {
            let before = self
                .shared
                .running_without_p
                .fetch_sub(1, Ordering::Relaxed);
            debug_assert!(before > 0, "an M lost a P that sysmon never took");
        }
    }

    /// Finds a goroutine to run, parking the M while there is none. None
    /// means the runtime is shutting down.
    fn find_runnable(&self) -> Option<GRef> {
        let shared = &*self.shared;
        loop {
            if shared.is_shut_down() {
                return None;
            }
            let p = self.p();
            // SAFETY: we hold the P; the borrow ends at once.
            let tick = unsafe {
                let l = p.local();
                l.schedtick = l.schedtick.wrapping_add(1);
                l.schedtick
            };
            shared.run_due_timers(p.id);
            if tick % 61 == 0 {
                if let Some(g) = shared.global.pop() {
                    return Some(g);
                }
                // And the network, as tokio's event interval does: a P that
                // always has local work would otherwise leave connections
                // the poller has readied to its next idle moment (or to
                // sysmon's forced poll).
                super::netpoll::poll_ready();
            }
            // SAFETY: we hold the P.
            if let Some(g) = unsafe { p.pop() } {
                return Some(g);
            }
            if let Some(g) = self.take_global_batch(p) {
                return Some(g);
            }
            // Network events, unless an M is blocked in the poller anyway.
            if super::netpoll::poll_ready() > 0 {
                continue;
            }
            if !self.spinning.get() && shared.idle.can_spin(shared.ps.len()) {
                self.spinning.set(true);
                shared.idle.nmspinning.fetch_add(1, Ordering::SeqCst);
            }
            if self.spinning.get() {
                if let Some(g) = self.steal(p, STEAL_BATCH).or_else(|| self.spin_for_work(p)) {
                    return Some(g);
                }
            }
            // Nothing anywhere: give up the P (idle.rs step 4), after firing
            // whatever timers are due (which may make work).
            shared.run_all_due_timers();
            // SAFETY: we hold the P.
            if unsafe { p.has_local_work() } {
                continue;
            }
            if !shared.release_p(p.id, &self.me) {
                continue;
            }
            self.p.set(NO_P);
            crate::trace::m_idle(p.id, self.me.id);
            if self.spinning.replace(false) {
                shared.idle.nmspinning.fetch_sub(1, Ordering::SeqCst);
                if shared.work_visible() {
                    shared.wakep();
                }
            }
            if !self.stop_m() {
                return None;
            }
        }
    }

    /// Moves a fair share of the global queue to this P.
    fn take_global_batch(&self, p: &P) -> Option<GRef> {
        let shared = &*self.shared;
        let n = (shared.global.len() / shared.ps.len() + 1).min(super::queue::CAPACITY / 2);
        let (first, rest) = shared.global.pop_batch(n)?;
        G::prefetch(first.as_ptr());
        for g in rest {
            // Straight into the ring, without `put`'s look at the home: only
            // goroutines without one are ever queued globally, and the look
            // would wait for a header that is rarely still in the cache.
            debug_assert_eq!(g.home.load(Ordering::Relaxed), NO_HOME);
            // SAFETY: we hold the P, so we own its ring; our queues were
            // empty, so it has room for half its capacity.
            if let Err(batch) = unsafe { p.runq.push(g) } {
                shared.global.push_batch(batch);
            }
        }
        Some(first)
    }

    /// Steals half of a random victim's stealable queue, from a victim with
    /// at least `min` queued (Go's stealWork: four passes over all Ps from
    /// random starting points).
    fn steal(&self, p: &P, min: usize) -> Option<GRef> {
        let ps = &self.shared.ps;
        let n = ps.len();
        for _ in 0..4 {
            let start = self.next_rand() as usize % n;
            for i in 0..n {
                // The index, not `victim.id`: the id shares a cache line
                // with what the victim's M writes on every spawn.
                let v = (start + i) % n;
                let victim = &ps[v];
                if v == p.id as usize || victim.runq.len() < min {
                    continue;
                }
                // SAFETY: we hold `p`, whose queues are empty.
                if let Some(g) = unsafe { victim.runq.steal_into(&p.runq) } {
                    p.bump(&p.steals);
                    crate::trace::steal(v as u32, p.id, p.runq.len() + 1);
                    return Some(g);
                }
            }
            if !self.shared.global.is_empty() {
                return self.take_global_batch(p);
            }
        }
        None
    }

    /// Before a spinning M gives up its P and sleeps, it watches the queues
    /// for [`SPIN_WAIT`]. Work often arrives within microseconds (a producer
    /// spawning in a loop, a ping-pong partner on another P); sleeping and
    /// being woken costs two futex calls and a trip through the kernel
    /// scheduler, several microseconds on the waker's side alone. The wait
    /// is bounded, so an idle runtime still parks every M.
    ///
    /// A victim's ring holding fewer than [`STEAL_BATCH`] goroutines is
    /// given up to [`STEAL_PATIENCE`] to fill before we take from it. A
    /// thief faster than its victim's producer otherwise steals one or two
    /// at a time, and each steal moves the ring's cache lines between the
    /// cores: spawn+join of 1M goroutines on 2 Ps ran at 170 ns a goroutine
    /// when the second M stayed out of the way and up to 390 ns when it
    /// stole 480,000 times. Go makes the same trade when it waits 3 µs
    /// before stealing a running P's `runnext`.
    ///
    /// The spin yields the CPU now and then ([`YIELD_EVERY`]): under a
    /// light load the work it waits for is often made by another process
    /// on the same CPUs (a load generator, a client), which a spin that
    /// never yields keeps from running. `WRK_THREADS=1 WRK_CONNS=8
    /// scripts/http_cpu.sh`, alternating builds on 2 vCPUs (2026-12-08):
    /// Go mode 55.8-65.7k -> 66.1-69.2k requests/s over 3 pairs, server
    /// CPU 15.0-17.1 -> 13.6-14.4 µs per request; pinned 40.0-43.2k ->
    /// 52.8-53.3k over 2 pairs. Saturated (`compare http_hello tcp_echo`,
    /// 4 runs of each build) nothing was lost: medians within 6%, mostly
    /// ahead.
    fn spin_for_work(&self, p: &P) -> Option<GRef> {
        let start = std::time::Instant::now();
        let mut small_since = None;
        let mut round = 0u32;
        while start.elapsed() < SPIN_WAIT {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            let shared = &*self.shared;
            round = round.wrapping_add(1);
            if round.is_multiple_of(YIELD_EVERY) {
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            }
            // The network too, as Go's spinning Ms do: a connection's next
            // request often arrives while we spin, and nobody else may be
            // polling (an M blocked in the poller makes this a no-op).
            if round.is_multiple_of(NETPOLL_EVERY) && super::netpoll::poll_ready() > 0 {
                // SAFETY: we hold the P.
                if let Some(g) = unsafe { p.pop() } {
                    return Some(g);
                }
            }
            if p.has_inbox() || !shared.global.is_empty() {
                // SAFETY: we hold the P.
                if let Some(g) = unsafe { p.pop() } {
                    return Some(g);
                }
                if let Some(g) = self.take_global_batch(p) {
                    return Some(g);
                }
            }
            let most = shared.ps.iter().map(|v| v.runq.len()).max().unwrap_or(0);
            if most == 0 {
                small_since = None;
                continue;
            }
            let since = *small_since.get_or_insert_with(std::time::Instant::now);
            let min = if since.elapsed() < STEAL_PATIENCE {
                STEAL_BATCH
            } else {
                1
            };
            if let Some(g) = self.steal(p, min) {
                return Some(g);
            }
        }
        None
    }

    fn next_rand(&self) -> u64 {
        // xorshift64
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    /// Parks the M until a waker hands it a P. False on shutdown.
    fn stop_m(&self) -> bool {
        loop {
            if self.shared.is_shut_down() {
                return false;
            }
            // Acquire pairs with hand_off's Release.
            let h = self.me.handoff.swap(0, Ordering::Acquire);
            if h != 0 {
                self.p.set(((h >> 1) - 1) as u32);
                self.spinning.set(h & 1 == 1);
                self.took_p();
                crate::trace::m_wake(self.p.get(), self.me.id);
                // If we were the timer sleeper, another idle M must take
                // over while timers are pending (clock.rs).
                self.shared.ensure_timer_sleeper();
                return true;
            }
            let parker = &self.me.parker;
            self.shared.timer_sleep(
                &self.me,
                |timeout| match timeout {
                    Some(ns) => drop(parker.park_timeout(std::time::Duration::from_nanos(ns))),
                    None => parker.park(),
                },
                || {
                    // Woken in the poller by events: run their goroutines
                    // here if a P is free (netpoll.rs step 6).
                    if let Some(p) = self.shared.claim_idle_p(&self.me) {
                        self.p.set(p);
                        self.spinning.set(false);
                        self.took_p();
                        crate::trace::m_wake(p, self.me.id);
                    }
                },
            );
            if self.p.get() != NO_P {
                self.shared.ensure_timer_sleeper();
                return true;
            }
        }
    }

    /// Records that this M now holds its P: the `sys` word it holds it by
    /// (`hold.rs`), and which thread holds it (for sysmon).
    fn took_p(&self) {
        let p = self.p();
        // Acquire: the previous holder's (or sysmon's) last use of the P
        // happens before ours.
        self.held.set(p.sys.load(Ordering::Acquire));
        p.holder_tid.store(self.tid, Ordering::Relaxed);
    }
}

/// A fresh goroutine id: from the current P's batch when the caller runs on
/// one of `shared`'s Ps, else from the shared counter.
pub(crate) fn next_goid(shared: &Shared) -> u64 {
    with_p(shared, |p| {
        // SAFETY: with_p runs us on the M holding `p`.
        let l = unsafe { p.local() };
        if l.goid_next == l.goid_end {
            l.goid_next = shared.goid.fetch_add(GOID_BATCH, Ordering::Relaxed);
            l.goid_end = l.goid_next + GOID_BATCH;
        }
        let id = l.goid_next;
        l.goid_next += 1;
        id
    })
    .unwrap_or_else(|| shared.goid.fetch_add(1, Ordering::Relaxed))
}
