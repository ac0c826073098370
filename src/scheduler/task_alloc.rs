//! Memory for goroutines: the one allocation behind each G (`g.rs`'s
//! `Task<F, T>`), recycled by size class.
//!
//! Spawning a goroutine allocates and exiting it (well, dropping its last
//! reference) frees, so this sits on the hottest path of a spawn-heavy
//! program. Going through the global allocator there cost a page fault every
//! ~30 goroutines and, on non-main threads, glibc growing its arena with an
//! `mprotect` call every 128 KiB. Instead:
//!
//! * Blocks come in eight size classes up to 1 KiB, 64-byte aligned.
//!   Larger or more-aligned tasks use the global allocator.
//! * Memory comes from 4 MiB chunks, handed to threads 64 KiB at a time,
//!   and each 64 KiB is populated with one `MADV_POPULATE_WRITE` call
//!   rather than sixteen page faults. (Huge pages were tried: with the
//!   kernel's `defrag=madvise` default, faulting one in could stall the
//!   spawning goroutine for 10-20 ms of compaction.)
//! * Each thread keeps a bump region and per-class free lists; a list that
//!   grows past [`CACHE_MAX`] hands half to the global lists, and a thread
//!   that exits hands all of it back.
//! * Memory is never returned to the OS (like Go's G structs): a program's
//!   peak number of live goroutines sets what it keeps.
//!
//! Thread-locals are touched only inside the two never-inlined entry points,
//! so a goroutine that migrates (Go mode) never reuses another thread's
//! cache address across a park.

use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::Mutex;

/// `MADV_POPULATE_WRITE` (Linux 5.14); libc does not name it everywhere.
const MADV_POPULATE_WRITE: libc::c_int = 23;

const CLASSES: [usize; 8] = [64, 128, 192, 256, 384, 512, 768, 1024];
const ALIGN: usize = 64;
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
        for (mine, theirs) in self.free.iter_mut().zip(g.free.iter_mut()) {
            theirs.append(mine);
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache { next: 0, end: 0, free: [const { Vec::new() }; CLASSES.len()] })
    };
}

fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN {
        return None;
    }
    CLASSES.iter().position(|&c| layout.size() <= c)
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
        let size = CLASSES[class];
        if c.end - c.next < size {
            let mut g = global();
            // Prefer recycled blocks of this class.
            let n = g.free[class].len().min(CACHE_MAX / 2);
            if n > 0 {
                let at = g.free[class].len() - n;
                let batch: Vec<usize> = g.free[class].drain(at..).collect();
                drop(g);
                c.free[class].extend(batch);
                return c.free[class].pop().expect("refilled");
            }
            let (next, end) = carve(&mut g, SLAB);
            c.next = next;
            c.end = end;
        }
        let p = c.next;
        c.next += size;
        p
    });
    match from_cache {
        Ok(p) => p as *mut u8,
        // Thread teardown: go straight to the global lists.
        Err(_) => {
            let mut g = global();
            if let Some(p) = g.free[class].pop() {
                return p as *mut u8;
            }
            carve(&mut g, CLASSES[class]).0 as *mut u8
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
            let half = c.free[class].split_off(CACHE_MAX / 2);
            global().free[class].extend(half);
        }
    });
    if cached.is_err() {
        global().free[class].push(p as usize);
    }
}

/// Takes `len` bytes from the current chunk, mapping a new one if needed.
fn carve(g: &mut Global, len: usize) -> (usize, usize) {
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
