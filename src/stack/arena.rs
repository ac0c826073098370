//! The stack arena: large `MAP_NORESERVE` chunks carved into guarded slots.
//!
//! ```text
//!   chunk:  | guard | stack 0 ... | guard | stack 1 ... | guard | ...
//!                   ^base                 ^base
//! ```
//!
//! Guard pages are installed with `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+),
//! which marks page-table entries without splitting the mapping, so a chunk
//! of thousands of stacks stays one VMA. Where the kernel refuses, the arena
//! falls back to `mprotect(PROT_NONE)`, which splits the mapping: two VMAs a
//! stack against `vm.max_map_count`. In that mode the arena counts, and
//! refuses a stack with an error naming the sysctl before the kernel would
//! refuse the process anything else.
//!
//! Everything here is behind one mutex: slots are carved or recycled only when
//! a P's [`super::Cache`] is empty or overflowing, so the lock is off the hot
//! path.

use super::{page_size, Stack};
use std::io;
use std::sync::Mutex;

/// `MADV_GUARD_INSTALL` from linux/mman.h (6.13); libc does not name it yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Address space reserved per chunk.
const CHUNK_BYTES: usize = 1 << 30;

/// VMAs left for the rest of the process when the mprotect fallback counts
/// against `vm.max_map_count`.
const MAP_COUNT_MARGIN: usize = 2048;

/// How guard pages are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuardMode {
    /// `MADV_GUARD_INSTALL`: no extra VMAs.
    Madvise,
    /// `mprotect(PROT_NONE)`: two VMAs per stack.
    Mprotect,
}

pub(crate) struct Arena {
    stack_size: usize,
    state: Mutex<State>,
}

struct State {
    guard_mode: GuardMode,
    /// Chunks mapped so far: (address, length). Never unmapped while the
    /// arena lives, because a leaked goroutine may still sit on a slot.
    chunks: Vec<(usize, usize)>,
    /// Next never-used slot in the last chunk, and how many the chunk holds.
    next_slot: usize,
    slots_in_last: usize,
    /// Stacks returned by Ps, cold pages already released.
    free: Vec<Stack>,
    /// Stacks returned by Ps whose pages are still resident: handed out
    /// first (no page faults), released by `scavenge` when they linger.
    warm: Vec<Stack>,
    /// Slots ever carved (the number of guard pages installed).
    carved: usize,
    /// mprotect mode only: the most slots the map-count budget allows.
    mprotect_limit: usize,
}

impl Arena {
    /// An arena of stacks with `stack_size` usable bytes (a multiple of the
    /// page size). Nothing is mapped until the first stack is asked for.
    pub(crate) fn new(stack_size: usize, guard_mode: GuardMode) -> Arena {
        debug_assert_eq!(stack_size % page_size(), 0);
        Arena {
            stack_size,
            state: Mutex::new(State {
                guard_mode,
                chunks: Vec::new(),
                next_slot: 0,
                slots_in_last: 0,
                free: Vec::new(),
                warm: Vec::new(),
                carved: 0,
                mprotect_limit: 0,
            }),
        }
    }

    /// Which guard mechanism is in use (it can change to `Mprotect` once,
    /// when the kernel refuses `MADV_GUARD_INSTALL`).
    pub(crate) fn guard_mode(&self) -> GuardMode {
        self.lock().guard_mode
    }

    /// (stacks carved, stacks on the free list, bytes of address space
    /// reserved).
    pub(crate) fn usage(&self) -> (usize, usize, usize) {
        let st = self.lock();
        (
            st.carved,
            st.free.len() + st.warm.len(),
            st.chunks.iter().map(|c| c.1).sum(),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock can only come from an allocation
        // failure in Vec::push, after which the state is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot_size(&self) -> usize {
        self.stack_size + page_size()
    }

    /// A guarded stack: a recycled one if any, else a fresh slot.
    pub(crate) fn alloc(&self) -> io::Result<Stack> {
        let mut st = self.lock();
        if let Some(stack) = st.warm.pop().or_else(|| st.free.pop()) {
            return Ok(stack);
        }
        if st.next_slot == st.slots_in_last {
            self.map_chunk(&mut st)?;
        }
        let (chunk, _) = *st.chunks.last().expect("a chunk was just mapped");
        let slot = chunk + st.next_slot * self.slot_size();
        self.install_guard(&mut st, slot)?;
        st.next_slot += 1;
        st.carved += 1;
        Ok(Stack {
            base: slot + page_size(),
            size: self.stack_size,
        })
    }

    /// Takes back stacks from a P's overflowing cache. They stay warm
    /// until [`Arena::scavenge`].
    pub(crate) fn free(&self, stacks: Vec<Stack>) {
        self.lock().warm.extend(stacks);
    }

    /// Releases the cold pages of warm stacks beyond the `keep` most recent
    /// ones (sysmon calls this periodically, as Go's scavenger does). The
    /// `madvise` calls happen outside the lock.
    pub(crate) fn scavenge(&self, keep: usize) {
        let batch: Vec<Stack> = {
            let mut st = self.lock();
            if st.warm.len() <= keep {
                return;
            }
            let n = st.warm.len() - keep;
            st.warm.drain(..n).collect()
        };
        for s in &batch {
            s.release_cold_pages();
        }
        self.lock().free.extend(batch);
    }

    fn map_chunk(&self, st: &mut State) -> io::Result<()> {
        let slot = self.slot_size();
        let slots = (CHUNK_BYTES / slot).max(1);
        let len = slots * slot;
        // SAFETY: a fresh anonymous private mapping at an address of the
        // kernel's choosing aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(
                err.kind(),
                format!(
                    "cannot reserve {} MiB of address space for goroutine stacks \
                     ({} stacks of {} KiB carved so far): {err}; lower Builder::stack_size \
                     or raise the address-space limit (ulimit -v)",
                    len >> 20,
                    st.carved,
                    self.stack_size >> 10,
                ),
            ));
        }
        st.chunks.push((p as usize, len));
        st.next_slot = 0;
        st.slots_in_last = slots;
        Ok(())
    }

    fn install_guard(&self, st: &mut State, slot: usize) -> io::Result<()> {
        let page = page_size();
        if st.guard_mode == GuardMode::Madvise {
            // SAFETY: `slot` is the first page of a slot of our own mapping
            // that no stack uses yet.
            let rc = unsafe { libc::madvise(slot as *mut libc::c_void, page, MADV_GUARD_INSTALL) };
            if rc == 0 {
                return Ok(());
            }
            // Kernels before 6.13 answer EINVAL: fall back for good.
            st.guard_mode = GuardMode::Mprotect;
        }
        if st.mprotect_limit == 0 {
            st.mprotect_limit = mprotect_budget()?;
        }
        if st.carved >= st.mprotect_limit {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "cannot guard another goroutine stack: {} stacks already use two memory \
                     mappings each and vm.max_map_count ({}) is nearly reached; this kernel lacks \
                     MADV_GUARD_INSTALL (Linux 6.13+), so raise the limit with \
                     `sysctl -w vm.max_map_count=<n>` or run fewer goroutines at once",
                    st.carved,
                    max_map_count().unwrap_or(0),
                ),
            ));
        }
        // SAFETY: as above; PROT_NONE on our own unused page.
        if unsafe { libc::mprotect(slot as *mut libc::c_void, page, libc::PROT_NONE) } != 0 {
            let err = io::Error::last_os_error();
            return Err(io::Error::new(
                err.kind(),
                format!(
                    "cannot install a stack guard page with mprotect after {} stacks: {err} \
                     (vm.max_map_count is {})",
                    st.carved,
                    max_map_count().unwrap_or(0)
                ),
            ));
        }
        Ok(())
    }
}

/// The kernel's `vm.max_map_count`.
pub(crate) fn max_map_count() -> io::Result<usize> {
    let text = std::fs::read_to_string("/proc/sys/vm/max_map_count")?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("vm.max_map_count: {e}")))
}

/// How many mprotect-guarded stacks fit under `vm.max_map_count`, leaving the
/// mappings the process already has plus a margin for the rest of it.
fn mprotect_budget() -> io::Result<usize> {
    let limit = max_map_count()?;
    let used = std::fs::read_to_string("/proc/self/maps")?.lines().count();
    Ok(limit.saturating_sub(used + MAP_COUNT_MARGIN) / 2)
}
