//! `goroutines::stats()`: a snapshot of what the scheduler is doing.
//!
//! Every number is read without stopping the world, so the fields are each
//! accurate but not taken at one instant (as with Go's `schedtrace`).
//! `parked` is derived: live goroutines neither running nor queued.

use crate::scheduler::Shared;
use crate::stack::arena::GuardMode;
use std::fmt;
use std::sync::atomic::Ordering;

/// A snapshot of one runtime's scheduler.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Stats {
    /// Ps (GOMAXPROCS).
    pub max_procs: usize,
    /// Ps with nothing to run.
    pub idle_procs: usize,
    /// OS threads started to run goroutines (Ms).
    pub threads: usize,
    /// Ms looking for work.
    pub spinning_threads: usize,
    /// Ms parked with no P.
    pub idle_threads: usize,
    /// Goroutines spawned and not exited.
    pub goroutines: usize,
    /// Goroutines executing now.
    pub running: usize,
    /// Goroutines waiting in run queues.
    pub runnable: usize,
    /// Goroutines parked (on a channel, lock, timer, join...).
    pub parked: usize,
    /// Length of the global run queue.
    pub global_queue: usize,
    /// Length of each P's stealable run queue plus its inbox.
    pub local_queues: Vec<usize>,
    /// Goroutines ever spawned.
    pub spawned: u64,
    /// Switches into goroutines.
    pub context_switches: u64,
    /// Successful steals of another P's goroutines.
    pub steals: u64,
    /// Go mode: Ps sysmon took from their Ms: from an M blocked in an
    /// inline `syscall`, or from one running a goroutine that kept waiting
    /// work (an overdue timer, runnable goroutines) from its P.
    pub retakes: u64,
    /// Go mode: Ms running a goroutine whose P sysmon took; each gives its
    /// M up at the goroutine's next runtime call.
    pub running_without_p: usize,
    /// Timers pending (stopped ones not yet swept included).
    pub timers: usize,
    /// Timers fired so far.
    pub timer_fires: u64,
    /// Times an idle P was handed to an M.
    pub handoffs: u64,
    /// Of those, the hand-offs to an M sent to look for work to steal (Go's
    /// `wakep`): each costs a thread wake-up and a round of spinning, which
    /// finds nothing unless some queue held goroutines any P may run.
    pub spinning_recruits: u64,
    /// Waiters woken by the network poller so far (whole process).
    pub netpoll_woken: u64,
    /// `syscall` calls running now, on the blocking pool or inline in Go
    /// mode (whole process).
    pub in_syscall: usize,
    /// Parked goroutines by wait reason (Go's names), for those that have
    /// parked at least once (see `dump`).
    pub parked_by_reason: Vec<(&'static str, usize)>,
    /// Usable bytes of each goroutine stack.
    pub stack_size: usize,
    /// Stacks carved from the arena so far (each has a guard page).
    pub stacks_carved: usize,
    /// Stacks on the arena's free list (cold pages released).
    pub stacks_free: usize,
    /// Address space reserved for stacks.
    pub stack_reserved_bytes: usize,
    /// How guard pages are made: `madvise` (MADV_GUARD_INSTALL) or
    /// `mprotect` (two mappings per stack).
    pub guard: &'static str,
}

impl Stats {
    pub(crate) fn of(shared: &Shared) -> Stats {
        let ps = &shared.ps;
        let local_queues: Vec<usize> = ps.iter().map(|p| p.queued()).collect();
        let global_queue = shared.global.len();
        let running = ps
            .iter()
            .filter(|p| p.curg.load(Ordering::Relaxed) != 0)
            .count();
        let runnable = global_queue + local_queues.iter().sum::<usize>();
        let goroutines = shared.num_goroutines();
        let idle_procs = shared.idle.npidle.load(Ordering::Relaxed);
        let threads = shared.idle.all_ms().len();
        let (stacks_carved, stacks_free, stack_reserved_bytes) = shared.arena.usage();
        Stats {
            max_procs: ps.len(),
            idle_procs,
            threads,
            spinning_threads: shared.idle.nmspinning.load(Ordering::Relaxed),
            idle_threads: threads.saturating_sub(ps.len() - idle_procs.min(ps.len())),
            goroutines,
            running,
            runnable,
            parked: goroutines.saturating_sub(running + runnable),
            global_queue,
            local_queues,
            spawned: shared.spawned(),
            context_switches: ps.iter().map(|p| p.switches.load(Ordering::Relaxed)).sum(),
            steals: ps.iter().map(|p| p.steals.load(Ordering::Relaxed)).sum(),
            retakes: ps.iter().map(|p| p.retakes.load(Ordering::Relaxed)).sum(),
            running_without_p: shared.running_without_p.load(Ordering::Relaxed),
            timers: ps.iter().map(|p| p.timers.len()).sum(),
            timer_fires: shared.timer_fires.load(Ordering::Relaxed),
            handoffs: shared.handoffs.load(Ordering::Relaxed),
            spinning_recruits: shared.spinning_recruits.load(Ordering::Relaxed),
            netpoll_woken: crate::scheduler::netpoll::WOKEN.load(Ordering::Relaxed),
            in_syscall: crate::syscall::in_flight(),
            parked_by_reason: parked_by_reason(shared),
            stack_size: shared.config.stack_size,
            stacks_carved,
            stacks_free,
            stack_reserved_bytes,
            guard: match shared.arena.guard_mode() {
                GuardMode::Madvise => "madvise",
                GuardMode::Mprotect => "mprotect",
            },
        }
    }
}

/// Counts the registered goroutines that are parked, by wait reason.
fn parked_by_reason(shared: &Shared) -> Vec<(&'static str, usize)> {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for p in shared.ps.iter() {
        p.registry.for_each_live(|g| {
            if let (crate::scheduler::g::WAITING, reason) = g.state() {
                let name = reason.as_str();
                match counts.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((name, 1)),
                }
            }
        });
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts
}

/// One line in the spirit of Go's `GODEBUG=schedtrace`.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={} [",
            self.max_procs,
            self.idle_procs,
            self.threads,
            self.spinning_threads,
            self.idle_threads,
            self.global_queue,
        )?;
        for (i, n) in self.local_queues.iter().enumerate() {
            write!(f, "{}{n}", if i == 0 { "" } else { " " })?;
        }
        write!(
            f,
            "] goroutines={} running={} runnable={} parked={}",
            self.goroutines, self.running, self.runnable, self.parked
        )
    }
}
