//! sysmon: one background thread per runtime that watches the Ps.
//!
//! Each cycle it looks at every P:
//! 1. A P whose running goroutine has not reached a scheduling point for a
//!    whole time slice ([`TIME_SLICE`], 10 ms as in Go) gets its `preempt`
//!    flag set: the goroutine yields at its next runtime call.
//! 2. If it still has not switched out a time slice later (it reaches no
//!    runtime call that could honour the flag) and its thread did get a CPU
//!    meanwhile (a thread waiting for a CPU on a busy machine is no hog; in
//!    a VM, CPU time the hypervisor stole, `/proc/stat`'s steal column,
//!    does not count either),
//!    sysmon reports it, once per episode: which goroutine, for how long,
//!    whether its thread is on a CPU (a hog) or asleep in the kernel (an
//!    unannotated blocking call), read from `/proc/self/task/TID/stat` and
//!    `schedstat`, and the fix. The P's unstarted goroutines are offered to
//!    idle Ps (`wakep`), so they run elsewhere, including the one in its
//!    `runnext` slot, which sysmon moves to the global queue.
//! 3. Every [`SCAVENGE_EVERY`] it releases the cold pages of stacks that
//!    have lingered on the arena's warm list (beyond [`WARM_STACKS`]).
//! 4. With `GOROUTINES_DEBUG=schedtrace=MS`, it prints a `SCHED` line every
//!    MS milliseconds (and per-P lines with `scheddetail=1`).
//!
//! It sleeps 20 µs between cycles while it has something to do and backs off
//! to 10 ms once it has had nothing to do for 50 cycles (Go's rule), so an
//! idle runtime costs it about 100 wake-ups a second.
//!
//! 5. Go mode: a P whose M has been in an inline `syscall` for a whole cycle
//!    (20 µs while any is in flight) is retaken and handed to another M.
//!    Entering an inline syscall wakes sysmon from a long sleep.
//! 6. Go mode: a P whose goroutine keeps running while work waits for the P
//!    is taken from its M (`hold.rs`) and handed to another M; the
//!    goroutine carries on without a P until its next runtime call. Work
//!    waiting means: one of the P's timers overdue by [`TIMER_GRACE`] (so a
//!    sleeper is late by about that much, however long the hog runs), or,
//!    once the preempt flag of step 1 went unheeded for a cycle, runnable
//!    goroutines on the P or in the global queue (Go's 10 ms time slice).
//!    While such a P has a timer pending, sysmon sleeps no later than its
//!    deadline plus the grace, and a new timer wakes it from a deep sleep.
//!    At most `max_procs` Ms run goroutines without a P at a time.

use super::{hold, Shared};
use crate::debug::Settings;
use crate::time::heap::NONE;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a goroutine may run before sysmon asks it to yield.
pub(crate) const TIME_SLICE: Duration = Duration::from_millis(10);
/// How often sysmon scavenges stacks, and how many warm ones it leaves.
pub(crate) const SCAVENGE_EVERY: Duration = Duration::from_millis(100);
pub(crate) const WARM_STACKS: usize = 256;
const MIN_DELAY: Duration = Duration::from_micros(20);
/// Sleeping longer than this, sysmon asks inline syscalls to wake it.
const DEEP_SLEEP: Duration = Duration::from_micros(500);
const MAX_DELAY: Duration = Duration::from_millis(10);
/// Go mode: how late a timer may be on a P whose goroutine does not reach a
/// scheduling point before sysmon gives the P to another M.
pub(crate) const TIMER_GRACE: Duration = Duration::from_millis(1);

/// What sysmon remembers about one P between cycles.
#[derive(Clone)]
struct Watch {
    switches: u64,
    since: Instant,
    reported: bool,
    /// The holder thread's CPU time (ns) when the preempt flag was set.
    cpu_at_flag: Option<u64>,
    /// An average vCPU's stolen time (ns, `stolen_ns`) when the flag was set.
    steal_at_flag: u64,
    /// The P's `sys` word last cycle: the same IN_SYSCALL word twice means
    /// one inline syscall has lasted a whole cycle (each syscall's exit
    /// starts a new epoch, `hold.rs`).
    sys: u64,
}

/// Starts the sysmon thread of `shared`.
pub(crate) fn start(
    shared: Arc<Shared>,
    settings: Settings,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("goroutines-sysmon".into())
        .spawn(move || run(&shared, &settings))
}

fn run(shared: &Shared, settings: &Settings) {
    let start = Instant::now();
    let fresh = |switches, since| Watch {
        switches,
        since,
        reported: false,
        cpu_at_flag: None,
        steal_at_flag: 0,
        sys: 0,
    };
    let mut watch = vec![fresh(0, start); shared.ps.len()];
    let mut delay = MIN_DELAY;
    let mut idle_cycles = 0u32;
    let mut next_trace = settings.schedtrace.map(|p| start + p);
    let mut next_scavenge = start + SCAVENGE_EVERY;
    let mut suspect = super::deadlock::Suspect::default();
    // Step 6: when sysmon must look again at the latest, in runtime time.
    let mut look_by = NONE;
    loop {
        let mut sleep = match next_trace {
            Some(t) => delay.min(t.saturating_duration_since(Instant::now())),
            None => delay,
        };
        if look_by != NONE {
            let until = Duration::from_nanos(look_by.saturating_sub(shared.now()));
            sleep = sleep.min(until).max(MIN_DELAY);
        }
        shared
            .sysmon_deep
            .store(sleep > DEEP_SLEEP, Ordering::Relaxed);
        shared.sysmon_parker.park_timeout(sleep);
        shared.sysmon_deep.store(false, Ordering::Relaxed);
        if shared.is_shut_down() {
            return;
        }
        let now = Instant::now();
        shared
            .coarse_now
            .store(shared.nanos_at(now), Ordering::Relaxed);
        crate::dump::check_sigquit();
        let mut acted = false;
        let now_ns = shared.nanos_at(now);
        look_by = NONE;
        for (p, w) in shared.ps.iter().zip(watch.iter_mut()) {
            // Go mode: a P whose M has been in an inline syscall since last
            // cycle goes to another M (Go's retake of a _Psyscall P).
            let sys = p.sys.load(Ordering::Acquire);
            if hold::state(sys) == hold::IN_SYSCALL {
                acted = true; // keep watching at the fastest pace
                if w.sys == sys && hold::retake_syscall(&p.sys, sys) {
                    p.bump_retakes();
                    shared.hand_off_retaken(p.id);
                }
                w.sys = sys;
                continue;
            }
            w.sys = sys;
            let switches = p.switches.load(Ordering::Relaxed);
            let g = p.curg.load(Ordering::Relaxed);
            if g != 0 && shared.retake_running && hold::state(sys) == hold::HELD {
                let timer = p.timers.next();
                // When the P's earliest timer counts as overdue.
                let late = timer.saturating_add(TIMER_GRACE.as_nanos() as u64);
                if timer != NONE {
                    look_by = look_by.min(late);
                }
                // Step 6, for a goroutine seen running since last cycle.
                let overdue = timer != NONE && now_ns >= late;
                let starved =
                    w.cpu_at_flag.is_some() && (p.queued() > 0 || !shared.global.is_empty());
                if switches == w.switches
                    && (overdue || starved)
                    && shared.running_without_p.load(Ordering::Relaxed) < shared.ps.len()
                    && hold::retake_running(&p.sys, &p.user_code, sys)
                {
                    shared.running_without_p.fetch_add(1, Ordering::Relaxed);
                    p.curg.store(0, Ordering::Relaxed);
                    p.bump_retakes();
                    shared.hand_off_retaken(p.id);
                    acted = true;
                    *w = fresh(switches, now);
                    continue;
                }
            }
            if g == 0 || switches != w.switches {
                *w = fresh(switches, now);
                continue;
            }
            let ran = now - w.since;
            if ran < TIME_SLICE {
                continue;
            }
            p.preempt.store(true, Ordering::Relaxed);
            let tid = p.holder_tid.load(Ordering::Relaxed);
            let Some(cpu_at_flag) = w.cpu_at_flag else {
                w.cpu_at_flag = thread_cpu_ns(tid);
                w.steal_at_flag = stolen_ns().unwrap_or(0);
                continue;
            };
            if ran < 2 * TIME_SLICE || w.reported {
                continue;
            }
            // A thread that got little CPU since the flag was set was waiting
            // for a CPU (the machine is busy), not hogging one.
            let state = thread_state(tid);
            let cpu = thread_cpu_ns(tid).map_or(u64::MAX, |c| c.saturating_sub(cpu_at_flag));
            // In a VM, time the hypervisor gave this vCPU to someone else can
            // still count as the thread's CPU time: take off what an average
            // vCPU had stolen since the flag (an estimate: a real hog may be
            // reported a cycle or two later on a machine that is being robbed).
            let stolen = stolen_ns().map_or(0, |s| s.saturating_sub(w.steal_at_flag));
            if matches!(state, Some(('R', _)))
                && cpu.saturating_sub(stolen) < TIME_SLICE.as_nanos() as u64 / 2
            {
                continue;
            }
            w.reported = true;
            acted = true;
            report_stall(shared, p, g, ran, state);
            // The stuck P's `runnext` (typically a goroutine its hog spawned
            // just before it stopped calling into the runtime) would wait
            // behind it: move it where another P can run it, or, if it is
            // homed on this P (pinned mode, started), into the P's inbox,
            // where it stays this P's.
            if let Some(next) = p.steal_runnext() {
                if next.home.load(Ordering::Relaxed) == super::g::NO_HOME {
                    shared.global.push(next);
                } else {
                    p.push_remote(next);
                }
            }
            if !p.runq.is_empty() || !shared.global.is_empty() {
                shared.wakep();
            }
        }
        super::deadlock::check(shared, &mut suspect);
        super::netpoll::poll_if_stale();
        if now >= next_scavenge {
            shared.arena.scavenge(WARM_STACKS);
            next_scavenge = now + SCAVENGE_EVERY;
        }
        if let (Some(t), Some(period)) = (next_trace, settings.schedtrace) {
            if now >= t {
                print_trace(shared, start, settings.scheddetail);
                next_trace = Some(t + period);
            }
        }
        if acted {
            idle_cycles = 0;
            delay = MIN_DELAY;
        } else {
            idle_cycles += 1;
            if idle_cycles > 50 {
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

/// The kernel's view of thread `tid`: its state letter and what it waits in.
fn thread_state(tid: i32) -> Option<(char, String)> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    let state = stat[stat.rfind(')')? + 2..].chars().next()?;
    let wchan = std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan")).unwrap_or_default();
    Some((state, wchan))
}

/// Nanoseconds of CPU time the hypervisor has taken from one vCPU of this
/// machine, on average (the `steal` column of `/proc/stat`'s `cpu` line
/// over the number of CPUs), if known.
fn stolen_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks = steal_ticks(stat.lines().next()?)?;
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1) as u64;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks.saturating_mul(1_000_000_000 / hz as u64) / cpus)
}

/// The steal column (the eighth number) of `/proc/stat`'s aggregate `cpu`
/// line.
fn steal_ticks(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    fields.nth(7)?.parse().ok()
}

/// Nanoseconds thread `tid` has spent on a CPU (`schedstat`'s first field).
fn thread_cpu_ns(tid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn report_stall(
    shared: &Shared,
    p: &super::p::P,
    g: u64,
    ran: Duration,
    state: Option<(char, String)>,
) {
    let tid = p.holder_tid.load(Ordering::Relaxed);
    let doing = match state {
        Some(('R', _)) => {
            "running on a CPU without reaching a scheduling point (a CPU-bound loop? \
                           call goroutines::yield_now() in it)"
                .to_string()
        }
        Some((state, wchan)) => {
            let wchan = if wchan.is_empty() || wchan == "0" {
                String::new()
            } else {
                format!(" in {wchan}")
            };
            format!(
                "blocked in the kernel (state {state}{wchan}): an unannotated blocking call \
                 (std::fs, std::net, thread::sleep, FFI)? wrap it in goroutines::syscall(|| ...)"
            )
        }
        None => "in an unknown state".to_string(),
    };
    let pinned = if shared.config.mode.binds_m_to_p() {
        "goroutines pinned to its thread wait; "
    } else {
        ""
    };
    eprintln!(
        "goroutines: goroutine {g} has held P{} (thread {tid}) for {} ms, {doing}; {pinned}\
         unstarted goroutines move to other Ps",
        p.id,
        ran.as_millis()
    );
}

fn print_trace(shared: &Shared, start: Instant, detail: bool) {
    let stats = crate::Stats::of(shared);
    let mut out = format!("SCHED {}ms: {stats}\n", start.elapsed().as_millis());
    if detail {
        for p in shared.ps.iter() {
            out.push_str(&format!(
                "  P{}: status={} curg={} runqsize={} timers={} switches={} steals={} m_tid={}\n",
                p.id,
                if p.idle.load(Ordering::Relaxed) {
                    "idle"
                } else {
                    "running"
                },
                p.curg.load(Ordering::Relaxed),
                p.queued(),
                p.timers.len(),
                p.switches.load(Ordering::Relaxed),
                p.steals.load(Ordering::Relaxed),
                p.holder_tid.load(Ordering::Relaxed),
            ));
        }
    }
    eprint!("{out}");
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::steal_ticks;

    #[test]
    fn the_steal_column_is_read_from_the_aggregate_cpu_line() {
        assert_eq!(
            steal_ticks("cpu  1026490 0 589024 828485 3405 0 220285 54710 0 0"),
            Some(54710)
        );
        // A per-CPU line, a short line and garbage are not read.
        assert_eq!(
            steal_ticks("cpu0 496961 0 293168 433571 889 0 109774 26938 0 0"),
            None
        );
        assert_eq!(steal_ticks("cpu  1 2 3"), None);
        assert_eq!(steal_ticks("cpu  a b c d e f g h"), None);
    }

    #[test]
    fn stolen_time_is_readable_here() {
        // Every Linux since 2.6.11 has the column (zero outside a VM).
        assert!(super::stolen_ns().is_some());
    }
}
