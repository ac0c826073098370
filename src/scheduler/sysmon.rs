//! sysmon: one background thread per runtime that watches the Ps.
//!
//! Each cycle it looks at every P:
//! 1. A P whose running goroutine has not reached a scheduling point for a
//!    whole time slice ([`TIME_SLICE`], 10 ms as in Go) gets its `preempt`
//!    flag set: the goroutine yields at its next runtime call.
//! 2. If it still has not switched out a time slice later (it reaches no
//!    runtime call that could honour the flag), the P's unstarted
//!    goroutines are offered to idle Ps (`wakep`), so they run elsewhere,
//!    including the one in its `runnext` slot, which sysmon moves to the
//!    global queue. And if its thread did get a CPU meanwhile (a thread
//!    waiting for a CPU on a busy machine is no hog; in a VM, time the
//!    hypervisor took the thread's vCPU away does not count either: its
//!    `/proc/stat` line must show it executing, and its steal is taken
//!    off), sysmon reports it, once per episode: which goroutine, for how
//!    long, whether its thread is on a CPU (a hog) or asleep in the kernel
//!    (an unannotated blocking call), read from `/proc/self/task/TID/stat`
//!    and `schedstat`, and the fix.
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
    /// Whether `rescue_queued` ran this episode.
    rescued: bool,
    /// The holder thread's CPU time (ns) when the preempt flag was set.
    cpu_at_flag: Option<u64>,
    /// Each vCPU's accounted time (`vcpu_times`) when the flag was set.
    vcpus_at_flag: Vec<VcpuTime>,
    /// The vCPU the holder thread was on when the flag was set.
    vcpu_at_flag: Option<usize>,
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
        rescued: false,
        cpu_at_flag: None,
        vcpus_at_flag: Vec::new(),
        vcpu_at_flag: None,
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
                w.vcpus_at_flag = vcpu_times().unwrap_or_default();
                w.vcpu_at_flag = thread_stat(tid).and_then(|(_, vcpu)| vcpu);
                continue;
            };
            if ran < 2 * TIME_SLICE {
                continue;
            }
            if !w.rescued {
                w.rescued = true;
                acted = true;
                rescue_queued(shared, p);
            }
            if w.reported {
                continue;
            }
            // A thread that got little CPU since the flag was set was waiting
            // for a CPU (the machine is busy), not hogging one.
            let stat = thread_stat(tid);
            let state = stat.map(|(state, _)| (state, thread_wchan(tid, state)));
            let cpu = thread_cpu_ns(tid).map_or(u64::MAX, |c| c.saturating_sub(cpu_at_flag));
            // In a VM, time the hypervisor gave the thread's vCPU to someone
            // else counts as the thread's CPU time: its runtime is read from
            // another vCPU, whose clock runs on while the thread's vCPU is
            // away, and the guest learns of the theft only once the vCPU is
            // back. So the thread's vCPU (when flagged, and now) must also
            // have executed for half a slice since the flag, by its own
            // ticks (which stop while it is away; `/proc/stat` counts them
            // in 10 ms units, so a real hog may be reported a cycle or two
            // later), and what it has been known to lose is taken off. This
            // machine's hypervisor takes a vCPU away for 100 ms every few
            // seconds: with only an average of the vCPUs' steal taken off,
            // sysmon reported hogs that were not.
            let vcpu = vcpu_times()
                .and_then(|now| {
                    vcpu_delta(
                        &w.vcpus_at_flag,
                        &now,
                        w.vcpu_at_flag,
                        stat.and_then(|(_, v)| v),
                    )
                })
                .unwrap_or(VcpuTime {
                    ran: u64::MAX,
                    stolen: 0,
                });
            let half_slice = TIME_SLICE.as_nanos() as u64 / 2;
            if matches!(state, Some(('R', _)))
                && (cpu.saturating_sub(vcpu.stolen) < half_slice || vcpu.ran < half_slice)
            {
                continue;
            }
            w.reported = true;
            acted = true;
            report_stall(shared, p, g, ran, state);
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

/// For a P that has run one goroutine for two time slices, whatever the
/// reason (a hog, a blocking call, or a thread that gets no CPU: a busy
/// machine, or a vCPU the hypervisor took away, which is no one's fault and
/// is not reported): its `runnext` (typically a goroutine the stuck one
/// readied or spawned just before) would wait behind it, so it moves where
/// another P can run it, or, if it is homed on this P (pinned mode,
/// started), into the P's inbox, where it stays this P's; and an idle P is
/// woken for what the P's queue holds, which it may steal.
fn rescue_queued(shared: &Shared, p: &super::p::P) {
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

/// What `/proc/self/task/TID/stat` says of thread `tid`: its state letter,
/// and the vCPU it last ran on (the 39th field, `processor`), if given.
fn thread_stat(tid: i32) -> Option<(char, Option<usize>)> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at the
    // third, the state.
    let fields = &stat[stat.rfind(')')? + 2..];
    let state = fields.chars().next()?;
    let vcpu = fields
        .split_whitespace()
        .nth(39 - 3)
        .and_then(|f| f.parse().ok());
    Some((state, vcpu))
}

/// What a thread in `state` waits in (its `wchan`), for a report; empty
/// for a running thread, or if unknown.
fn thread_wchan(tid: i32, state: char) -> String {
    if state == 'R' {
        return String::new();
    }
    std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan")).unwrap_or_default()
}

/// One vCPU's time as `/proc/stat` accounts it, in ns: executing anything
/// (every column but steal, idle included) and taken by the hypervisor.
/// Both advance by the vCPU's own timer ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct VcpuTime {
    ran: u64,
    stolen: u64,
}

/// Every vCPU's [`VcpuTime`], indexed by its number, if known.
fn vcpu_times() -> Option<Vec<VcpuTime>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let ns = 1_000_000_000 / hz as u64;
    let mut times = Vec::new();
    for (cpu, ran, stolen) in stat.lines().filter_map(vcpu_ticks) {
        if times.len() <= cpu {
            times.resize(cpu + 1, VcpuTime::default());
        }
        times[cpu] = VcpuTime {
            ran: ran.saturating_mul(ns),
            stolen: stolen.saturating_mul(ns),
        };
    }
    (!times.is_empty()).then_some(times)
}

/// From a `/proc/stat` per-CPU line (`cpuN user nice system idle iowait irq
/// softirq steal ...`): N, the ticks it executed (the first seven columns)
/// and the ticks stolen (the eighth). None for any other line.
fn vcpu_ticks(line: &str) -> Option<(usize, u64, u64)> {
    let mut fields = line.split_whitespace();
    let cpu = fields.next()?.strip_prefix("cpu")?.parse().ok()?;
    let mut ran = 0u64;
    for _ in 0..7 {
        ran = ran.saturating_add(fields.next()?.parse().ok()?);
    }
    Some((cpu, ran, fields.next()?.parse().ok()?))
}

/// How vCPUs `then` and `now` (the thread's when flagged and now; one vCPU
/// counted once if they are the same) changed from `at_flag` to `current`.
/// None if either vCPU or either snapshot of it is unknown.
fn vcpu_delta(
    at_flag: &[VcpuTime],
    current: &[VcpuTime],
    then: Option<usize>,
    now: Option<usize>,
) -> Option<VcpuTime> {
    let delta = |cpu: usize| {
        let (a, b) = (at_flag.get(cpu)?, current.get(cpu)?);
        Some(VcpuTime {
            ran: b.ran.saturating_sub(a.ran),
            stolen: b.stolen.saturating_sub(a.stolen),
        })
    };
    let (then, now) = (then?, now?);
    let first = delta(then)?;
    if then == now {
        return Some(first);
    }
    let second = delta(now)?;
    Some(VcpuTime {
        ran: first.ran.saturating_add(second.ran),
        stolen: first.stolen.saturating_add(second.stolen),
    })
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
    use super::{thread_stat, vcpu_delta, vcpu_ticks, vcpu_times, VcpuTime};

    #[test]
    fn a_vcpus_executed_and_stolen_ticks_are_read_from_its_line() {
        assert_eq!(
            vcpu_ticks("cpu1 496961 0 293168 433571 889 0 109774 26938 0 0"),
            Some((1, 496961 + 293168 + 433571 + 889 + 109774, 26938))
        );
        // The aggregate line, a short line and garbage are not read.
        assert_eq!(
            vcpu_ticks("cpu  1026490 0 589024 828485 3405 0 220285 54710 0 0"),
            None
        );
        assert_eq!(vcpu_ticks("cpu3 1 2 3"), None);
        assert_eq!(vcpu_ticks("cpu0 a b c d e f g h"), None);
        assert_eq!(vcpu_ticks("intr 1 2 3 4 5 6 7 8 9"), None);
    }

    #[test]
    fn only_the_threads_vcpus_count() {
        let t = |ran, stolen| VcpuTime { ran, stolen };
        let at_flag = [t(0, 100), t(0, 1_000)];
        // vCPU 1 was away for 100 ms and ran 4; vCPU 0 ran 30 and lost 100 ns.
        let now = [t(30, 200), t(4, 100_001_000)];
        assert_eq!(
            vcpu_delta(&at_flag, &now, Some(1), Some(1)),
            Some(t(4, 100_000_000))
        );
        assert_eq!(
            vcpu_delta(&at_flag, &now, Some(0), Some(0)),
            Some(t(30, 100))
        );
        // Moved between the two: both count, once each.
        assert_eq!(
            vcpu_delta(&at_flag, &now, Some(0), Some(1)),
            Some(t(34, 100_000_100))
        );
        // An unknown vCPU, or one missing from a snapshot.
        assert_eq!(vcpu_delta(&at_flag, &now, None, Some(1)), None);
        assert_eq!(vcpu_delta(&at_flag, &now, Some(5), Some(5)), None);
        assert_eq!(vcpu_delta(&[], &now, Some(1), Some(1)), None);
    }

    #[test]
    fn vcpu_times_and_the_threads_vcpu_are_readable_here() {
        // Every Linux since 2.6.11 has the steal column (zero outside a VM).
        let times = vcpu_times().expect("per-CPU lines");
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let (state, vcpu) = thread_stat(tid).expect("the thread's stat");
        // This thread is running: it reads the file.
        assert_eq!(state, 'R');
        let vcpu = vcpu.expect("the processor field");
        assert!(vcpu < times.len(), "vCPU {vcpu} of {}", times.len());
        assert!(times[vcpu].ran > 0, "{times:?}");
    }
}
