//! Which goroutines exist, for dumps and the deadlock check.
//!
//! Go keeps every G in `allgs`, registered when a G struct is created, which
//! is rare because Go reuses them. Our goroutines are one typed allocation
//! each, so registering at spawn would put a lock on the hottest path.
//! Instead a goroutine registers with its P the first time it parks: one
//! that never parks is running, queued, or done, and dumps count those from
//! the Ps. So a spawn-and-exit goroutine pays nothing, and one that parks
//! pays one uncontended lock at its first park and one as it exits.
//!
//! Entries hold a `GRef`, so a dump can read any listed G safely. A
//! goroutine leaves its list as it exits (`Shared::unregister`): the list
//! never keeps an exited G's allocation from being reused. Each G records
//! its place (`G::registry_slot`: P index and position), so leaving is a
//! `swap_remove` that also rewrites the slot of the G moved into the hole,
//! under the list's lock. Leaving exited goroutines listed until a periodic
//! prune held their Gs back from reuse while hot: 12-19% of skynet's time.
//!
//! The registry of runtimes ([`runtimes`]) lets the deadlock check see every
//! runtime in the process: a goroutine of one may be woken by another's.

use super::g::{GRef, DEAD, G};
use super::Shared;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, Weak};

/// A P's list of goroutines that have parked at least once and not yet
/// exited.
pub(crate) struct Registry {
    /// Protected by the mutex: pushed to by the P's holder, removed from by
    /// exiting goroutines, read by dumps.
    gs: Mutex<Vec<GRef>>,
}

/// `G::registry_slot` of a goroutine listed at `index` of P `p`'s list.
fn slot(p: u32, index: usize) -> u64 {
    (u64::from(p) << 32) | (index as u64 + 1)
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            gs: Mutex::new(Vec::new()),
        }
    }

    /// Records `g` in P `p`'s list, this registry (called by the M holding
    /// `p`, once per goroutine, on its first park).
    pub(crate) fn add(&self, p: u32, g: &GRef) {
        let mut gs = self.gs.lock().unwrap_or_else(|e| e.into_inner());
        g.registry_slot.store(slot(p, gs.len()), Ordering::Relaxed);
        gs.push(g.clone());
    }

    /// Takes `g`, listed here at the position its slot records, off the
    /// list. Returns the list's reference, for the caller to drop after
    /// the lock is gone.
    fn remove(&self, p: u32, g: &G) -> GRef {
        let mut gs = self.gs.lock().unwrap_or_else(|e| e.into_inner());
        // The position is read under the lock: removals of others move us.
        let index = (g.registry_slot.load(Ordering::Relaxed) as u32 - 1) as usize;
        let ours = gs.swap_remove(index);
        debug_assert!(std::ptr::eq(&*ours, g), "registry slot out of date");
        if let Some(moved) = gs.get(index) {
            moved.registry_slot.store(slot(p, index), Ordering::Relaxed);
        }
        g.registry_slot.store(0, Ordering::Relaxed);
        ours
    }

    /// Calls `f` with each listed goroutine that has not exited.
    pub(crate) fn for_each_live(&self, mut f: impl FnMut(&GRef)) {
        let gs = self.gs.lock().unwrap_or_else(|e| e.into_inner());
        gs.iter().filter(|g| g.state().0 != DEAD).for_each(&mut f);
    }
}

impl Shared {
    /// An exiting goroutine leaves the registry it joined on its first
    /// park, if it ever parked. The P part of its slot was written before
    /// that park, so it is read without the lock.
    pub(crate) fn unregister(&self, g: &G) {
        let slot = g.registry_slot.load(Ordering::Relaxed);
        if slot == 0 {
            return;
        }
        let p = (slot >> 32) as u32;
        drop(self.ps[p as usize].registry.remove(p, g));
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

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::chan;

    fn listed(rt: &crate::Runtime) -> usize {
        let shared = rt.shared();
        shared
            .ps
            .iter()
            .map(|p| p.registry.gs.lock().unwrap().len())
            .sum()
    }

    /// Goroutines that parked are listed while they live and gone from the
    /// lists once they exit, whichever order they exit in (each exit moves
    /// another entry into its hole), and the survivors are still found.
    #[test]
    fn exited_goroutines_leave_the_lists_and_the_rest_stay_findable() {
        for procs in [1, 2] {
            let rt = crate::Runtime::builder().max_procs(procs).build().unwrap();
            let gates: Vec<_> = (0..200).map(|_| chan::bounded::<()>(0)).collect();
            let handles: Vec<_> = gates
                .iter()
                .map(|(_, rx)| {
                    let rx = rx.clone();
                    rt.go(move || rx.recv().unwrap())
                })
                .collect();
            let wait_until = |n: usize| {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while listed(&rt) != n {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{} listed, not {n}",
                        listed(&rt)
                    );
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            };
            wait_until(200);
            // Release every third, from the middle out, then check the rest
            // are each still listed where their slot says.
            let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
            for i in (0..200).filter(|i| i % 3 == 0).rev() {
                gates[i].0.send(()).unwrap();
                handles[i].take().unwrap().join().unwrap();
            }
            wait_until(200 - 67);
            let mut ids = Vec::new();
            for p in rt.shared().ps.iter() {
                let gs = p.registry.gs.lock().unwrap();
                for (index, g) in gs.iter().enumerate() {
                    let slot = g.registry_slot.load(std::sync::atomic::Ordering::Relaxed);
                    assert_eq!(slot, super::slot(p.id, index), "goroutine {}", g.id);
                    ids.push(g.id);
                }
            }
            let expect: Vec<u64> = handles.iter().flatten().map(|h| h.id()).collect();
            ids.sort();
            let mut expect_sorted = expect.clone();
            expect_sorted.sort();
            assert_eq!(ids, expect_sorted);
            for (i, (tx, _)) in gates.iter().enumerate() {
                if i % 3 != 0 {
                    tx.send(()).unwrap();
                }
            }
            for h in handles.into_iter().flatten() {
                h.join().unwrap();
            }
            wait_until(0);
        }
    }
}
