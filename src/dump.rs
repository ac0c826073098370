//! Goroutine dumps: on demand ([`dump`]), on `SIGQUIT` (then the process
//! exits with status 2, as Go's does), and in the deadlock report.
//!
//! A dump lists every goroutine that has parked at least once and not
//! exited (the registries, `scheduler/registry.rs`), each with its state or
//! wait reason, how long it has waited, its home P (pinned mode) and where
//! it was spawned; plus the goroutine running on each P, and how many are
//! queued and have never parked (those are listed only as a count).

use crate::scheduler::g::{GRef, NO_HOME, WAITING};
use crate::scheduler::Shared;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// One goroutine in a [`Dump`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GoroutineInfo {
    pub id: u64,
    /// `running`, `runnable`, or the wait reason (`chan receive`, `sleep`,
    /// `sync.Mutex`, ...), with Go's names.
    pub state: &'static str,
    /// How long it has been parked, to sysmon's clock (10 ms or better).
    pub waiting: Option<Duration>,
    /// The P it is pinned to (pinned mode, once started).
    pub home: Option<u32>,
    /// Where `go` was called, when known.
    pub spawned_at: Option<String>,
    /// The backtrace of its last park, with `GOROUTINES_DEBUG=parkstacks=1`.
    pub park_stack: Option<String>,
}

/// A snapshot of a runtime's goroutines; `Display` prints it as Go does.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Dump {
    pub goroutines: Vec<GoroutineInfo>,
    /// Live goroutines not listed (queued and never parked).
    pub unlisted: usize,
}

/// A dump of the caller's runtime (or the default runtime).
pub fn dump() -> Dump {
    crate::runtime::with_current(Dump::of)
}

impl Dump {
    pub(crate) fn of(shared: &Shared) -> Dump {
        let now = shared.coarse_now.load(Ordering::Relaxed);
        let mut goroutines = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in shared.ps.iter() {
            p.registry.for_each_live(|g| {
                if seen.insert(g.id) {
                    goroutines.push(info(g, now));
                }
            });
        }
        for p in shared.ps.iter() {
            let id = p.curg.load(Ordering::Relaxed);
            if id != 0 && seen.insert(id) {
                goroutines.push(GoroutineInfo {
                    id,
                    state: "running",
                    waiting: None,
                    home: Some(p.id),
                    spawned_at: None,
                    park_stack: None,
                });
            }
        }
        goroutines.sort_by_key(|g| g.id);
        let unlisted = shared.num_goroutines().saturating_sub(goroutines.len());
        Dump {
            goroutines,
            unlisted,
        }
    }
}

fn info(g: &GRef, now: u64) -> GoroutineInfo {
    let (state, _) = g.state();
    let home = g.home.load(Ordering::Relaxed);
    GoroutineInfo {
        id: g.id,
        state: g.describe_state(),
        waiting: (state == WAITING).then(|| {
            let now_ms = (now / 1_000_000) as u32;
            let since = now_ms.wrapping_sub(g.parked_at_ms.load(Ordering::Relaxed));
            Duration::from_millis(since.into())
        }),
        home: (home != NO_HOME).then_some(home),
        spawned_at: Some(g.spawn_site.to_string()),
        park_stack: park_stack_of(g.id),
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.goroutines {
            write!(f, "goroutine {} [{}", g.id, g.state)?;
            if let Some(w) = g.waiting {
                if w >= Duration::from_secs(60) {
                    write!(f, ", {} minutes", w.as_secs() / 60)?;
                } else {
                    write!(f, ", {} ms", w.as_millis())?;
                }
            }
            write!(f, "]:")?;
            if let Some(at) = &g.spawned_at {
                write!(f, " spawned at {at}")?;
            }
            if let Some(p) = g.home {
                write!(f, ", pinned to P{p}")?;
            }
            writeln!(f)?;
            if let Some(stack) = &g.park_stack {
                for line in stack.lines() {
                    writeln!(f, "    {line}")?;
                }
            }
        }
        if self.unlisted > 0 {
            writeln!(
                f,
                "... and {} goroutines queued that never parked",
                self.unlisted
            )?;
        }
        Ok(())
    }
}

/// Backtraces of each goroutine's last park, by goroutine id, recorded only
/// with `GOROUTINES_DEBUG=parkstacks=1` (so a lock is fine).
static PARK_STACKS: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());

/// Records the calling goroutine's stack as it parks.
pub(crate) fn record_park_stack() {
    let Some(id) = crate::goroutine_id() else {
        return;
    };
    let trace = std::backtrace::Backtrace::force_capture().to_string();
    let mut stacks = PARK_STACKS.lock().unwrap_or_else(|e| e.into_inner());
    match stacks.iter_mut().find(|(g, _)| *g == id) {
        Some((_, t)) => *t = trace,
        None => stacks.push((id, trace)),
    }
}

/// Drops an exited goroutine's recorded stack.
pub(crate) fn forget_park_stack(id: u64) {
    PARK_STACKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(g, _)| *g != id);
}

fn park_stack_of(id: u64) -> Option<String> {
    let stacks = PARK_STACKS.lock().unwrap_or_else(|e| e.into_inner());
    stacks
        .iter()
        .find(|(g, _)| *g == id)
        .map(|(_, t)| t.clone())
}

static QUIT_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGQUIT handler once per process, unless the program
/// already handles or ignores SIGQUIT.
pub(crate) fn install_sigquit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: querying and then installing a handler with valid
        // sigaction structs; the handler only stores to an atomic.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGQUIT, std::ptr::null(), &mut old);
            if old.sa_sigaction != libc::SIG_DFL {
                return;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigquit as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGQUIT, &action, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigquit(_: libc::c_int) {
    QUIT_REQUESTED.store(true, Ordering::SeqCst);
}

/// Called by sysmon each cycle: on a pending SIGQUIT, print every runtime's
/// goroutines and exit with status 2.
pub(crate) fn check_sigquit() {
    if !QUIT_REQUESTED.load(Ordering::SeqCst) {
        return;
    }
    let mut out = String::from("SIGQUIT: quit\n");
    for rt in crate::scheduler::registry::runtimes() {
        out.push('\n');
        out.push_str(&Dump::of(&rt).to_string());
    }
    eprint!("{out}");
    std::process::exit(2);
}

impl Shared {
    /// The state of live goroutine `id` as dumps show it: its wait reason
    /// if it is parked (so in a registry), else `running` if a P runs it,
    /// else `runnable`. A snapshot, for `Debug`: it may be stale by the
    /// time it is printed.
    pub(crate) fn describe_goroutine(&self, id: u64) -> &'static str {
        let mut found = None;
        for p in self.ps.iter() {
            p.registry.for_each_live(|g| {
                if g.id == id {
                    found = Some(g.describe_state());
                }
            });
        }
        if let Some(found) = found {
            return found;
        }
        let running = self.ps.iter().any(|p| p.curg.load(Ordering::Relaxed) == id);
        if running {
            "running"
        } else {
            "runnable"
        }
    }
}
