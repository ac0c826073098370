//! `Runtime` and its `Builder`: configuration, start-up, the default
//! runtime, and teardown.
//!
//! Configuration precedence for the number of Ps follows DESIGN.md: the
//! `GOMAXPROCS` environment variable, else `Builder::max_procs`, else
//! `std::thread::available_parallelism()` (which honours cgroup CPU quotas).
//! Every bad value is an `io::Error` of kind `InvalidInput` naming it.
//!
//! Teardown: dropping a `Runtime` stops its Ms at their next scheduling
//! point (every P's preempt flag is set, so a goroutine that keeps calling
//! into the runtime without parking stops too) and joins them. If every
//! goroutine exited, everything is freed and the stack arena unmapped.
//! Goroutines that have not exited by then (parked, or still queued) are
//! leaked: their destructors do not run and their stacks stay mapped,
//! exactly as with `std::mem::forget`, because a wait queue elsewhere may
//! still point into them; only the pages of unused stacks are released.
//! Joining one of them returns an error instead of blocking forever.
//! SAFETY.md (Teardown) gives the reasons.

use crate::join::JoinHandle;
use crate::scheduler::mode::Mode;
use crate::scheduler::{self, Config, Shared};
use crate::stack::arena::GuardMode;
use crate::stack::{self, MAX_STACK_SIZE};
use std::io;
use std::panic::Location;
use std::sync::{Arc, OnceLock};

/// Default usable stack size of a goroutine.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The most Ps a runtime accepts.
pub const MAX_PROCS: usize = 1024;

/// Configures and starts a [`Runtime`].
///
/// ```
/// let rt = goroutines::Runtime::builder().max_procs(2).stack_size(64 * 1024).build()?;
/// assert_eq!(rt.run(|| 6 * 7), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    max_procs: Option<usize>,
    stack_size: usize,
    mode: Mode,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            max_procs: None,
            stack_size: DEFAULT_STACK_SIZE,
            mode: Mode::Pinned,
        }
    }
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The number of Ps: how many goroutines run in parallel. The
    /// `GOMAXPROCS` environment variable, when set, takes precedence.
    pub fn max_procs(mut self, n: usize) -> Builder {
        self.max_procs = Some(n);
        self
    }

    /// Usable bytes of each goroutine's stack, rounded up to whole pages
    /// (default 256 KiB). Pages are committed only when touched.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Go mode: started goroutines may move between OS threads, as in Go.
    ///
    /// # Safety
    /// No goroutine of this runtime may hold, across any call that can park
    /// it (channel and sync operations, `join`, `yield_now`, `syscall`, I/O),
    /// a reference to a thread-local, a lock tied to the OS thread (such as
    /// `std::io::Stdout::lock`), or a `!Send` value that a thread-local can
    /// also reach. SAFETY.md gives the full contract.
    pub unsafe fn migrate_goroutines(mut self) -> Builder {
        self.mode = Mode::Go;
        self
    }

    /// Validates the configuration and starts the runtime's first M.
    pub fn build(self) -> io::Result<Runtime> {
        let debug = crate::debug::Settings::from_env()?;
        let max_procs = match std::env::var("GOMAXPROCS") {
            Ok(v) => parse_max_procs(&v)?,
            Err(std::env::VarError::NotPresent) => match self.max_procs {
                Some(n) => check_max_procs(n, "Builder::max_procs")?,
                None => std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .min(MAX_PROCS),
            },
            Err(std::env::VarError::NotUnicode(v)) => {
                return Err(invalid(format!(
                    "GOMAXPROCS={v:?} is not a positive integer"
                )))
            }
        };
        let stack_size = check_stack_size(self.stack_size)?;
        let config = Config {
            max_procs,
            stack_size,
            mode: self.mode,
            guard: if debug.guard_mprotect {
                GuardMode::Mprotect
            } else {
                GuardMode::Madvise
            },
            park_stacks: debug.parkstacks,
        };
        stack::overflow::install_handler();
        crate::panic_hook::install();
        crate::dump::install_sigquit();
        let shared = Shared::new(config);
        if let Some(n) = debug.max_map_count {
            shared.arena.pretend_max_map_count(n);
        }
        crate::trace::start_from_env(std::sync::Arc::as_ptr(&shared) as usize)?;
        crate::scheduler::registry::add_runtime(std::sync::Arc::downgrade(&shared));
        let sysmon = crate::scheduler::sysmon::start(shared.clone(), debug).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start the runtime's sysmon thread: {e}; {THREAD_LIMIT_HINT}"),
            )
        })?;
        // Start one M now, so that a system that cannot give us a thread
        // says so here rather than hanging the first `run`.
        if !shared.start_p(None, false) || shared.idle.all_ms().is_empty() {
            shared.shut_down();
            let _ = sysmon.join();
            return Err(io::Error::other(format!(
                "cannot start the runtime's first OS thread; {THREAD_LIMIT_HINT}"
            )));
        }
        Ok(Runtime {
            shared,
            sysmon: Some(sysmon),
        })
    }
}

/// What to check when the OS refuses the runtime a thread.
const THREAD_LIMIT_HINT: &str = "the process may have reached its thread limit \
     (ulimit -u, /proc/sys/kernel/threads-max, a cgroup's pids.max) or its address-space limit";

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn parse_max_procs(v: &str) -> io::Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(n) => check_max_procs(n, "GOMAXPROCS"),
        Err(_) => Err(invalid(format!(
            "GOMAXPROCS={v:?} is not a positive integer"
        ))),
    }
}

fn check_max_procs(n: usize, source: &str) -> io::Result<usize> {
    if n == 0 {
        Err(invalid(format!(
            "{source}={n}: the number of Ps must be at least 1"
        )))
    } else if n > MAX_PROCS {
        Err(invalid(format!(
            "{source}={n}: the number of Ps must be at most {MAX_PROCS}"
        )))
    } else {
        Ok(n)
    }
}

fn check_stack_size(bytes: usize) -> io::Result<usize> {
    let page = stack::page_size();
    if bytes < page {
        return Err(invalid(format!(
            "stack size {bytes} bytes is below one page ({page} bytes)"
        )));
    }
    if bytes > MAX_STACK_SIZE {
        return Err(invalid(format!(
            "stack size {bytes} bytes exceeds the maximum of {} MiB",
            MAX_STACK_SIZE >> 20
        )));
    }
    Ok(bytes.div_ceil(page) * page)
}

/// A goroutine runtime: `max_procs` Ps, the Ms that run them, a stack arena.
///
/// Most programs use the default runtime through [`crate::run`] and
/// [`crate::go`]; build one to choose its settings or to tear it down.
///
/// # Dropping
///
/// Dropping a runtime stops its threads at their goroutines' next
/// scheduling point and joins them. If all its goroutines have exited, all
/// its memory is given back. Goroutines still parked or queued are leaked,
/// never unwound: their destructors do not run, their stacks stay mapped
/// (something else may still point into them), and `join` on them returns
/// an error. See SAFETY.md, "Teardown".
pub struct Runtime {
    shared: Arc<Shared>,
    sysmon: Option<std::thread::JoinHandle<()>>,
}

impl Runtime {
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A runtime with the default settings.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `f` as a goroutine of this runtime and returns its result,
    /// blocking the calling thread (or parking the calling goroutine) until
    /// it is done. A panic in `f` is resumed here.
    #[track_caller]
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.go(f).join() {
            Ok(v) => v,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// Spawns a goroutine on this runtime.
    #[track_caller]
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        JoinHandle::new(self.shared.spawn(f, Location::caller()))
    }

    /// The number of Ps.
    pub fn max_procs(&self) -> usize {
        self.shared.config.max_procs
    }

    /// Goroutines spawned on this runtime that have not exited.
    pub fn num_goroutines(&self) -> usize {
        self.shared.num_goroutines()
    }

    /// A snapshot of this runtime's scheduler.
    pub fn stats(&self) -> crate::Stats {
        crate::Stats::of(&self.shared)
    }

    /// Whether this runtime lets started goroutines change OS thread.
    pub fn migrates_goroutines(&self) -> bool {
        self.shared.config.mode == Mode::Go
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shared.shut_down();
        let own_m = scheduler::m::current_shared().is_some_and(|s| std::ptr::eq(s, &*self.shared));
        if !own_m {
            if let Some(h) = self.sysmon.take() {
                let _ = h.join();
            }
            for m in self.shared.idle.all_ms() {
                let handle = m.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(h) = handle {
                    let _ = h.join();
                }
            }
        }
        if own_m || self.shared.num_goroutines() > 0 {
            // Goroutines left behind may still be readied, and may sit on
            // stacks in the arena: keep everything they can reach, but give
            // back the pages of the stacks none of them uses.
            self.shared.arena.release_unused();
            std::mem::forget(self.shared.clone());
        }
        crate::trace::runtime_dropped(std::sync::Arc::as_ptr(&self.shared) as usize);
    }
}

/// Starts the default runtime unless some runtime exists, so that
/// something services the network poller (`scheduler/netpoll.rs`).
pub(crate) fn ensure_a_runtime() {
    if crate::scheduler::registry::runtimes().is_empty() {
        default_runtime();
    }
}

/// The runtime behind [`crate::go`] and [`crate::run`], started on first use.
pub(crate) fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("goroutines: cannot start the default runtime: {e}"),
    })
}

/// Calls `f` with the runtime the caller belongs to: its own when it runs
/// on one of a runtime's threads, else the default.
pub(crate) fn with_current<R>(f: impl FnOnce(&Shared) -> R) -> R {
    match scheduler::m::current_shared() {
        // SAFETY: the M we run on holds a reference for as long as it runs,
        // and `f` returns before this thread can leave it.
        Some(shared) => f(unsafe { &*shared }),
        None => f(default_runtime().shared()),
    }
}
