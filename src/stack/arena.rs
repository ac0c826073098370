//! The stack arena: large `MAP_NORESERVE` chunks carved into guarded slots.
//!
//! ```text
//!   chunk:  | guard | stack 0 ... | guard | stack 1 ... | guard | ...
//!                   ^base                 ^base
//! ```
//!
//! Guard pages are installed with `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+),
//! which marks page-table entries without splitting the mapping, so a chunk
//! of thousands of stacks stays one VMA. Where the kernel takes it (6.14+),
//! the guards of the next slots are installed ahead, up to 1024 in one
//! `process_madvise` call on `PIDFD_SELF`: measured here (`cargo bench
//! --bench page_cost`), 0.67 µs a guard instead of 1.5 µs, on a path that
//! every fresh stack takes. Where the kernel refuses, the arena
//! falls back to `mprotect(PROT_NONE)`, which splits the mapping: two VMAs a
//! stack against `vm.max_map_count`. In that mode the arena counts, and
//! refuses a stack with an error naming the sysctl before the kernel would
//! refuse the process anything else.
//!
//! Everything here is behind one mutex: slots are carved or recycled only when
//! a P's [`super::Cache`] is empty or overflowing, so the lock is off the hot
//! path.
//!
//! Exhaustion is an `io::Error` that names the limit, never a bare ENOMEM:
//! address space (`ulimit -v`) when a chunk cannot be reserved even at
//! [`MIN_CHUNK_BYTES`], or `vm.max_map_count` in the mprotect fallback. The
//! M turns it into the goroutine's panic payload (`scheduler/m.rs`,
//! `start_goroutine`), so `join` returns it and the runtime carries on.
//!
//! Lifetime: the chunks are unmapped when the arena is dropped, which happens
//! only with the runtime's shared state, after every goroutine has exited. A
//! runtime dropped with goroutines left leaks its arena with them (their
//! frames are still live; see `Runtime`'s drop), after releasing the pages
//! of the stacks nobody uses ([`Arena::release_unused`]).

use super::{page_size, Stack};
use std::io;
use std::sync::Mutex;

/// `MADV_GUARD_INSTALL` from linux/mman.h (6.13); libc does not name it yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// `PIDFD_SELF` (linux/pidfd.h, 6.14): the calling thread, for
/// `process_madvise` without opening a pidfd (which a fork would leave
/// naming the parent).
const PIDFD_SELF: libc::c_int = -10000;

/// Guards installed ahead by one `process_madvise`, at most: the kernel's
/// `UIO_MAXIOV`. Batches start at [`FIRST_GUARD_BATCH`] and double, so a
/// program with a few goroutines does not pay for a thousand.
const MAX_GUARD_BATCH: usize = 1024;
const FIRST_GUARD_BATCH: usize = 16;

/// Address space reserved per chunk.
const CHUNK_BYTES: usize = 1 << 30;

/// Where the kernel refuses a whole chunk (an address-space limit, `ulimit
/// -v`), the arena halves the request down to this (or to one slot, if
/// larger) before it gives up.
const MIN_CHUNK_BYTES: usize = 16 << 20;

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
    /// Madvise mode: slots of the last chunk below this already have their
    /// guard (installed ahead in a batch).
    guarded_to: usize,
    /// Size of the next batch of guards installed ahead; 0 once the kernel
    /// refused a batch (each slot then gets its own `madvise`).
    guard_batch: usize,
    /// Stacks returned by Ps, cold pages already released.
    free: Vec<Stack>,
    /// Stacks returned by Ps whose pages are still resident: handed out
    /// first (no page faults), released by `scavenge` when they linger.
    warm: Vec<Stack>,
    /// Slots ever carved (the number of guard pages installed).
    carved: usize,
    /// mprotect mode only: the most slots the map-count budget allows.
    mprotect_limit: usize,
    /// `GOROUTINES_DEBUG=maxmapcount=N`: the `vm.max_map_count` the budget
    /// is computed from, instead of the sysctl (for testing exhaustion
    /// without changing a machine-wide setting).
    map_count_override: Option<usize>,
    /// Valgrind's ids of the slots registered as stacks (feature
    /// `valgrind`; empty otherwise).
    valgrind_ids: Vec<usize>,
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
                guarded_to: 0,
                guard_batch: FIRST_GUARD_BATCH,
                free: Vec::new(),
                warm: Vec::new(),
                carved: 0,
                mprotect_limit: 0,
                map_count_override: None,
                valgrind_ids: Vec::new(),
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

    /// Computes the mprotect fallback's budget as if `vm.max_map_count`
    /// were `n` (`GOROUTINES_DEBUG=maxmapcount=N`).
    pub(crate) fn pretend_max_map_count(&self, n: usize) {
        let mut st = self.lock();
        st.map_count_override = Some(n);
        st.mprotect_limit = 0;
    }

    /// Releases every page of the stacks on the free and warm lists. Called
    /// when the runtime is dropped with goroutines left, so that the arena
    /// it leaks holds only the pages of their stacks.
    pub(crate) fn release_unused(&self) {
        let st = self.lock();
        for s in st.warm.iter().chain(st.free.iter()) {
            // SAFETY: a stack on these lists is owned by the arena and
            // nobody runs on it; we hold the lock, so nobody takes it
            // meanwhile. MADV_DONTNEED on anonymous private memory only
            // makes the pages zero-filled on next touch.
            unsafe {
                libc::madvise(
                    s.base.get() as *mut libc::c_void,
                    s.size,
                    libc::MADV_DONTNEED,
                )
            };
        }
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
        if st.next_slot >= st.guarded_to {
            self.guard_ahead(&mut st, chunk);
        }
        if st.next_slot >= st.guarded_to {
            self.install_guard(&mut st, slot)?;
        }
        st.next_slot += 1;
        st.carved += 1;
        let base = slot + page_size();
        if cfg!(feature = "valgrind") {
            let id = super::valgrind::register(base, base + self.stack_size);
            st.valgrind_ids.push(id);
        }
        Ok(Stack {
            base: std::num::NonZeroUsize::new(base).expect("a slot above its guard page"),
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
        let smallest = MIN_CHUNK_BYTES.max(slot);
        let mut want = CHUNK_BYTES.max(slot);
        loop {
            let slots = want / slot;
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
            if p != libc::MAP_FAILED {
                st.chunks.push((p as usize, len));
                st.next_slot = 0;
                st.slots_in_last = slots;
                st.guarded_to = 0;
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENOMEM) && want / 2 >= smallest {
                want /= 2;
                continue;
            }
            return Err(io::Error::new(
                err.kind(),
                format!(
                    "cannot reserve {} MiB of address space for goroutine stacks \
                     ({} stacks of {} KiB carved so far, {} MiB reserved): {err}; lower \
                     Builder::stack_size, run fewer goroutines at once, or raise the \
                     address-space limit (ulimit -v)",
                    len >> 20,
                    st.carved,
                    self.stack_size >> 10,
                    st.chunks.iter().map(|c| c.1).sum::<usize>() >> 20,
                ),
            ));
        }
    }

    /// Madvise mode: installs the guards of the next `guard_batch` slots of
    /// the last chunk (at `chunk`), from `next_slot`, in one
    /// `process_madvise`, and moves `guarded_to` past those it did. A
    /// kernel that refuses (before 6.14: no `PIDFD_SELF`) or stops early
    /// turns batching off; the slots left get their guard one by one, with
    /// that path's own fallback.
    fn guard_ahead(&self, st: &mut State, chunk: usize) {
        if st.guard_mode != GuardMode::Madvise || st.guard_batch == 0 {
            return;
        }
        let page = page_size();
        let from = st.next_slot;
        let n = st.guard_batch.min(st.slots_in_last - from);
        let ranges: Vec<libc::iovec> = (from..from + n)
            .map(|i| libc::iovec {
                iov_base: (chunk + i * self.slot_size()) as *mut libc::c_void,
                iov_len: page,
            })
            .collect();
        // SAFETY: each range is the first page of a slot of our own mapping
        // that no stack uses yet (slots at or above `next_slot` were never
        // handed out); `ranges` outlives the call.
        let done = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                PIDFD_SELF,
                ranges.as_ptr(),
                ranges.len(),
                MADV_GUARD_INSTALL,
                0,
            )
        };
        // The kernel advises the ranges in order and reports the bytes done.
        let guarded = if done > 0 { done as usize / page } else { 0 };
        st.guarded_to = from + guarded.min(n);
        st.guard_batch = if guarded == n {
            (n * 2).clamp(FIRST_GUARD_BATCH, MAX_GUARD_BATCH)
        } else {
            0
        };
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
        let map_count = match st.map_count_override {
            Some(n) => n,
            None => max_map_count()?,
        };
        if st.mprotect_limit == 0 {
            st.mprotect_limit = mprotect_budget(map_count)?;
        }
        if st.carved >= st.mprotect_limit {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "cannot guard another goroutine stack: {} stacks already use two memory \
                     mappings each and vm.max_map_count ({}) is nearly reached; guard pages are made \
                     with mprotect here (MADV_GUARD_INSTALL needs Linux 6.13+), so raise the \
                     limit with `sysctl -w vm.max_map_count=<n>` or run fewer goroutines at once",
                    st.carved,
                    map_count,
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
                    st.carved, map_count,
                ),
            ));
        }
        Ok(())
    }
}

impl Drop for Arena {
    /// Unmaps every chunk. The arena lives in the runtime's shared state,
    /// which is dropped only once no goroutine is left that could run on,
    /// or be woken into, one of its stacks.
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for id in st.valgrind_ids.drain(..) {
            super::valgrind::deregister(id);
        }
        for &(addr, len) in &st.chunks {
            // SAFETY: (addr, len) is a mapping this arena made; no stack in
            // it is in use (see above), and no `Stack` outlives the arena
            // (caches and lists are dropped with the same shared state).
            unsafe { libc::munmap(addr as *mut libc::c_void, len) };
        }
    }
}

/// The kernel's `vm.max_map_count`.
pub(crate) fn max_map_count() -> io::Result<usize> {
    let text = std::fs::read_to_string("/proc/sys/vm/max_map_count")?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("vm.max_map_count: {e}")))
}

/// How many mprotect-guarded stacks fit under `limit` (`vm.max_map_count`),
/// leaving the mappings the process already has plus a margin for the rest
/// of it.
fn mprotect_budget(limit: usize) -> io::Result<usize> {
    let used = std::fs::read_to_string("/proc/self/maps")?.lines().count();
    Ok(limit.saturating_sub(used + MAP_COUNT_MARGIN) / 2)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Whether the kernel can read the page at `addr` for us: reading a
    /// guard page this way fails with EFAULT instead of faulting the test.
    fn readable(addr: usize) -> bool {
        let mut byte = 0u8;
        let local = libc::iovec {
            iov_base: (&mut byte as *mut u8).cast(),
            iov_len: 1,
        };
        let remote = libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: 1,
        };
        // SAFETY: reads one byte of our own address space into `byte`; the
        // kernel checks the remote address, so an unmapped or guarded one
        // is an error, not a fault.
        unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) == 1 }
    }

    /// Slots carved one at a time and slots whose guards were installed
    /// ahead in growing batches (16, 32, ... here past 256) all sit above a
    /// page nobody can read, and their own pages are usable.
    #[test]
    fn every_carved_slot_has_its_guard_across_batches() {
        let arena = Arena::new(16 * page_size(), GuardMode::Madvise);
        let stacks: Vec<Stack> = (0..300).map(|_| arena.alloc().unwrap()).collect();
        for (i, s) in stacks.iter().enumerate() {
            let base = s.base.get();
            assert!(
                !readable(base - page_size()),
                "slot {i}: guard page is readable"
            );
            assert!(readable(base), "slot {i}: stack bottom is not readable");
            assert!(
                readable(base + s.size - 1),
                "slot {i}: stack top is not readable"
            );
        }
        assert_eq!(arena.usage().0, 300);
    }
}
