//! The recorder: the event record, the bounded buffers it goes into, and
//! the per-thread (P, M) context that tells a hook which buffer is its own.
//!
//! Invariants:
//! * One buffer per P id (`MAX_PROCS` of them, allocated lazily on first
//!   push) and one shared buffer for threads holding no P (the blocking
//!   pool, plain threads, an M between Ps). Each is behind its own mutex;
//!   in the common case only the M holding that P takes it, so the lock is
//!   uncontended. (Two runtimes can both have a "P0", which is why it is a
//!   mutex rather than a single-writer cell.)
//! * A buffer holds at most [`CAPACITY`] events. When it is full, *new*
//!   events are dropped and counted (the start of the trace is kept, so
//!   every recorded slice has its beginning); `stop` prints the count.
//! * The context is a thread-local written only by its own thread, by the
//!   hooks that know the P and M (run, M idle, M wake). A hook elsewhere
//!   (spawn, ready, steal, ...) reads it to pick its buffer.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Events one buffer holds before it starts dropping.
pub(crate) const CAPACITY: usize = 1 << 17;

/// No P / no M.
pub(crate) const NONE: u32 = u32::MAX;

/// What happened. `g` and `arg` of [`Event`] mean what each variant says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `g` was created; `arg` is the spawning goroutine's id, 0 if none.
    Spawn,
    /// `g` starts or resumes running on this P and M.
    Run,
    /// `g` stopped running and parked; `name` is its wait reason.
    Park,
    /// `g` stopped running and went back to a run queue.
    Yield,
    /// `g` returned; its slice ends here.
    Exit,
    /// `g` was made runnable by this thread.
    Ready,
    /// This P stole `arg` goroutines from P `g` (the victim).
    Steal,
    /// `g` entered `syscall` (the call runs on the blocking pool, or inline
    /// in Go mode).
    SyscallEnter,
    /// `g` is back from `syscall`.
    SyscallExit,
    /// A timer's callback ran.
    TimerFire,
    /// A network poll woke `arg` waiters.
    Netpoll,
    /// This thread handed P `g` to M `arg`.
    HandOff,
    /// This M gave up P `g` and goes to sleep.
    MIdle,
    /// This M woke holding P `g`.
    MWake,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Spawn => "spawn",
            Kind::Run => "run",
            Kind::Park => "park",
            Kind::Yield => "yield",
            Kind::Exit => "exit",
            Kind::Ready => "ready",
            Kind::Steal => "steal",
            Kind::SyscallEnter => "syscall enter",
            Kind::SyscallExit => "syscall exit",
            Kind::TimerFire => "timer fire",
            Kind::Netpoll => "netpoll",
            Kind::HandOff => "hand-off",
            Kind::MIdle => "M idle",
            Kind::MWake => "M wake",
        }
    }
}

/// One recorded event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    /// Since the trace started: clock ticks while recorded, nanoseconds
    /// once `drain` returns it.
    pub(crate) ts: u64,
    pub(crate) kind: Kind,
    /// The P the recording thread held, or [`NONE`].
    pub(crate) p: u32,
    /// The recording M, or [`NONE`] for a thread that is not an M.
    pub(crate) m: u32,
    pub(crate) g: u64,
    pub(crate) arg: u64,
    /// The wait reason, for [`Kind::Park`]; empty otherwise.
    pub(crate) name: &'static str,
}

/// A bounded event buffer.
pub(crate) struct Buffer {
    pub(crate) events: Vec<Event>,
    /// Events refused because the buffer was full.
    pub(crate) dropped: u64,
}

impl Buffer {
    const fn new() -> Buffer {
        Buffer {
            events: Vec::new(),
            dropped: 0,
        }
    }
}

/// Per-P buffers, indexed by P id. Each protected by its own mutex.
static PER_P: [Mutex<Buffer>; crate::MAX_PROCS] =
    [const { Mutex::new(Buffer::new()) }; crate::MAX_PROCS];
/// Events from threads that hold no P. Protected by its mutex.
static SHARED: Mutex<Buffer> = Mutex::new(Buffer::new());

/// Trace time zero, in [`Clock`] ticks: written by `reset` before `start`
/// sets `ENABLED` (a hook racing with it only misplaces its one event,
/// which `saturating_sub` pins to zero).
static START_TICKS: AtomicU64 = AtomicU64::new(0);
/// Trace time zero in nanoseconds since [`Clock::base`], taken together
/// with `START_TICKS`; `drain` uses the pair to turn ticks into ns.
static START_NS: AtomicU64 = AtomicU64::new(0);

/// Where timestamps come from, chosen once per process. On x86_64, when
/// the kernel itself uses the TSC as its clocksource (so it is invariant
/// and synchronised across cores), a raw `rdtsc` (about 10 ns here against
/// about 28 ns for `clock_gettime`, the largest part of an event's cost),
/// scaled to nanoseconds at `drain`; elsewhere `Instant`, 1 tick = 1 ns.
struct Clock {
    base: Instant,
    tsc: bool,
}

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| Clock {
        base: Instant::now(),
        tsc: cfg!(target_arch = "x86_64")
            && std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|s| s.trim() == "tsc"),
    })
}

fn ns_since_base() -> u64 {
    clock().base.elapsed().as_nanos() as u64
}

fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if clock().tsc {
        // SAFETY: rdtsc has no preconditions; `tsc` says it is usable.
        return unsafe { std::arch::x86_64::_rdtsc() };
    }
    ns_since_base()
}

fn now_ticks() -> u64 {
    ticks().saturating_sub(START_TICKS.load(Ordering::Relaxed))
}

thread_local! {
    /// (P, M) of this thread as the last P/M-aware hook saw it.
    static CONTEXT: Cell<(u32, u32)> = const { Cell::new((NONE, NONE)) };
}

/// Records that this thread is M `m` holding P `p` (or [`NONE`]).
pub(crate) fn set_context(p: u32, m: u32) {
    CONTEXT.with(|c| c.set((p, m)));
}

pub(crate) fn context() -> (u32, u32) {
    CONTEXT.with(|c| c.get())
}

fn lock(b: &Mutex<Buffer>) -> std::sync::MutexGuard<'_, Buffer> {
    b.lock().unwrap_or_else(|e| e.into_inner())
}

/// Appends an event stamped now, from this thread's context.
pub(crate) fn push(kind: Kind, g: u64, arg: u64, name: &'static str) {
    let (p, m) = context();
    let ev = Event {
        ts: now_ticks(),
        kind,
        p,
        m,
        g,
        arg,
        name,
    };
    let buf = PER_P.get(p as usize).unwrap_or(&SHARED);
    let mut b = lock(buf);
    if b.events.len() >= CAPACITY {
        b.dropped += 1;
    } else {
        if b.events.capacity() == 0 {
            // Once, at full size: growing by doubling would copy and fault
            // in pages mid-trace. Untouched pages cost nothing.
            b.events.reserve_exact(CAPACITY);
        }
        b.events.push(ev);
    }
}

/// Empties every buffer (keeping its memory, already faulted in, for the
/// next trace) and makes now time zero.
pub(crate) fn reset() {
    for b in PER_P.iter().chain(std::iter::once(&SHARED)) {
        let mut b = lock(b);
        b.events.clear();
        b.dropped = 0;
    }
    START_NS.store(ns_since_base(), Ordering::Relaxed);
    START_TICKS.store(ticks(), Ordering::Relaxed);
}

/// Takes every buffer's events, sorted by time, and the number dropped.
pub(crate) fn drain() -> (Vec<Event>, u64) {
    let mut all = Vec::new();
    let mut dropped = 0;
    for b in PER_P.iter().chain(std::iter::once(&SHARED)) {
        let mut b = lock(b);
        all.extend_from_slice(&b.events);
        b.events.clear();
        dropped += std::mem::take(&mut b.dropped);
    }
    // Ticks to ns: the ticks and ns elapsed since `reset` give the rate.
    let elapsed_ticks = now_ticks().max(1);
    let elapsed_ns = ns_since_base().saturating_sub(START_NS.load(Ordering::Relaxed));
    let per_tick = elapsed_ns as f64 / elapsed_ticks as f64;
    for e in &mut all {
        e.ts = (e.ts as f64 * per_tick) as u64;
    }
    // Stable: events of one buffer with equal stamps keep their order.
    all.sort_by_key(|e| e.ts);
    (all, dropped)
}
