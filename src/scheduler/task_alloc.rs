//! Memory for goroutines: the allocation behind each G (`g.rs`'s
//! `Task<F, T>`) and its join cell (`join_cell.rs`), recycled by size class.
//!
//! Spawning a goroutine allocates both; exiting frees the G, and dropping
//! the handle (or exiting, if the handle went first) frees the cell, so
//! this sits on the hottest path of a spawn-heavy program. Going through
//! the global allocator there cost a page fault every ~30 goroutines and,
//! on non-main threads, glibc growing its arena with an `mprotect` call
//! every 128 KiB. Instead:
//!
//! * Blocks come in nine size classes up to 1 KiB: 48 bytes (16-byte
//!   aligned: a join cell with a word-sized result), then 64-byte aligned
//!   classes from 64. Larger or more-aligned layouts use the global
//!   allocator.
//! * Memory comes from 4 MiB chunks, handed to threads 64 KiB at a time,
//!   and each 64 KiB is populated with one `MADV_POPULATE_WRITE` call
//!   rather than sixteen page faults. (Huge pages were tried: with the
//!   kernel's `defrag=madvise` default, faulting one in could stall the
//!   spawning goroutine for 10-20 ms of compaction.)
//! * Each thread keeps a bump region and per-class free lists; a list that
//!   grows past [`CACHE_MAX`] hands half to the global lists, and a thread
//!   that exits hands all of it back. A thread whose list is empty takes a
//!   batch from the global list before it bumps, so blocks freed on one
//!   thread (goroutines exit where they run) are reused by another (where
//!   they were spawned) rather than fresh memory being touched.
//! * Memory is never returned to the OS (like Go's G structs): a program's
//!   peak number of live goroutines sets what it keeps.
//!
//! Thread-locals are touched only inside the two never-inlined entry points,
//! so a goroutine that migrates (Go mode) never reuses another thread's
//! cache address across a park.

use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `MADV_POPULATE_WRITE` (Linux 5.14); libc does not name it everywhere.
const MADV_POPULATE_WRITE: libc::c_int = 23;

const CLASSES: [usize; 9] = [48, 64, 128, 192, 256, 384, 512, 768, 1024];
const ALIGN: usize = 64;
/// The alignment of the classes that are not multiples of [`ALIGN`].
const SMALL_ALIGN: usize = 16;

/// How many blocks each class has on the global lists, read without the
/// lock to skip it when there are none.
static GLOBAL_FREE: [AtomicUsize; CLASSES.len()] = [const { AtomicUsize::new(0) }; CLASSES.len()];

const CHUNK: usize = 4 << 20;
/// Bytes a thread takes from a chunk at once for bump allocation.
const SLAB: usize = 64 << 10;
/// Blocks per class a thread keeps before giving half back.
const CACHE_MAX: usize = 512;

struct Global {
    /// Unused rest of the current chunk: [next, end).
    next: usize,
    end: usize,
    free: [Vec<usize>; CLASSES.len()],
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    next: 0,
    end: 0,
    free: [const { Vec::new() }; CLASSES.len()],
});

fn global() -> std::sync::MutexGuard<'static, Global> {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Cache {
    next: usize,
    end: usize,
    free: [Vec<usize>; CLASSES.len()],
}

impl Drop for Cache {
    fn drop(&mut self) {
        let mut g = global();
        for (class, mine) in self.free.iter_mut().enumerate() {
            give_back(&mut g, class, mine);
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache { next: 0, end: 0, free: [const { Vec::new() }; CLASSES.len()] })
    };
}

fn class_align(class: usize) -> usize {
    if CLASSES[class].is_multiple_of(ALIGN) {
        ALIGN
    } else {
        SMALL_ALIGN
    }
}

fn class_of(layout: Layout) -> Option<usize> {
    (0..CLASSES.len()).find(|&c| layout.size() <= CLASSES[c] && layout.align() <= class_align(c))
}

/// Moves up to `n` blocks of `class` from the global list to `to`.
fn refill(g: &mut Global, class: usize, n: usize, to: &mut Vec<usize>) {
    let n = g.free[class].len().min(n);
    let at = g.free[class].len() - n;
    to.extend(g.free[class].drain(at..));
    GLOBAL_FREE[class].store(g.free[class].len(), Ordering::Relaxed);
}

/// Adds blocks of `class` to the global list.
fn give_back(g: &mut Global, class: usize, blocks: &mut Vec<usize>) {
    g.free[class].append(blocks);
    GLOBAL_FREE[class].store(g.free[class].len(), Ordering::Relaxed);
}

/// Allocates memory for `layout` (non-zero size).
#[inline(never)]
pub(crate) fn alloc(layout: Layout) -> *mut u8 {
    let Some(class) = class_of(layout) else {
        // SAFETY: Task layouts have non-zero size.
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        return p;
    };
    let from_cache = CACHE.try_with(|c| {
        let mut c = c.borrow_mut();
        if let Some(p) = c.free[class].pop() {
            return p;
        }
        // Prefer recycled blocks of this class to fresh memory.
        if GLOBAL_FREE[class].load(Ordering::Relaxed) > 0 {
            refill(&mut global(), class, CACHE_MAX / 2, &mut c.free[class]);
            if let Some(p) = c.free[class].pop() {
                return p;
            }
        }
        let size = CLASSES[class];
        let mut start = c.next.next_multiple_of(class_align(class));
        if start + size > c.end {
            let (next, end) = carve(&mut global(), SLAB);
            c.end = end;
            start = next;
        }
        c.next = start + size;
        start
    });
    match from_cache {
        Ok(p) => p as *mut u8,
        // Thread teardown: go straight to the global lists.
        Err(_) => {
            let mut g = global();
            let mut one = Vec::new();
            refill(&mut g, class, 1, &mut one);
            match one.pop() {
                Some(p) => p as *mut u8,
                None => carve(&mut g, CLASSES[class]).0 as *mut u8,
            }
        }
    }
}

/// Frees memory from [`alloc`] with the same layout.
///
/// # Safety
/// `p` must come from `alloc(layout)` and not be used afterwards.
#[inline(never)]
pub(crate) unsafe fn dealloc(p: *mut u8, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: per the caller's contract, from std::alloc::alloc.
        unsafe { std::alloc::dealloc(p, layout) };
        return;
    };
    let cached = CACHE.try_with(|c| {
        let mut c = c.borrow_mut();
        c.free[class].push(p as usize);
        if c.free[class].len() > CACHE_MAX {
            let mut half = c.free[class].split_off(CACHE_MAX / 2);
            give_back(&mut global(), class, &mut half);
        }
    });
    if cached.is_err() {
        give_back(&mut global(), class, &mut vec![p as usize]);
    }
}

/// Takes `len` bytes from the current chunk, mapping a new one if needed.
fn carve(g: &mut Global, len: usize) -> (usize, usize) {
    // Keeps the chunk's cursor, and so every slab, ALIGN-aligned.
    let len = len.next_multiple_of(ALIGN);
    if g.end - g.next < len {
        // SAFETY: a fresh anonymous private mapping aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CHUNK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::alloc::handle_alloc_error(Layout::from_size_align(CHUNK, ALIGN).expect("valid"));
        }
        g.next = p as usize;
        g.end = p as usize + CHUNK;
    }
    let start = g.next;
    g.next += len;
    if len >= SLAB {
        // SAFETY: advice on part of our own mapping; on kernels before 5.14
        // it fails with EINVAL and the pages fault in one by one instead.
        unsafe { libc::madvise(start as *mut libc::c_void, len, MADV_POPULATE_WRITE) };
    }
    (start, start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_recycled_by_class() {
        let l = Layout::from_size_align(100, 8).unwrap();
        let a = alloc(l);
        let b = alloc(l);
        assert_ne!(a, b);
        assert_eq!(a as usize % ALIGN, 0);
        assert_eq!(b as usize % ALIGN, 0);
        // SAFETY: both came from alloc(l).
        unsafe { dealloc(b, l) };
        assert_eq!(alloc(l), b, "a freed block of the class is reused first");
        let big = Layout::from_size_align(4096, 8).unwrap();
        let c = alloc(big);
        // SAFETY: from alloc(big).
        unsafe { dealloc(c, big) };
    }
}
