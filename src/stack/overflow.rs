//! Turning a fault in a guard page into `goroutine N has overflowed its stack`.
//!
//! 1. Once per process, [`install_handler`] installs a SIGSEGV/SIGBUS handler
//!    with `SA_ONSTACK`, remembering the handlers that were there before
//!    (std's own stack-overflow handler among them).
//! 2. Every M runs with an alternate signal stack ([`AltStack`]), since the
//!    goroutine stack that overflowed has no room left to run a handler on.
//! 3. The handler asks the M which goroutine it is running and where that
//!    goroutine's guard page is. A fault inside it prints the message and
//!    aborts; any other fault goes to the previous handler, exactly as if we
//!    had not been there.
//!
//! Everything the handler does is async-signal-safe: thread-local reads of
//! plain values, `write(2)` of a message formatted into a stack buffer, and
//! `abort(3)`.

use std::fmt::Write as _;
use std::mem::MaybeUninit;
use std::sync::Once;

/// Size of each M's alternate signal stack.
const ALT_STACK_BYTES: usize = 64 * 1024;

static INSTALL: Once = Once::new();
/// Handlers found at install time, for SIGSEGV and SIGBUS. Written once,
/// before our handler can run, then only read.
static mut PREVIOUS: [MaybeUninit<libc::sigaction>; 2] = [MaybeUninit::uninit(); 2];

/// Installs the fault handler once per process.
pub(crate) fn install_handler() {
    INSTALL.call_once(|| {
        for (i, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: we build a valid sigaction and pass valid pointers;
            // PREVIOUS[i] is written here only, inside call_once, before our
            // handler is installed for `sig`.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handle_fault as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let prev = (&raw mut PREVIOUS[i]).cast::<libc::sigaction>();
                libc::sigaction(sig, &action, prev);
            }
        }
    });
}

extern "C" fn handle_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(g) = crate::scheduler::running_stack() {
        if g.guard.contains(&addr) {
            report_overflow(g.id, g.size);
        }
    }
    // SAFETY: PREVIOUS was initialised before this handler was installed.
    unsafe { chain(sig, info, ctx) }
}

fn report_overflow(id: u64, size: usize) -> ! {
    let mut msg = FixedBuf::<256>::new();
    let size = if size.is_multiple_of(1024) {
        format_args!("{} KiB", size / 1024)
    } else {
        format_args!("{size} bytes")
    };
    let _ = writeln!(
        msg,
        "\ngoroutine {id} has overflowed its stack ({size}); raise it with Builder::stack_size"
    );
    // SAFETY: write(2) and abort(3) are async-signal-safe; the buffer is valid.
    unsafe {
        libc::write(2, msg.buf.as_ptr().cast(), msg.len);
        libc::abort()
    }
}

/// Hands a fault that is not ours to whoever handled it before.
///
/// # Safety
/// Must be called from the fault handler with the kernel's arguments.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let idx = if sig == libc::SIGSEGV { 0 } else { 1 };
    // SAFETY: initialised in install_handler and never written again.
    let prev = unsafe { &*(&raw const PREVIOUS[idx]).cast::<libc::sigaction>() };
    let handler = prev.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Restore the default and return: the faulting instruction runs again
        // and the kernel delivers the default action (a core dump).
        // SAFETY: a zeroed sigaction with SIG_DFL is valid.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        }
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was registered as a three-argument
        // handler; we call it as the kernel would have.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(sig, info, ctx)
        }
    } else {
        // SAFETY: a one-argument handler, called as the kernel would have.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(sig)
        }
    }
}

/// An alternate signal stack for the current thread, removed on drop.
pub(crate) struct AltStack {
    mem: usize,
    len: usize,
}

impl AltStack {
    /// Gives the calling thread an alternate signal stack, unless it has one.
    pub(crate) fn install() -> Option<AltStack> {
        let page = super::page_size();
        let len = ALT_STACK_BYTES + page;
        // SAFETY: querying the current alternate stack with a null new one.
        unsafe {
            let mut old: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(std::ptr::null(), &mut old);
            if old.ss_flags & libc::SS_DISABLE == 0 {
                return None;
            }
        }
        // SAFETY: fresh anonymous mapping; its lowest page becomes a guard so
        // a handler that overflows the alternate stack faults cleanly.
        let mem = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return None;
            }
            libc::mprotect(p, page, libc::PROT_NONE);
            p as usize
        };
        let st = libc::stack_t {
            ss_sp: (mem + page) as *mut libc::c_void,
            ss_flags: 0,
            ss_size: ALT_STACK_BYTES,
        };
        // SAFETY: `st` describes memory we own until drop.
        unsafe { libc::sigaltstack(&st, std::ptr::null_mut()) };
        Some(AltStack { mem, len })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let off = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disable the alternate stack before unmapping it; this runs
        // on the thread that installed it, outside any signal handler.
        unsafe {
            libc::sigaltstack(&off, std::ptr::null_mut());
            libc::munmap(self.mem as *mut libc::c_void, self.len);
        }
    }
}

/// A `fmt::Write` into a fixed array: formatting without allocating.
struct FixedBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FixedBuf<N> {
    fn new() -> Self {
        FixedBuf {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> std::fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
