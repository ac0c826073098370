//! The scheduler: Go's G-M-P model.
//!
//! * **G** (`g.rs`): a goroutine: its closure, stack, saved stack pointer,
//!   state and wait reason.
//! * **M** (`m.rs`): an OS thread that runs goroutines, but only while it
//!   holds a P.
//! * **P** (`p.rs`): a processor, the licence to run goroutines, with a local
//!   run queue, a `runnext` slot and a stack cache. There are exactly
//!   `max_procs` Ps.
//!
//! Where a runnable goroutine waits: its P's `runnext`, its P's queues, or
//! the global queue (`inject.rs`). Idle Ms park on a futex; how work wakes
//! them without herds or lost wake-ups is in `idle.rs`. Everything that
//! blocks goes through `park`/`ready` (`park.rs`). The two scheduling modes
//! differ only in `mode.rs`.
//!
//! Rejected designs, and why:
//! * Spawning a goroutine into the stealable ring rather than `runnext`
//!   (Go uses `runnext`): an idle P then often stole a just-spawned partner
//!   before the spawner parked, and in pinned mode that placement is for
//!   life, so a ping-pong pair could end up a thread hop apart (100x
//!   slower). With `runnext`, the previous new goroutine is what becomes
//!   stealable, so a spawn loop still spreads.
//! * Waking an idle P for a goroutine readied into `runnext`: nobody but this
//!   P can take it from there, so the wake-up would only cost a futex call
//!   and a failed steal. Only stealable work wakes Ps.
//! * Unmapping the stacks of goroutines still parked when a runtime is
//!   dropped: a wait queue elsewhere may still point into them. They are
//!   leaked, with the runtime's shared state (see `Runtime`'s drop).

mod clock;
pub(crate) mod deadlock;
pub(crate) mod g;
pub(crate) mod hold;
pub(crate) mod idle;
mod inject;
pub(crate) mod join_cell;
pub(crate) mod lock;
pub(crate) mod m;
pub(crate) mod mode;
pub(crate) mod netpoll;
pub(crate) mod p;
pub(crate) mod park;
pub(crate) mod queue;
pub(crate) mod registry;
pub(crate) mod sysmon;
mod task_alloc;

pub(crate) use m::running_stack;

use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::stack::arena::{Arena, GuardMode};
use crossbeam_utils::CachePadded;
use g::{GRef, NO_HOME};
use join_cell::JoinCell;
use mode::Mode;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, Weak};

/// A runtime's settled configuration.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) max_procs: usize,
    pub(crate) stack_size: usize,
    pub(crate) mode: Mode,
    pub(crate) guard: GuardMode,
    /// GOROUTINES_DEBUG=parkstacks=1: record a backtrace at every park.
    pub(crate) park_stacks: bool,
}

/// State shared by all of a runtime's Ms.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) ps: Box<[p::P]>,
    // The fields every M writes are padded apart (as the Ps' are): the
    // global queue, the idle and spinning counts, the goroutine-id counter
    // and sysmon's clock each have their own cache line.
    pub(crate) global: CachePadded<inject::Inject>,
    pub(crate) idle: CachePadded<idle::Idle>,
    pub(crate) arena: Arena,
    /// Next goroutine id (Ps take batches).
    pub(crate) goid: CachePadded<AtomicU64>,
    /// Goroutines spawned from plain threads (Ps count their own).
    foreign_spawns: AtomicU64,
    /// Goroutines that exited while their M held no P (Go mode, `hold.rs`).
    pub(crate) exits_without_p: AtomicU64,
    shutdown: AtomicBool,
    /// When the runtime started: time zero of the runtime clock.
    pub(crate) epoch: std::time::Instant,
    /// The timer sleeper's deadline (`clock.rs`), NONE when there is none.
    pub(crate) sleep_until: AtomicU64,
    /// The idle M parked until the next timer, if any.
    pub(crate) sleeper: Mutex<Option<Arc<m::MShared>>>,
    /// Runtime-clock nanoseconds, refreshed by sysmon each cycle: a clock
    /// the park path can read for free (dumps' "waiting for").
    pub(crate) coarse_now: CachePadded<AtomicU64>,
    /// Timers fired and Ps handed to Ms, for stats (Relaxed counters).
    pub(crate) timer_fires: AtomicU64,
    pub(crate) handoffs: AtomicU64,
    /// Hand-offs by `wakep` (`Stats::spinning_recruits`).
    pub(crate) spinning_recruits: AtomicU64,
    /// Where sysmon sleeps between cycles; kicked at shutdown.
    pub(crate) sysmon_parker: park::Parker,
    /// Set by sysmon while it sleeps longer than a syscall may block a P
    /// unnoticed; an inline syscall, or a timer a hog may sit on, then wakes
    /// it (`wake_sysmon`).
    pub(crate) sysmon_deep: AtomicBool,
    /// Go mode, with `membarrier` available: sysmon may take the P of an M
    /// running a goroutine that keeps it from waiting work (`hold.rs`).
    pub(crate) retake_running: bool,
    /// Ms running a goroutine whose P sysmon took, until the goroutine gets
    /// a P back or switches out (`m::enter_runtime`, `finish_without_p`).
    /// Capped at `max_procs`.
    pub(crate) running_without_p: std::sync::atomic::AtomicUsize,
    /// Goroutines of this runtime that a plain thread, or a goroutine of
    /// another runtime, is blocked joining: shutdown ends those joins (see
    /// `join.rs`). Joins from this runtime's own goroutines are not listed:
    /// they stop with the runtime.
    pub(crate) foreign_joiners: Mutex<Vec<join_cell::CoreRef>>,
    /// Messages already printed by `report_once`.
    reported: Mutex<Vec<String>>,
    me: Weak<Shared>,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Arc<Shared> {
        Arc::new_cyclic(|me| Shared {
            ps: (0..config.max_procs as u32).map(p::P::new).collect(),
            global: CachePadded::new(inject::Inject::new()),
            idle: CachePadded::new(idle::Idle::new(config.max_procs)),
            arena: Arena::new(config.stack_size, config.guard),
            goid: CachePadded::new(AtomicU64::new(1)),
            foreign_spawns: AtomicU64::new(0),
            exits_without_p: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            epoch: std::time::Instant::now(),
            sleep_until: AtomicU64::new(crate::time::heap::NONE),
            sleeper: Mutex::new(None),
            sysmon_parker: park::Parker::new(),
            sysmon_deep: AtomicBool::new(false),
            retake_running: config.mode.retakes_running_ps() && hold::can_retake_running(),
            running_without_p: std::sync::atomic::AtomicUsize::new(0),
            timer_fires: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
            spinning_recruits: AtomicU64::new(0),
            coarse_now: CachePadded::new(AtomicU64::new(0)),
            reported: Mutex::new(Vec::new()),
            foreign_joiners: Mutex::new(Vec::new()),
            me: me.clone(),
            config,
        })
    }

    pub(crate) fn arc(&self) -> Arc<Shared> {
        self.me
            .upgrade()
            .expect("runtime state is alive while its Ms run")
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Prints `msg` to stderr unless it was printed before.
    pub(crate) fn report_once(&self, msg: &str) {
        let mut seen = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        let kind = msg.split(':').nth(1).unwrap_or(msg).to_string();
        if !seen.contains(&kind) {
            eprintln!("goroutines: {msg}");
            seen.push(kind);
        }
    }

    /// Goroutines ever spawned.
    pub(crate) fn spawned(&self) -> u64 {
        self.ps
            .iter()
            .map(|p| p.spawned.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.foreign_spawns.load(Ordering::Relaxed)
    }

    /// Switches into goroutines so far, over all Ps.
    pub(crate) fn switches(&self) -> u64 {
        self.ps
            .iter()
            .map(|p| p.switches.load(Ordering::Relaxed))
            .sum()
    }

    /// Goroutines spawned and not yet exited.
    pub(crate) fn num_goroutines(&self) -> usize {
        let spawned = self.spawned();
        let exited: u64 = self
            .ps
            .iter()
            .map(|p| p.exited.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.exits_without_p.load(Ordering::Relaxed);
        spawned.saturating_sub(exited) as usize
    }

    /// Queues a new goroutine running `f`; returns the join reference.
    pub(crate) fn spawn<F, T>(&self, f: F, site: &'static Location<'static>) -> NonNull<JoinCell<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_homed(f, site, NO_HOME)
    }

    /// Queues a new goroutine running `f` on the caller's P for life: in
    /// pinned mode, on the caller's OS thread. None when the caller is not a
    /// goroutine of this runtime, or the runtime is in Go mode (where a P
    /// does not stay on one thread).
    pub(crate) fn spawn_here<F, T>(
        &self,
        f: F,
        site: &'static Location<'static>,
    ) -> Option<NonNull<JoinCell<T>>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if !self.config.mode.binds_m_to_p() || !m::in_goroutine() {
            return None;
        }
        let here = m::with_p(self, |p| p.id)?;
        Some(self.spawn_homed(f, site, here))
    }

    /// Allocates a goroutine with `home` (or none) and queues it.
    fn spawn_homed<F, T>(
        &self,
        f: F,
        site: &'static Location<'static>,
        home: u32,
    ) -> NonNull<JoinCell<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = m::next_goid(self);
        crate::trace::spawn(id);
        let (g, join) = g::new_task(f, id, self, site);
        if home != NO_HOME {
            // Homed before it is queued: `put` keeps it out of the stealable
            // ring, and `start_goroutine` keeps a home it already has.
            g.home.store(home, Ordering::Relaxed);
        }
        self.queue_new(g);
        join
    }

    /// Puts a just-spawned goroutine where it runs first: the spawner's
    /// `runnext`, or the global queue from a plain thread.
    fn queue_new(&self, g: GRef) {
        let mut g = Some(g);
        // As in Go, a goroutine spawned by a goroutine goes to `runnext`:
        // it runs on this P as soon as the spawner parks (in pinned mode,
        // for life), and the one it displaces becomes stealable.
        let local = m::with_p(self, |p| {
            p.bump(&p.spawned);
            // SAFETY: with_p runs us on the M holding `p`.
            unsafe { p.put(g.take().expect("queued once"), true) }
        });
        match local {
            Some((overflow, stealable)) => {
                if let Some(batch) = overflow {
                    self.global.push_batch(batch);
                }
                if stealable {
                    self.wakep();
                }
            }
            None => {
                self.foreign_spawns.fetch_add(1, Ordering::Relaxed);
                self.global.push(g.take().expect("queued once"));
                self.wakep();
            }
        }
    }

    /// An inline syscall began (or, with `retake_running`, a timer was
    /// started): make sure sysmon is watching, so that the P is handed off
    /// within tens of microseconds (or the timer fires on time) rather than
    /// at the end of a 10 ms sleep. Costs a futex wake only for the first
    /// after a quiet spell.
    pub(crate) fn wake_sysmon(&self) {
        if self.sysmon_deep.load(Ordering::Relaxed)
            && self.sysmon_deep.swap(false, Ordering::Relaxed)
        {
            self.sysmon_parker.unpark();
        }
    }

    /// Begins shutdown: Ms stop at their next scheduling point.
    pub(crate) fn shut_down(&self) {
        self.shutdown.store(true, Ordering::Release);
        // A goroutine that never parks still reaches preemption points
        // (spawn, channel operations): make the next one yield, so its M
        // sees the shutdown. Sysmon, which would set these, is stopping.
        for p in self.ps.iter() {
            p.preempt.store(true, Ordering::Relaxed);
        }
        self.sysmon_parker.unpark();
        for m in self.idle.all_ms() {
            m.kick();
        }
        // Joins from outside that would wait for ever. The flag is set
        // first, so a join that takes the lock after us sees it and does
        // not register (join.rs).
        // The lock is held throughout: a listed joiner leaves the list (and
        // may drop its handle, freeing the cell) only after taking it.
        let mut joiners = self
            .foreign_joiners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for cell in joiners.drain(..) {
            // SAFETY: listed cells belong to joiners blocked in `join`,
            // which cannot return while we hold the lock.
            unsafe { cell.0.as_ref().abort_join_wait() };
        }
    }

    /// Owns a reference to this runtime's state, if it is still alive.
    pub(crate) fn try_arc(&self) -> Option<Arc<Shared>> {
        self.me.upgrade()
    }
}

/// Makes a parked goroutine runnable (Go's `goready`). See `park.rs`.
pub(crate) fn ready(g: GRef) {
    g.transition_to_runnable();
    crate::trace::ready(g.id);
    // SAFETY: a goroutine that has not exited keeps its runtime's Shared
    // alive (see the field's docs).
    let shared = unsafe { &*g.shared };
    let home = g.home.load(Ordering::Relaxed);
    let mut g = Some(g);
    let here = m::with_p(shared, |p| {
        if home != NO_HOME && home != p.id {
            return None;
        }
        // SAFETY: with_p runs us on the M holding `p`.
        Some(unsafe { p.put(g.take().expect("queued once"), true) })
    });
    match here.flatten() {
        Some((overflow, stealable)) => {
            if let Some(batch) = overflow {
                shared.global.push_batch(batch);
            }
            if stealable {
                shared.wakep();
            }
        }
        None => {
            let g = g.take().expect("queued once");
            if home == NO_HOME {
                shared.global.push(g);
                shared.wakep();
            } else {
                shared.ps[home as usize].push_remote(g);
                shared.notify_p(home);
            }
        }
    }
}
