//! Who holds a P, and how Go mode takes a P away from an M that is not
//! giving it back: one in a blocking `syscall`, or one running a goroutine
//! that has not reached a scheduling point for too long (a CPU hog, or a
//! blocking call nobody wrapped in `syscall`).
//!
//! Go takes the CPU back from a hog with a signal that makes the goroutine
//! call the scheduler wherever it is. That is not sound for arbitrary Rust
//! code (a goroutine may be preempted, and so moved to another thread, in the
//! middle of a thread-local access or holding a thread-affine lock), so here
//! the hog keeps its thread and loses only its P: the P, with its queues and
//! timers, goes to another M, and the hog's M gives itself up at the
//! goroutine's next runtime call, as an M coming back from a syscall whose P
//! was retaken does. For a while one more thread runs goroutine code than
//! `max_procs` says; sysmon retakes only when work is waiting for the P, and
//! from at most `max_procs` hogs at a time.
//!
//! ## The `sys` word
//!
//! Each P has a `sys` word: an epoch above a two-bit state.
//!
//! ```text
//!   HELD(e) --holder: enter_syscall--> IN_SYSCALL(e) --holder: exit--> HELD(e+1)
//!      |  ^                                 |
//!      |  | sysmon: abort                   +--sysmon: retake--> HELD(e+1), new M
//!      v  |
//!   RETAKING(e) --sysmon: commit--> HELD(e+1), new M
//! ```
//!
//! An M remembers the word it took its P with (`MLocal::held`); it holds
//! the P for as long as the word still reads that. A changed epoch means the
//! P was taken, and nothing the M remembers about it is valid any more.
//!
//! ## Taking a P from a running goroutine
//!
//! The hog's M may be anywhere: in the goroutine's own code, where it does
//! not touch the P, or inside a runtime call, using the P's queues. The M
//! says which in the P's `user_code` flag with plain stores: an atomic
//! read-modify-write at every runtime call would cost the hot paths (spawn,
//! every channel wake) more than everything else they do. Sysmon pays
//! instead, with the kernel's asymmetric fence, `membarrier(2)`
//! (`MEMBARRIER_CMD_PRIVATE_EXPEDITED`): once it returns, every thread of the
//! process has executed a full memory barrier. The two sides:
//!
//! ```text
//!   M, entering the runtime (enter):       sysmon (retake_running):
//!     user_code = false                      CAS sys HELD(e) -> RETAKING(e)
//!     compiler fence                         membarrier()
//!     s = sys                                if user_code: sys = HELD(e+1), commit
//!     s == HELD(e): go on                    else:         sys = HELD(e), abort
//!     s == RETAKING(e): wait for sysmon
//!     otherwise: the P is gone
//!   M, leaving it (leave):
//!     user_code = true (Release)
//! ```
//!
//! A committing sysmon clears `user_code` before it hands the P on: the next
//! holder starts on g0, inside the runtime, and must not look retakeable
//! until it runs a goroutine. `leave` is always the last thing an M does
//! with its P before goroutine code runs.
//!
//! Why no P is used by two Ms: consider where the M's barrier B (forced by
//! `membarrier`) falls. If the M's load of `sys` comes after B, it sees
//! RETAKING or what sysmon resolved it to, and waits or gives the P up. If
//! it comes before B, so does the store of `user_code = false` before it,
//! and sysmon, reading after B, sees `false` (or the `true` of a later
//! `leave`, after which the M uses the P no more until its next `enter`,
//! whose load then comes after B): it commits only when the M is outside
//! the runtime. Sysmon reads `user_code` with Acquire, pairing with
//! `leave`'s Release, so the hog's last use of the P happens before the
//! next holder's first.
//!
//! The M's side is two plain stores, a compiler fence and a load per
//! runtime call. Without `membarrier` (kernels before 4.14, valgrind)
//! there is no retaking of running Ps; syscalls are retaken as before.
//!
//! The loom model below checks the state machine with the barrier modelled
//! as a SeqCst fence on both sides, which is what `membarrier` gives the
//! M's side at the moment it runs.

use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(crate) const HELD: u64 = 0;
pub(crate) const IN_SYSCALL: u64 = 1;
pub(crate) const RETAKING: u64 = 2;
const STATE: u64 = 3;
const EPOCH: u64 = 4;

/// The state bits of a `sys` word.
pub(crate) fn state(word: u64) -> u64 {
    word & STATE
}

/// The word of the same epoch in `state`.
pub(crate) fn with_state(word: u64, state: u64) -> u64 {
    (word & !STATE) | state
}

/// HELD in the next epoch: what a P is after its holder changes hands
/// other than through the idle list.
pub(crate) fn next_epoch(word: u64) -> u64 {
    (word & !STATE) + EPOCH
}

/// What an M entering the runtime found.
pub(crate) enum Entry {
    /// The P is still this M's; it may use it until [`leave`].
    Held,
    /// The P was taken: the M must not touch it again.
    Lost,
}

/// The M's side, entering the runtime from goroutine code: see the module
/// docs. `held` is the word the M took the P with.
#[inline]
pub(crate) fn enter(sys: &AtomicU64, user_code: &AtomicBool, held: u64) -> Entry {
    user_code.store(false, Ordering::Relaxed);
    light_fence();
    loop {
        let s = sys.load(Ordering::Relaxed);
        if s == held {
            return Entry::Held;
        }
        if s != with_state(held, RETAKING) {
            return Entry::Lost;
        }
        // Sysmon is deciding; it takes a membarrier call to do so.
        crate::loom::hint::spin_loop();
    }
}

/// The M's side, going back to goroutine code.
#[inline]
pub(crate) fn leave(user_code: &AtomicBool) {
    user_code.store(true, Ordering::Release);
}

/// The holder, about to block in an inline syscall with the P (entered,
/// see [`enter`]): HELD(e) -> IN_SYSCALL(e). Waits out a retake attempt,
/// which must abort (the M is inside the runtime). Returns the new word.
pub(crate) fn begin_syscall(sys: &AtomicU64, held: u64) -> u64 {
    let word = with_state(held, IN_SYSCALL);
    // Release: our use of the P happens before whoever takes it next.
    while sys
        .compare_exchange_weak(held, word, Ordering::Release, Ordering::Relaxed)
        .is_err()
    {
        crate::loom::hint::spin_loop();
    }
    word
}

/// The holder, back from an inline syscall that left the word at `word`
/// (IN_SYSCALL): takes the P back, in the next epoch (so that sysmon never
/// mistakes the next syscall for this one), unless sysmon retook it first.
/// The new word if it did.
pub(crate) fn end_syscall(sys: &AtomicU64, word: u64) -> Option<u64> {
    let back = next_epoch(word);
    // Acquire pairs with the holder's own Release in `begin_syscall`, or
    // with nothing: nobody else used the P if the word is unchanged.
    sys.compare_exchange(word, back, Ordering::Acquire, Ordering::Relaxed)
        .ok()
        .map(|_| back)
}

/// Sysmon's side of an inline syscall still at `word`: takes the P for
/// another M, in the next epoch. False if the holder came back first.
pub(crate) fn retake_syscall(sys: &AtomicU64, word: u64) -> bool {
    debug_assert_eq!(state(word), IN_SYSCALL);
    // AcqRel: the holder's use of the P before the syscall happens before
    // the next holder's.
    sys.compare_exchange(word, next_epoch(word), Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
}

/// Sysmon's side: takes the P whose `sys` word read `held` from a holder
/// running goroutine code. True if it did: the P is sysmon's to hand to
/// another M, in the next epoch.
pub(crate) fn retake_running(sys: &AtomicU64, user_code: &AtomicBool, held: u64) -> bool {
    debug_assert_eq!(state(held), HELD);
    let pending = with_state(held, RETAKING);
    if sys
        .compare_exchange(held, pending, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    heavy_fence();
    // Acquire pairs with `leave`'s Release.
    let outside = user_code.load(Ordering::Acquire);
    if outside {
        // The P is ours. Its next holder starts inside the runtime (on g0):
        // the flag the hog left set must not tell a later retake otherwise.
        user_code.store(false, Ordering::Relaxed);
    }
    // Only sysmon changes a RETAKING word.
    let to = if outside { next_epoch(held) } else { held };
    sys.store(to, Ordering::Release);
    outside
}

#[cfg(not(loom))]
fn light_fence() {
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

#[cfg(loom)]
fn light_fence() {
    crate::loom::sync::atomic::fence(Ordering::SeqCst);
}

#[cfg(not(loom))]
fn heavy_fence() {
    // SAFETY: membarrier takes no pointers; the registration in
    // `can_retake_running` preceded every call (sysmon checks it first).
    let r = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
    if r != 0 {
        // Registered, so this cannot fail; if it ever did, a full fence on
        // our side alone is not enough, and nobody must act on the result.
        crate::fatal(format_args!(
            "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
}

#[cfg(loom)]
fn heavy_fence() {
    crate::loom::sync::atomic::fence(Ordering::SeqCst);
}

#[cfg(not(loom))]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
#[cfg(not(loom))]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

/// Whether this process may retake running Ps: registers for expedited
/// `membarrier` once. False where the kernel (or valgrind) lacks it.
#[cfg(not(loom))]
pub(crate) fn can_retake_running() -> bool {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // SAFETY: as in heavy_fence.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                0,
                0,
            ) == 0
        }
    })
}

#[cfg(loom)]
pub(crate) fn can_retake_running() -> bool {
    true
}

/// Loom model: a holder going in and out of the runtime (and once into an
/// inline syscall) while sysmon tries to retake its P. At no point may both
/// believe they own the P: the holder's critical sections and sysmon's
/// ownership after a commit are checked with a counter that each increments
/// on entry and decrements on exit.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;

    struct PModel {
        sys: AtomicU64,
        user_code: AtomicBool,
        owners: AtomicUsize,
    }

    impl PModel {
        fn own(&self) {
            assert_eq!(self.owners.fetch_add(1, Ordering::SeqCst), 0, "two owners");
        }
        fn disown(&self) {
            self.owners.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn model(syscall: bool) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(move || {
            let p = Arc::new(PModel {
                sys: AtomicU64::new(HELD),
                user_code: AtomicBool::new(true),
                owners: AtomicUsize::new(0),
            });
            let holder = {
                let p = p.clone();
                loom::thread::spawn(move || {
                    let mut held = HELD;
                    for round in 0..2 {
                        match enter(&p.sys, &p.user_code, held) {
                            Entry::Lost => return false,
                            Entry::Held => {}
                        }
                        p.own();
                        if syscall && round == 0 {
                            let word = begin_syscall(&p.sys, held);
                            p.disown();
                            // exit_syscall: take it back unless retaken.
                            let Some(back) = end_syscall(&p.sys, word) else {
                                return false;
                            };
                            held = back;
                            p.own();
                        }
                        p.disown();
                        leave(&p.user_code);
                    }
                    true
                })
            };
            let held = p.sys.load(Ordering::Relaxed);
            let mut took = false;
            if state(held) == HELD {
                took = retake_running(&p.sys, &p.user_code, held);
            } else if state(held) == IN_SYSCALL {
                took = retake_syscall(&p.sys, held);
            }
            if took {
                // Sysmon now holds the P as a new holder would on g0:
                // inside the runtime, so a second retake must not commit.
                p.own();
                let now_held = p.sys.load(Ordering::Relaxed);
                assert!(!retake_running(&p.sys, &p.user_code, now_held));
                p.disown();
            }
            let finished = holder.join().unwrap();
            let end = p.sys.load(Ordering::Relaxed);
            assert_eq!(state(end), HELD);
            // A holder that lost the P saw a new epoch, and only a retake
            // makes one while the holder is outside a syscall.
            if !finished {
                assert!(took, "the holder lost a P nobody took");
            }
        });
    }

    #[test]
    fn loom_retaking_a_running_p_never_leaves_two_holders() {
        model(false);
    }

    #[test]
    fn loom_retaking_around_an_inline_syscall_never_leaves_two_holders() {
        model(true);
    }
}
