//! Synchronisation that parks goroutines, not threads: Go's `sync`
//! package with std's shapes.
//!
//! * [`Mutex`]: Go's mutex, with its starvation mode (a waiter older than
//!   1 ms gets the lock handed to it; otherwise arriving goroutines may
//!   barge, which keeps a hot lock fast).
//! * [`RwLock`]: Go's `RWMutex`; a waiting writer holds off new readers.
//! * [`Condvar`]: waits on a [`Mutex`]'s guard.
//! * [`WaitGroup`]: wait for a set of goroutines; [`WaitGroup::go`] spawns
//!   one and counts it.
//! * [`Once`]: run a function once.
//!
//! Waiting parks the goroutine (its OS thread runs other goroutines); on a
//! plain thread it blocks the thread, so these work between threads and
//! goroutines alike.
//!
//! ```
//! use goroutines::sync::{Mutex, WaitGroup};
//! use std::sync::Arc;
//!
//! goroutines::run(|| {
//!     let log = Arc::new(Mutex::new(Vec::new()));
//!     let wg = WaitGroup::new();
//!     for i in 0..8 {
//!         let log = log.clone();
//!         wg.go(move || log.lock().push(i));
//!     }
//!     wg.wait();
//!     let mut log = log.lock().clone();
//!     log.sort();
//!     assert_eq!(log, (0..8).collect::<Vec<_>>());
//! });
//! ```
//!
//! # No poisoning
//!
//! `lock()`, `read()` and `write()` return the guard directly. A goroutine
//! that panics while holding a lock releases it as the guard drops, and the
//! next holder sees the data as the panic left it, as in Go and
//! parking_lot. Reasons: a goroutine's panic is already reported through
//! its `JoinHandle`, so a second, sticky error channel on every lock adds
//! `unwrap()` noise to every call site and little safety (std's own
//! poisoning is advisory: `into_inner` bypasses it); and Go programs ported
//! here have no poisoning to map it to. Code that must not see
//! half-updated data after a panic should restore its invariants in a
//! `Drop` guard, as it would for any unwinding.
//!
//! Guards may be held across park points (channel operations, other locks)
//! in both scheduling modes; a `MutexGuard` is `Send`, because unlocking
//! does not depend on the OS thread.
//!
//! Layout: `sema.rs` is the semaphore waiters park on (built on the
//! channel wait protocol, `chan/wait.rs`); one file per primitive.

mod condvar;
mod mutex;
mod once;
mod rwlock;
mod sema;
mod waitgroup;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use waitgroup::WaitGroup;
