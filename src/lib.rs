//! Go's goroutines for Rust: write plain blocking code, spawn hundreds of
//! thousands of lightweight threads, never colour a function `async`.
//!
//! ```
//! let answers: Vec<u64> = goroutines::run(|| {
//!     let handles: Vec<_> = (0..1000u64).map(|i| goroutines::go(move || i * 2)).collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).collect()
//! });
//! assert_eq!(answers.iter().sum::<u64>(), 999_000);
//! ```
//!
//! Goroutines are stackful coroutines scheduled M:N over `max_procs` OS
//! threads on Go's G-M-P design (ARCHITECTURE.md). By default a goroutine
//! stays on the OS thread where it first ran, so everything safe Rust does on
//! a thread stays sound in a goroutine; `unsafe { Builder::migrate_goroutines() }`
//! opts into Go's fully migrating scheduler (SAFETY.md).
//!
//! Goroutines can borrow the caller's locals inside a [`scope`], which
//! joins them all before it returns, as `std::thread::scope` does:
//!
//! ```
//! let mut halves = [vec![1, 2], vec![3, 4]];
//! goroutines::scope(|s| {
//!     for h in halves.iter_mut() {
//!         s.go(move || h.push(0)); // a mutable borrow of a local
//!     }
//! });
//! assert_eq!(halves, [vec![1, 2, 0], vec![3, 4, 0]]);
//! ```
//!
//! Async code and goroutines meet both ways: [`block_on`] parks a goroutine
//! on a future, and a [`JoinHandle`] is a future any executor can await:
//!
//! ```
//! let h = goroutines::go(|| goroutines::block_on(async { 20 + 1 }) * 2);
//! assert_eq!(futures::executor::block_on(h).unwrap(), 42);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[doc(hidden)]
pub mod arch;
mod block_on;
pub mod chan;
pub mod context;
mod debug;
mod dump;
pub mod fs;
mod go_local;
mod join;
pub mod local;
pub(crate) mod loom;
pub mod net;
mod panic_hook;
mod runtime;
mod scheduler;
mod scope;
mod stack;
mod stats;
pub mod sync;
mod syscall;
pub mod time;
pub mod trace;

pub use block_on::block_on;
pub use dump::{dump, Dump, GoroutineInfo};
pub use go_local::{go_local, LocalJoinHandle};
pub use join::JoinHandle;
pub use local::LocalKey;
pub use runtime::{Builder, Runtime, DEFAULT_STACK_SIZE, MAX_PROCS};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use stats::Stats;
pub use syscall::syscall;

/// Runs a function's body as the main goroutine of a runtime:
/// `#[goroutines::main] fn main() { .. }` is `fn main() { goroutines::run(move || { .. }) }`,
/// return type and all (`-> io::Result<()>` with `?` inside works).
/// Options build a runtime of the function's own:
/// `#[goroutines::main(max_procs = 4, stack_size = 1_048_576)]`, and Go mode
/// as `#[goroutines::main(unsafe(migrate_goroutines))]`, spelled with
/// `unsafe` because [`Builder::migrate_goroutines`] is an `unsafe fn`.
///
/// ```
/// #[goroutines::main]
/// fn main() {
///     let (tx, rx) = goroutines::chan::bounded(0);
///     goroutines::go(move || tx.send(goroutines::goroutine_id()).unwrap());
///     assert!(rx.recv().unwrap().is_some());
///     assert!(goroutines::goroutine_id().is_some()); // main is a goroutine too
/// }
/// ```
#[doc(inline)]
pub use goroutines_macros::main;

use std::panic::Location;

/// Runs `f` as the main goroutine of the default runtime and returns its
/// result; a panic in `f` is resumed in the caller. Other goroutines keep
/// running after `run` returns.
///
/// # Panics
/// If the default runtime cannot start (for example `GOMAXPROCS=abc`), with
/// a message naming the bad setting.
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    runtime::default_runtime().run(f)
}

/// Spawns a goroutine: on the caller's runtime when called from one of its
/// goroutines, else on the default runtime (started on first use).
#[track_caller]
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let site = Location::caller();
    let handle = JoinHandle::new(runtime::with_current(|shared| shared.spawn(f, site)));
    scheduler::m::preempt_point();
    handle
}

/// Lets other goroutines run. In a goroutine this always switches to the
/// scheduler; on a plain thread it yields the OS thread.
pub fn yield_now() {
    if scheduler::park::in_goroutine() {
        scheduler::m::yield_current();
    } else {
        std::thread::yield_now();
    }
}

/// Goroutines of the caller's runtime (or the default runtime) that have
/// been spawned and have not exited.
pub fn num_goroutines() -> usize {
    runtime::with_current(|s| s.num_goroutines())
}

/// The number of Ps of the caller's runtime (or the default runtime).
pub fn max_procs() -> usize {
    runtime::with_current(|s| s.config.max_procs)
}

/// A snapshot of the caller's runtime (or the default runtime): Ps, Ms,
/// queues, goroutine counts, stacks. `Display` prints a schedtrace line.
pub fn stats() -> Stats {
    runtime::with_current(Stats::of)
}

/// The id of the calling goroutine, or `None` on a plain thread.
pub fn goroutine_id() -> Option<u64> {
    scheduler::m::current_goroutine_id()
}

/// Whether the caller's runtime (or the default runtime) is in Go mode.
/// For tests of `#[goroutines::main(unsafe(migrate_goroutines))]`, which
/// has no `Runtime` to ask.
#[doc(hidden)]
pub fn __migrates_goroutines() -> bool {
    runtime::with_current(|s| s.config.mode == scheduler::mode::Mode::Go)
}

/// Prints `fatal error: {msg}` and aborts: for broken runtime invariants,
/// where continuing could corrupt memory.
#[cold]
pub(crate) fn fatal(msg: std::fmt::Arguments<'_>) -> ! {
    eprintln!("fatal error: {msg}");
    std::process::abort()
}
