//! Idle Ps, idle Ms and spinning: how work finds a thread without a
//! thundering herd and without a lost wake-up.
//!
//! The spinning protocol (Go's, from proc.go):
//! 1. Whoever makes a goroutine runnable where another P could take it
//!    (spawn, a ready into a stealable queue, the global queue) calls
//!    [`Shared::wakep`]: if some P is idle and no M is spinning, one idle P
//!    is handed to an M that starts out *spinning* (looking for work).
//! 2. At most half the busy Ps may have a spinning M (`can_spin`).
//! 3. A spinning M that finds work stops spinning; if it was the last one
//!    and it sees more work in a stealable queue, it calls `wakep`, so that
//!    a burst of work recruits Ms one at a time. (Go recruits whether or
//!    not it sees work. When the work found is all there is, as when a
//!    plain thread and a goroutine trade messages, every such recruit
//!    spins through every queue, finds nothing and sleeps again, on the
//!    CPU the other side of the conversation was about to wake on: on a
//!    2-CPU machine that doubled a thread-to-goroutine round trip. Work
//!    made visible after the look is covered as in step 4: its submitter
//!    saw no spinner and calls `wakep` itself.)
//! 4. A spinning M that finds nothing releases its P, *then* stops spinning,
//!    *then* looks at every queue once more and calls `wakep` if it sees
//!    work. A submitter that saw "someone is spinning" and so woke nobody is
//!    covered by that last look: both sides use SeqCst on the spinning
//!    count and the queue lengths, so one of them sees the other.
//!
//! Work only one P may run (a goroutine pinned there) uses
//! [`Shared::notify_p`] instead: it wakes that P if it is idle. The P's M
//! sets `P::idle` before its last look at the inbox and the submitter pushes
//! before it reads `P::idle` (both SeqCst), so again one sees the other.
//!
//! `Lists` is the scheduler lock (Go's `sched.lock`): Ps and Ms change hands
//! only under it.

use super::m::{self, MShared};
use super::Shared;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The most OS threads a runtime starts to run goroutines.
pub(crate) const MAX_MS: usize = 10_000;

pub(crate) struct Idle {
    lists: Mutex<Lists>,
    /// Ps on the idle list. Changed under `lists`; read without it.
    pub(crate) npidle: AtomicUsize,
    /// Ms looking for work.
    pub(crate) nmspinning: AtomicUsize,
}

struct Lists {
    /// Idle P ids.
    ps: Vec<u32>,
    /// Go mode: Ms with no P, parked.
    ms: Vec<Arc<MShared>>,
    /// Pinned mode: each P's own M, once started.
    bound: Vec<Option<Arc<MShared>>>,
    /// Every M ever started, for shutdown.
    all: Vec<Arc<MShared>>,
    /// Whether the thread-limit warning was printed.
    warned: bool,
}

impl Idle {
    /// All `procs` Ps start idle; Ms start on demand.
    pub(crate) fn new(procs: usize) -> Idle {
        Idle {
            lists: Mutex::new(Lists {
                ps: (0..procs as u32).rev().collect(),
                ms: Vec::new(),
                bound: vec![None; procs],
                all: Vec::new(),
                warned: false,
            }),
            npidle: AtomicUsize::new(procs),
            nmspinning: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lists> {
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether one more M may spin: at most half the busy Ps.
    pub(crate) fn can_spin(&self, procs: usize) -> bool {
        let busy = procs.saturating_sub(self.npidle.load(Ordering::SeqCst));
        2 * self.nmspinning.load(Ordering::SeqCst) < busy
    }

    /// Every M ever started.
    pub(crate) fn all_ms(&self) -> Vec<Arc<MShared>> {
        self.lock().all.clone()
    }
}

impl Shared {
    /// Gets an idle P running with a spinning M, if there is an idle P and
    /// nobody is spinning already.
    pub(crate) fn wakep(&self) {
        let idle = &self.idle;
        if idle.npidle.load(Ordering::SeqCst) == 0 || idle.nmspinning.load(Ordering::SeqCst) != 0 {
            return;
        }
        if idle
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        if self.start_p(None, true) {
            self.spinning_recruits.fetch_add(1, Ordering::Relaxed);
        } else {
            idle.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Wakes P `p` if it is idle, for work only it may run.
    pub(crate) fn notify_p(&self, p: u32) {
        if self.ps[p as usize].idle.load(Ordering::SeqCst) {
            self.start_p(Some(p), false);
        }
    }

    /// Takes P `want` (or any idle P) off the idle list and gets an M to run
    /// it. False if there was no such idle P.
    pub(crate) fn start_p(&self, want: Option<u32>, spinning: bool) -> bool {
        let mut lists = self.idle.lock();
        let p = match want {
            Some(p) => match lists.ps.iter().position(|&q| q == p) {
                Some(i) => lists.ps.swap_remove(i),
                None => return false,
            },
            None => match lists.ps.pop() {
                Some(p) => p,
                None => return false,
            },
        };
        self.ps[p as usize].idle.store(false, Ordering::SeqCst);
        self.idle.npidle.fetch_sub(1, Ordering::SeqCst);
        self.run_p(lists, p, spinning);
        true
    }

    /// Gets an M to run P `p`, which is on no list: a parked M, or a new one.
    fn run_p(&self, mut lists: MutexGuard<'_, Lists>, p: u32, spinning: bool) {
        self.handoffs.fetch_add(1, Ordering::Relaxed);
        let m = if self.config.mode.binds_m_to_p() {
            lists.bound[p as usize].clone()
        } else {
            lists.ms.pop()
        };
        match m {
            Some(m) => {
                drop(lists);
                m.hand_off(p, spinning);
            }
            None => self.new_m(&mut lists, p, spinning),
        }
    }

    /// Go mode: sysmon took P `p` from an M blocked in an inline syscall,
    /// or running a goroutine that kept waiting work from it (`hold.rs`);
    /// another M runs it from here (Go's `handoffp`). An M that finds it has
    /// nothing to do gives it back to the idle list the usual way.
    pub(crate) fn hand_off_retaken(&self, p: u32) {
        let lists = self.idle.lock();
        self.run_p(lists, p, false);
    }

    /// Go mode: an idle P for an M coming back from a syscall whose own P
    /// was retaken (Go's `exitsyscallfast_pidle`).
    pub(crate) fn take_idle_p(&self) -> Option<u32> {
        if self.idle.npidle.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut lists = self.idle.lock();
        let p = lists.ps.pop()?;
        self.ps[p as usize].idle.store(false, Ordering::SeqCst);
        self.idle.npidle.fetch_sub(1, Ordering::SeqCst);
        self.handoffs.fetch_add(1, Ordering::Relaxed);
        Some(p)
    }

    /// Go mode: for idle M `m`, woken in the network poller by events,
    /// takes any idle P, so that it runs the goroutines the events ready
    /// instead of handing them to another M (`netpoll.rs` step 6). None if
    /// no P is idle, or if a waker has already chosen `m` for a hand-off
    /// (it took `m` off the idle Ms under this lock).
    ///
    /// Pinned mode: always None. A woken goroutine runs only on its home P,
    /// which this M's P is for a fraction of them; claiming it for the
    /// others only added a fruitless spin (measured: pinned `http_hello`
    /// used 11% more CPU per request). A goroutine homed on this M's own P
    /// still comes back to it, by a hand-off to itself.
    pub(crate) fn claim_idle_p(&self, m: &Arc<MShared>) -> Option<u32> {
        if self.config.mode.binds_m_to_p() || self.idle.npidle.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut lists = self.idle.lock();
        let i = lists.ms.iter().position(|x| Arc::ptr_eq(x, m))?;
        let p = lists.ps.pop()?;
        lists.ms.swap_remove(i);
        self.ps[p as usize].idle.store(false, Ordering::SeqCst);
        self.idle.npidle.fetch_sub(1, Ordering::SeqCst);
        self.handoffs.fetch_add(1, Ordering::Relaxed);
        Some(p)
    }

    /// Go mode: an M without a P joins the idle Ms (to be handed one).
    pub(crate) fn idle_m(&self, m: &Arc<MShared>) {
        self.idle.lock().ms.push(m.clone());
    }

    /// Starts an M holding P `p`. Past the thread limit, or if the OS refuses
    /// a thread, the P goes back to the idle list (its work waits for an
    /// existing M) and a warning is printed once.
    fn new_m(&self, lists: &mut Lists, p: u32, spinning: bool) {
        let refused = if lists.all.len() >= MAX_MS {
            Some(format!("the limit of {MAX_MS} threads is reached"))
        } else {
            match m::start(self.arc(), p, spinning) {
                Ok(m) => {
                    if self.config.mode.binds_m_to_p() {
                        lists.bound[p as usize] = Some(m.clone());
                    }
                    lists.all.push(m);
                    None
                }
                Err(e) => Some(format!("the OS refused a new thread: {e}")),
            }
        };
        if let Some(why) = refused {
            if !lists.warned {
                lists.warned = true;
                eprintln!(
                    "goroutines: cannot start another M ({why}); {} Ms keep running goroutines",
                    lists.all.len()
                );
            }
            if spinning {
                self.idle.nmspinning.fetch_sub(1, Ordering::SeqCst);
            }
            self.ps[p as usize].idle.store(true, Ordering::SeqCst);
            lists.ps.push(p);
            self.idle.npidle.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// An M with nothing to run puts its P on the idle list (and itself, in
    /// Go mode, on the idle M list). False, keeping the P, if work for it
    /// arrived meanwhile.
    pub(crate) fn release_p(&self, p: u32, m: &Arc<MShared>) -> bool {
        let mut lists = self.idle.lock();
        if !self.global.is_empty() {
            return false;
        }
        let pp = &self.ps[p as usize];
        pp.idle.store(true, Ordering::SeqCst);
        if pp.has_inbox() {
            pp.idle.store(false, Ordering::SeqCst);
            return false;
        }
        lists.ps.push(p);
        self.idle.npidle.fetch_add(1, Ordering::SeqCst);
        if !self.config.mode.binds_m_to_p() {
            lists.ms.push(m.clone());
        }
        true
    }

    /// Whether any stealable work is visible anywhere.
    pub(crate) fn work_visible(&self) -> bool {
        !self.global.is_empty() || self.ps.iter().any(|p| !p.runq.is_empty())
    }
}
