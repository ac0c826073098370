//! The peers, and how each one's runtime is set up for a case.
//!
//! Every case body runs *inside* its runtime as a task (goroutine, tokio task,
//! may coroutine), never on a thread outside it, so each peer works with
//! exactly its own worker threads, as Go's `main` goroutine does:
//!
//! * `ours-pinned`: `goroutines` default (pinned) mode.
//! * `ours-go`: `goroutines` Go mode (`migrate_goroutines`, one `unsafe`).
//! * `go`: Go 1.19; runs as a separate binary built from `compare/go/`.
//! * `tokio`: the multi-thread runtime; the body is `spawn`ed, not run by
//!   `block_on` on the main thread (which is no worker).
//! * `may`: the body is a coroutine; `may::go!` hides an `unsafe` spawn.
//! * `threads`: plain std threads, where a case can be written with them.
//!
//! Worker counts: [`Procs::All`] gives every peer one worker per core (Go's
//! default GOMAXPROCS); [`Procs::One`] is the GOMAXPROCS=1 cases. Each
//! runtime keeps its default stack size.

use std::future::Future;
use std::num::NonZeroUsize;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Peer {
    OursPinned,
    OursGo,
    Go,
    Tokio,
    May,
    Threads,
}

impl Peer {
    /// Table order: ours first, then the reference (Go), then the rest.
    pub const ALL: [Peer; 6] = [
        Peer::OursPinned,
        Peer::OursGo,
        Peer::Go,
        Peer::Tokio,
        Peer::May,
        Peer::Threads,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Peer::OursPinned => "ours-pinned",
            Peer::OursGo => "ours-go",
            Peer::Go => "go",
            Peer::Tokio => "tokio",
            Peer::May => "may",
            Peer::Threads => "threads",
        }
    }

    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|peer| peer.name() == name)
    }
}

/// How many worker threads (Ps) a case gives each runtime.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Procs {
    /// One per core, the default of every runtime here.
    All,
    /// GOMAXPROCS=1: one worker; blocking pools and timer threads stay as
    /// each runtime has them. The `threads` peer pins itself to one CPU.
    One,
}

impl Procs {
    pub fn count(self) -> usize {
        match self {
            Procs::All => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            Procs::One => 1,
        }
    }
}

/// Runs `body` as the main goroutine of a fresh `goroutines` runtime in the
/// mode `peer` names.
#[cfg(feature = "ours-core")]
pub fn run_ours<T, F>(peer: Peer, procs: Procs, body: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let built = match peer {
        Peer::OursGo => {
            // SAFETY: Go mode's contract is that no thread-local borrow,
            // thread-affine lock or `!Send` value reachable from a
            // thread-local is held across a park point. The case bodies hold
            // only channels, atomics, join handles, sockets and plain data
            // across parks; the one print inside a goroutine (a server's listening
            // line) takes and releases the stdout lock within one call.
            unsafe { goroutines::Runtime::builder().migrate_goroutines() }
                .max_procs(procs.count())
                .build()
        }
        _ => goroutines::Runtime::builder()
            .max_procs(procs.count())
            .build(),
    };
    let runtime = built.unwrap_or_else(|error| panic!("goroutines runtime: {error}"));
    runtime.run(body)
}

/// Runs the future `body` as a task on a fresh multi-thread tokio runtime.
pub fn run_tokio<T, F>(procs: Procs, body: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(procs.count())
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("tokio runtime: {error}"));
    let task = runtime.spawn(body);
    match runtime.block_on(task) {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(error) => panic!("tokio task: {error}"),
        },
    }
}

/// Runs `body` as a coroutine on may's scheduler with `procs` workers.
///
/// may reads its configuration when its scheduler first starts, which is
/// the first spawn in this (fresh, single-purpose) child process.
pub fn run_may<T, F>(procs: Procs, body: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    may::config().set_workers(procs.count());
    match may::go!(body).join() {
        Ok(value) => value,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Pins this thread, and so every thread it spawns afterwards, to the first
/// CPU it may run on: the `threads` peer's stand-in for GOMAXPROCS=1.
pub fn pin_threads_to_one_cpu() {
    // SAFETY: `cpu_set_t` is a plain bit set for which all-zeroes is valid.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `allowed` is a valid, writable `cpu_set_t` of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut allowed) } != 0 {
        panic!("sched_getaffinity: {}", std::io::Error::last_os_error());
    }
    let first = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the size of the set.
        .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &allowed) })
        .expect("this thread may run on no CPU");
    // SAFETY: as above, all-zeroes is a valid empty set.
    let mut only: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `first` is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(first, &mut only) };
    // SAFETY: `only` is a valid `cpu_set_t` of `size` bytes.
    if unsafe { libc::sched_setaffinity(0, size, &only) } != 0 {
        panic!("sched_setaffinity: {}", std::io::Error::last_os_error());
    }
}

/// How many OS threads this machine lets one process hold alive at once,
/// less headroom: each needs a kernel task (`kernel.pid_max`,
/// `kernel.threads-max`) and two memory mappings, stack and guard page
/// (`vm.max_map_count`).
pub fn live_thread_capacity() -> u64 {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
    };
    let limits = [
        read("/proc/sys/kernel/pid_max"),
        read("/proc/sys/kernel/threads-max"),
        read("/proc/sys/vm/max_map_count").map(|maps| maps / 2),
    ];
    let tightest = limits.into_iter().flatten().min().unwrap_or(32_768);
    tightest.saturating_sub(2_000)
}
