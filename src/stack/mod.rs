//! Goroutine stacks: where they come from and where they go back to.
//!
//! * Every stack is a slot in an [`arena::Arena`]: a few large
//!   `MAP_NORESERVE` mappings, so address space is reserved up front and a
//!   page of memory appears only when the goroutine touches it. An idle
//!   goroutine costs the one or two pages at the top of its stack.
//! * Below every stack sits a guard page. A goroutine that runs off the end
//!   of its stack faults there, and [`overflow`] turns the fault into
//!   `goroutine N has overflowed its stack`.
//! * A goroutine gets its stack when it first runs, not when it is spawned,
//!   so a million queued goroutines cost no stacks.
//! * An exited goroutine's stack goes to its P's cache ([`Cache`]) still
//!   warm, and from there, in batches, to the arena's warm list. Stacks that
//!   linger there are scavenged by sysmon: only [`RESIDENT_BYTES`] of each
//!   stays resident (`MADV_DONTNEED` below that). Releasing at once instead
//!   cost a madvise and new page faults for every stack reused in a
//!   spawn-heavy program.
//!
//! * With the cargo feature `valgrind`, every slot is registered with
//!   Valgrind as a stack when it is carved ([`valgrind`]), so that memcheck
//!   sees a goroutine switch as a switch, not as a 256 KiB frame.
//!
//! Ownership: a [`Stack`] value is the only handle to its slot. The G that
//! runs on it owns it from first run to exit; otherwise a cache or the free
//! list does.

pub(crate) mod arena;
pub(crate) mod overflow;
mod valgrind;

use std::io;

pub(crate) use arena::Arena;

/// How much of a stack stays resident when it goes back to the free list:
/// the top page, which every goroutine touches first.
pub(crate) const RESIDENT_BYTES: usize = 4096;

/// How many warm stacks a P keeps before handing half to the arena.
const CACHE_MAX: usize = 32;

/// The smallest and largest stack a builder accepts.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// The system page size.
pub(crate) fn page_size() -> usize {
    use std::sync::OnceLock;
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// One goroutine stack: `size` usable bytes starting at `base`, with the
/// guard page immediately below `base`.
#[derive(Debug)]
pub(crate) struct Stack {
    /// Never zero (a guard page lies below it), so `Option<Stack>`, which
    /// each G holds, costs no extra word.
    base: std::num::NonZeroUsize,
    size: usize,
}

impl Stack {
    /// The highest address of the stack (exclusive), 16-byte aligned.
    pub(crate) fn top(&self) -> usize {
        self.base.get() + self.size
    }

    /// The guard page's address range.
    pub(crate) fn guard(&self) -> std::ops::Range<usize> {
        self.base.get() - page_size()..self.base.get()
    }

    /// Usable bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Releases every page but the top [`RESIDENT_BYTES`] to the kernel.
    fn release_cold_pages(&self) {
        let len = self.size - RESIDENT_BYTES;
        // SAFETY: [base, base+len) lies inside this stack's slot, which this
        // value owns and nobody runs on; MADV_DONTNEED on anonymous private
        // memory only zero-fills it on next touch.
        unsafe {
            libc::madvise(
                self.base.get() as *mut libc::c_void,
                len,
                libc::MADV_DONTNEED,
            )
        };
    }
}

/// A P's cache of warm stacks. Owned by the P; only the M holding the P
/// touches it.
#[derive(Default)]
pub(crate) struct Cache {
    stacks: Vec<Stack>,
}

impl Cache {
    /// A stack for a goroutine about to run for the first time.
    pub(crate) fn get(&mut self, arena: &Arena) -> io::Result<Stack> {
        match self.stacks.pop() {
            Some(stack) => Ok(stack),
            None => arena.alloc(),
        }
    }

    /// Takes back the stack of an exited goroutine.
    pub(crate) fn put(&mut self, stack: Stack, arena: &Arena) {
        self.stacks.push(stack);
        if self.stacks.len() > CACHE_MAX {
            let cold = self.stacks.split_off(CACHE_MAX / 2);
            arena.free(cold);
        }
    }
}
