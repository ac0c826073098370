//! The two scheduling modes, and every difference between them.
//!
//! One scheduler serves both; they differ only in the answers below. Nothing
//! else in the crate asks which mode is on.
//!
//! * **Pinned** (default): a goroutine runs on the M where it first ran, for
//!   life, so everything safe Rust may do on a thread (thread-locals, `!Send`
//!   values reachable from them, thread-affine locks) stays sound across a
//!   park. Each P is bound to one M for good; stealing takes only goroutines
//!   that have not started.
//! * **Go** (`unsafe { Builder::migrate_goroutines() }`): Go's scheduler. A
//!   started goroutine may resume on any M, Ps move between Ms, and every
//!   runnable goroutine is stealable. The caller promises what SAFETY.md
//!   lists.
//!
//! How the answers turn into behaviour: a goroutine's `home` is the P it must
//! run on, or `NO_HOME`. Run queues, `ready` and the global queue look only at
//! `home`: a goroutine with a home never enters a stealable queue.

use super::g::NO_HOME;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Pinned,
    Go,
}

impl Mode {
    /// The `home` a goroutine gets when it first runs on P `p`.
    pub(crate) fn home_on_start(self, p: u32) -> u32 {
        match self {
            Mode::Pinned => p,
            Mode::Go => NO_HOME,
        }
    }

    /// Whether each P keeps one M for life (so that goroutines pinned to the
    /// P stay on one OS thread), or an idle P may be run by any M.
    pub(crate) fn binds_m_to_p(self) -> bool {
        match self {
            Mode::Pinned => true,
            Mode::Go => false,
        }
    }

    /// Whether sysmon may take the P of an M that is running a goroutine
    /// (`hold.rs`). In pinned mode the goroutines homed on a P could then
    /// run on no other thread, so a P stays with its M.
    pub(crate) fn retakes_running_ps(self) -> bool {
        !self.binds_m_to_p()
    }
}
