//! The network poller: one edge-triggered epoll instance per process, the
//! cache of [`PollDesc`]s it points into, and (for now) the thread that
//! services it.
//!
//! Why direct `libc` epoll rather than `mio` or `rustix`: libc is already a
//! dependency; the poller needs exactly five calls (epoll_create1,
//! epoll_ctl, epoll_wait, eventfd, read/write); and mio's `Poll::poll`
//! takes `&mut self`, whereas the scheduler integration below wants several
//! Ms to poll the same instance concurrently (non-blocking from
//! `find_runnable`, blocking from one idle M), which epoll_wait allows.
//!
//! Registration: every socket is added once, when it is created, for
//! `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`. Edge-triggered: the kernel
//! reports a change once, and the `PollDesc` slot remembers it (READY)
//! until a waiter consumes it, so readiness is never lost and level
//! re-reporting never costs a wake-up. `epoll_ctl(ADD)` reports the state
//! at registration, so a connect that finished before it is seen.
//!
//! Event data: the `PollDesc`'s address in the low 48 bits (user-space
//! addresses on x86_64 fit in 47), its `seq` in the high 16. 0 is the
//! eventfd. `PollDesc`s are never freed (Go's pollcache does the same), so
//! an event that arrives after its socket was closed points at valid memory
//! and is dropped by the seq check, or at worst causes a spurious retry.
//!
//! Who services it: the scheduler (`scheduler/netpoll.rs`, as Go's
//! netpoll). Ms call [`Poller::poll`]`(Some(ZERO))` before stealing, the
//! idle timer sleeper blocks in `poll(next timer deadline)` instead of on its
//! futex, and [`Poller::wake`] (the eventfd) interrupts it when it is handed
//! a P, kicked, or an earlier timer arrives. `poll` is safe to call from
//! several threads at once. Creating the poller makes sure some runtime
//! exists, so sockets used only from plain threads are serviced too.

use super::poll_desc::PollDesc;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering::*;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const EVENTFD_TOKEN: u64 = 0;
const ADDR_MASK: u64 = (1 << 48) - 1;
/// Events taken per epoll_wait.
const BATCH: usize = 256;
/// PollDescs allocated at once when the cache is empty.
const CHUNK: usize = 128;

/// The process's poller.
pub(crate) struct Poller {
    epoll: OwnedFd,
    /// Written to interrupt a blocked `poll`; registered edge-triggered.
    eventfd: OwnedFd,
    /// Free PollDescs. Protected by its mutex. PollDescs are leaked, so
    /// `&'static` references to them stay valid after they are freed.
    free: Mutex<Vec<&'static PollDesc>>,
}

static POLLER: OnceLock<Poller> = OnceLock::new();
/// Serialises creation so that a failed attempt (say EMFILE) can be
/// retried later rather than being cached forever.
static INIT: Mutex<()> = Mutex::new(());

/// How many goroutines or threads are parked on the poller right now (Go's
/// `netpollWaiters`). For the deadlock check: while it is non-zero, a
/// network event may still wake a goroutine. SeqCst; see `IO_WAITERS`.
pub(crate) fn waiters() -> usize {
    super::poll_desc::IO_WAITERS.load(std::sync::atomic::Ordering::SeqCst)
}

impl Poller {
    /// The process's poller if a socket was ever registered, else `None`
    /// (for the scheduler: nothing to poll before that).
    pub(crate) fn started() -> Option<&'static Poller> {
        POLLER.get()
    }

    /// The process's poller, created (with its thread) on first use.
    pub(crate) fn get() -> io::Result<&'static Poller> {
        if let Some(p) = POLLER.get() {
            return Ok(p);
        }
        let _init = INIT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = POLLER.get() {
            return Ok(p);
        }
        let poller = Poller::new()?;
        let poller = POLLER.get_or_init(|| poller);
        // The scheduler services the poller (scheduler/netpoll.rs): make
        // sure a runtime exists even when only plain threads use sockets.
        crate::runtime::ensure_a_runtime();
        Ok(poller)
    }

    fn new() -> io::Result<Poller> {
        // SAFETY: epoll_create1 has no memory preconditions.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor nobody else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(ep) };
        // SAFETY: eventfd has no memory preconditions.
        let ev = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if ev < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor nobody else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(ev) };
        let poller = Poller {
            epoll,
            eventfd,
            free: Mutex::new(Vec::new()),
        };
        poller.ctl(
            libc::EPOLL_CTL_ADD,
            poller.eventfd.as_raw_fd(),
            libc::EPOLLIN | libc::EPOLLET,
            EVENTFD_TOKEN,
        )?;
        Ok(poller)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: libc::c_int, data: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: data,
        };
        // SAFETY: `ev` is a live epoll_event; the kernel copies it.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Registers `fd` for both directions, edge-triggered; returns its
    /// PollDesc. On error nothing stays allocated or registered.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<&'static PollDesc> {
        let pd = self.alloc();
        pd.reset(fd);
        let seq = pd.seq.load(Relaxed) as u64 & 0xffff;
        let data = (pd as *const PollDesc).expose_provenance() as u64 | (seq << 48);
        let events = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        if let Err(e) = self.ctl(libc::EPOLL_CTL_ADD, fd, events, data) {
            self.release(pd);
            return Err(e);
        }
        Ok(pd)
    }

    /// Removes `fd` (still open) from the epoll set. The caller closed its
    /// desc (`PollDesc::close`) and holds both op locks, so no operation is
    /// in flight; it frees the desc with `release` once `fd` is closed.
    pub(crate) fn deregister(&self, fd: RawFd) {
        // An error (the fd was closed behind our back) leaves nothing to
        // remove: the kernel drops a closed file's registration itself.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    fn alloc(&self) -> &'static PollDesc {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pd) = free.pop() {
            return pd;
        }
        let chunk: &'static [PollDesc] = Box::leak((0..CHUNK).map(|_| PollDesc::new()).collect());
        free.extend(chunk[1..].iter());
        &chunk[0]
    }

    /// Returns `pd` to the cache. Events still in flight for it are
    /// dropped by the seq check (or cause one spurious retry).
    pub(crate) fn release(&self, pd: &'static PollDesc) {
        pd.seq.fetch_add(1, Relaxed);
        pd.fd.store(-1, Relaxed);
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(pd);
    }

    /// epoll_pwait2, whose timeout is a timespec, so that a timer due in
    /// 300 µs is waited for 300 µs rather than epoll_wait's rounded-up
    /// millisecond (with a goroutine waiting on the network, the idle M
    /// sleeps here, and every sub-millisecond sleep overslept to the next
    /// millisecond: measured 1,009 µs late for `sleep(100 µs)`). Kernels
    /// before 5.11, and seccomp profiles that do not know the call, answer
    /// ENOSYS or EPERM: then epoll_wait, rounding up, for good.
    fn wait(&self, events: &mut [libc::epoll_event; BATCH], timeout: Option<Duration>) -> i32 {
        static NO_PWAIT2: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !NO_PWAIT2.load(Relaxed) {
            let spec = timeout.map(crate::scheduler::park::timespec);
            let spec_ptr = spec
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: `events` is writable for BATCH entries; `spec_ptr` is
            // null (block) or points at a live timespec; no signal mask.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    BATCH as libc::c_int,
                    spec_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            } as i32;
            let unsupported = n < 0
                && matches!(
                    io::Error::last_os_error().raw_os_error(),
                    Some(libc::ENOSYS | libc::EPERM)
                );
            if !unsupported {
                return n;
            }
            NO_PWAIT2.store(true, Relaxed);
        }
        let ms = match timeout {
            None => -1,
            // Round up, so a sub-millisecond timeout does not spin.
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
        };
        // SAFETY: `events` is writable for BATCH entries.
        unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                BATCH as libc::c_int,
                ms,
            )
        }
    }

    /// Waits up to `timeout` (`None`: forever; zero: just look) for events
    /// and wakes the waiters they make ready. Returns how many waiters it
    /// woke. Callable from several threads at once.
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> usize {
        self.poll_then(timeout, || {})
    }

    /// As [`poll`](Self::poll), running `before_wakes` once the wait has
    /// returned a descriptor's event and before any waiter is woken (the
    /// scheduler's M takes a P there, so that the wake-ups queue on it).
    pub(crate) fn poll_then(
        &self,
        timeout: Option<Duration>,
        before_wakes: impl FnOnce(),
    ) -> usize {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        let n = self.wait(&mut events, timeout);
        if n <= 0 {
            // 0: timed out; -1: EINTR (nothing else can fail on a valid
            // epoll fd and buffer).
            return 0;
        }
        if events[..n as usize]
            .iter()
            .any(|ev| ev.u64 != EVENTFD_TOKEN)
        {
            before_wakes();
        }
        let mut woken = 0;
        for ev in &events[..n as usize] {
            let data = ev.u64;
            if data == EVENTFD_TOKEN {
                self.drain_eventfd();
                continue;
            }
            let addr = (data & ADDR_MASK) as usize;
            let seq = (data >> 48) as u32;
            // SAFETY: every non-zero event datum is a PollDesc address we
            // registered, exposed in `register`; PollDescs are never freed.
            let pd = unsafe { &*std::ptr::with_exposed_provenance::<PollDesc>(addr) };
            if pd.seq.load(Relaxed) & 0xffff != seq {
                continue; // an event for the desc's previous owner
            }
            let flags = ev.events as libc::c_int;
            let err = flags & (libc::EPOLLERR | libc::EPOLLHUP) != 0;
            let readable = err || flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI) != 0;
            let writable = err || flags & libc::EPOLLOUT != 0;
            if err || flags & (libc::EPOLLRDHUP | libc::EPOLLPRI) != 0 {
                // Before the readiness is recorded: see `read_final`.
                pd.read_final.store(true, SeqCst);
            }
            woken += pd.notify(readable, writable);
        }
        woken
    }

    /// Interrupts a `poll` blocked in epoll_wait (or makes the next one
    /// return at once). For the scheduler integration; see the module docs.
    pub(crate) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64. EAGAIN (counter full) is
        // fine: a wake-up is pending anyway.
        unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            )
        };
    }

    fn drain_eventfd(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN is fine.
        unsafe {
            libc::read(
                self.eventfd.as_raw_fd(),
                &mut buf as *mut u64 as *mut libc::c_void,
                8,
            )
        };
    }
}
