//! What the first page of a goroutine stack costs this machine's kernel,
//! the floor under creating parked goroutines (each needs one).
//!
//! Maps a `MAP_NORESERVE` region of N slots spaced like the stack arena
//! (256 KiB + a guard page) and times, per slot: a first write to the top
//! page (a page fault), `MADV_POPULATE_WRITE` of that page (no fault, same
//! allocation), and `MADV_GUARD_INSTALL` of the guard page. Also one write
//! per page over a contiguous region, for comparison.
//!
//!     cargo bench --bench page_cost

use std::time::Instant;

const SLOT: usize = 256 * 1024 + 4096;
const SLOTS: usize = 100_000;
const PAGE: usize = 4096;
/// Ranges per `process_madvise` call (the kernel's `UIO_MAXIOV`).
const BATCH: usize = 1024;
const MADV_POPULATE_WRITE: libc::c_int = 23;
const MADV_GUARD_INSTALL: libc::c_int = 102;

struct Region {
    base: *mut u8,
    len: usize,
}

impl Region {
    fn new(len: usize) -> Region {
        // SAFETY: an anonymous private mapping with no address hint has no
        // preconditions; failure is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(
            base,
            libc::MAP_FAILED,
            "{}",
            std::io::Error::last_os_error()
        );
        Region {
            base: base.cast(),
            len,
        }
    }

    /// The address `offset` bytes in.
    fn at(&self, offset: usize) -> *mut u8 {
        assert!(offset < self.len);
        // SAFETY: within the mapping (checked above).
        unsafe { self.base.add(offset) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

fn per_slot(name: &str, slots: usize, mut f: impl FnMut(usize)) {
    let start = Instant::now();
    for i in 0..slots {
        f(i);
    }
    let ns = start.elapsed().as_nanos() as f64 / slots as f64;
    println!("{name:<42} {ns:>8.0} ns per slot");
}

fn main() {
    let top = |i: usize| i * SLOT + SLOT - PAGE;
    let r = Region::new(SLOTS * SLOT);
    per_slot("first write to a stack's top page", SLOTS, |i| {
        // SAFETY: within the mapping, writable.
        unsafe { r.at(top(i)).write_volatile(1) }
    });
    let r = Region::new(SLOTS * SLOT);
    let mut failed = 0;
    per_slot("MADV_POPULATE_WRITE of a stack's top page", SLOTS, |i| {
        // SAFETY: madvise on a page of our own mapping.
        failed += (unsafe { libc::madvise(r.at(top(i)).cast(), PAGE, MADV_POPULATE_WRITE) } != 0)
            as usize;
    });
    let r = Region::new(SLOTS * SLOT);
    let mut refused = 0;
    per_slot("MADV_GUARD_INSTALL of a guard page", SLOTS, |i| {
        // SAFETY: madvise on a page of our own mapping.
        refused += (unsafe { libc::madvise(r.at(i * SLOT).cast(), PAGE, MADV_GUARD_INSTALL) } != 0)
            as usize;
    });
    let r = Region::new(SLOTS * SLOT);
    let mut batch_refused = 0;
    // SAFETY: pidfd_open of our own pid has no preconditions; checked.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) } as libc::c_int;
    per_slot("the same, 1024 guards per process_madvise", SLOTS, |i| {
        if i % BATCH != 0 {
            return;
        }
        let iov: Vec<libc::iovec> = (i..(i + BATCH).min(SLOTS))
            .map(|j| libc::iovec {
                iov_base: r.at(j * SLOT).cast(),
                iov_len: PAGE,
            })
            .collect();
        // SAFETY: advice on pages of our own mapping, through our own pidfd;
        // `iov` lives across the call.
        let done = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                pidfd,
                iov.as_ptr(),
                iov.len(),
                MADV_GUARD_INSTALL,
                0,
            )
        };
        batch_refused += (done != (iov.len() * PAGE) as libc::c_long) as usize;
    });
    let r = Region::new(SLOTS * PAGE);
    per_slot("first write, contiguous pages", SLOTS, |i| {
        // SAFETY: within the mapping, writable.
        unsafe { r.at(i * PAGE).write_volatile(1) }
    });
    if failed + refused + batch_refused > 0 {
        println!(
            "(populate failed {failed} times, guard install refused {refused} times, \
             batched {batch_refused} times)"
        );
    }
}
