//! Which goroutines exist, for dumps and the deadlock check.
//!
//! Go keeps every G in `allgs`, registered when a G struct is created, which
//! is rare because Go reuses them. Our goroutines are one typed allocation
//! each, so registering at spawn would put a lock on the hottest path.
//! Instead a goroutine registers with its P the first time it parks: one
//! that never parks is running, queued, or done, and dumps count those from
//! the Ps. So a spawn-and-exit goroutine pays nothing, and one that parks
//! pays one uncontended lock once.
//!
//! Entries hold a `GRef`, so a dump can read any listed G safely. Entries of
//! exited goroutines are pruned by the registering P when its list has
//! doubled since the last prune.
//!
//! The registry of runtimes ([`runtimes`]) lets the deadlock check see every
//! runtime in the process: a goroutine of one may be woken by another's.

use super::g::{GRef, DEAD};
use super::Shared;
use std::sync::{Mutex, Weak};

/// A P's list of goroutines that have parked at least once.
pub(crate) struct Registry {
    /// Protected by the mutex: pushed to by the P's holder, read by dumps.
    list: Mutex<List>,
}

struct List {
    gs: Vec<GRef>,
    /// Prune when `gs` reaches this length.
    prune_at: usize,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            list: Mutex::new(List {
                gs: Vec::new(),
                prune_at: 256,
            }),
        }
    }

    /// Records `g` (called once per goroutine, on its first park).
    pub(crate) fn add(&self, g: GRef) {
        let mut l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        l.gs.push(g);
        if l.gs.len() >= l.prune_at {
            l.gs.retain(|g| g.state().0 != DEAD);
            l.prune_at = (l.gs.len() * 2).max(256);
        }
    }

    /// Calls `f` with each listed goroutine that has not exited.
    pub(crate) fn for_each_live(&self, mut f: impl FnMut(&GRef)) {
        let l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        l.gs.iter().filter(|g| g.state().0 != DEAD).for_each(&mut f);
    }
}

static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// Records a new runtime.
pub(crate) fn add_runtime(shared: Weak<Shared>) {
    let mut rts = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    rts.retain(|w| w.strong_count() > 0);
    rts.push(shared);
}

/// The runtime at `ptr`, if it is still alive (a pointer compare, then an
/// upgrade: never a dereference of `ptr`).
pub(crate) fn find_runtime(ptr: *const Shared) -> Option<std::sync::Arc<Shared>> {
    let rts = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    rts.iter()
        .find(|w| std::ptr::eq(w.as_ptr(), ptr))
        .and_then(Weak::upgrade)
}

/// Every runtime still alive.
pub(crate) fn runtimes() -> Vec<std::sync::Arc<Shared>> {
    let rts = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
    rts.iter().filter_map(Weak::upgrade).collect()
}
