//! `PollFd<S>`: a std socket `S`, switched to non-blocking mode and
//! registered with the poller, plus the loop every blocking-looking
//! operation runs: try the syscall; on `EAGAIN` park on the poller until
//! the direction is ready, the timeout passes or the socket is closed;
//! retry.
//!
//! Timeouts follow std's `set_read_timeout`: each operation may wait at
//! most that long for readiness, counted from its first `EAGAIN`. Time spent
//! waiting for another goroutine's operation in the same direction (the
//! op lock) is not counted. A timed-out operation fails with the error std
//! gives on Linux: `EAGAIN`, kind `WouldBlock`.
//!
//! With a [`Context`] (`io_context`), an operation also ends as soon as the
//! context is done, with the context's error (`TimedOut` for a passed
//! deadline, `Other` for a cancel): the context's cancellation expires the
//! parked wait as a deadline would (`poll_desc.rs`). Nothing else changes,
//! so the socket is as usable afterwards as after a timeout. Waiting for
//! the op lock (another operation in the same direction) is not cut short.
//!
//! Close (drop): mark the PollDesc closing and wake its waiters with an
//! error, take both op locks (so no operation is in flight), deregister
//! from epoll, then close the descriptor, then free the PollDesc. In safe
//! code nobody can be waiting, since drop needs ownership; the order still
//! matters for a stale event racing the close (see `poller.rs`).

use super::poll_desc::{self, Dir, PollDesc, Wait};
use super::poller::Poller;
use crate::context::Context;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::AsRawFd;
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::time::{Duration, Instant};

/// `timeout` value meaning "no timeout".
const NO_TIMEOUT: u64 = 0;

pub(crate) struct PollFd<S: AsRawFd> {
    /// Dropped by hand in `drop`, after deregistration and before the
    /// PollDesc is freed.
    sock: ManuallyDrop<S>,
    pd: &'static PollDesc,
    /// Nanoseconds, NO_TIMEOUT for none. Relaxed: like `SO_RCVTIMEO`, a
    /// setting read at the start of each operation, ordered with nothing.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
    /// `set_nonblocking(true)`: return `WouldBlock` instead of parking.
    /// Relaxed, as above.
    nonblocking: AtomicBool,
    /// A TCP stream: a short read proves the receive queue empty, so the
    /// short-read rule of [`read_stream`](Self::read_stream) applies. Not
    /// for Unix streams: a read there also stops after a message that
    /// carried descriptors (`SCM_RIGHTS`) or, with `SO_PASSCRED`, between
    /// two writers' messages, leaving data that no new edge announces.
    short_read_drains: bool,
}

impl<S: AsRawFd> PollFd<S> {
    /// Registers `sock`, which must already be non-blocking.
    pub(crate) fn new(sock: S) -> io::Result<PollFd<S>> {
        let pd = Poller::get()?.register(sock.as_raw_fd())?;
        Ok(PollFd {
            sock: ManuallyDrop::new(sock),
            pd,
            read_timeout: AtomicU64::new(NO_TIMEOUT),
            write_timeout: AtomicU64::new(NO_TIMEOUT),
            nonblocking: AtomicBool::new(false),
            short_read_drains: false,
        })
    }

    /// Marks this a TCP stream; see `short_read_drains`.
    pub(crate) fn tcp_stream(mut self) -> PollFd<S> {
        self.short_read_drains = true;
        self
    }

    pub(crate) fn get(&self) -> &S {
        &self.sock
    }

    /// Registers `dup`, a `dup` of this socket, as a handle of its own that
    /// starts with this handle's timeouts (std's `try_clone` shares
    /// `SO_RCVTIMEO` through the kernel; ours live here, so they are
    /// copied). The non-blocking flag is not copied: std's is a property of
    /// the open file, ours of the handle, and a clone starts blocking.
    pub(crate) fn register_dup(&self, dup: S) -> io::Result<PollFd<S>> {
        let mut clone = PollFd::new(dup)?;
        clone.short_read_drains = self.short_read_drains;
        clone.set_timeout(Dir::Read, self.read_timeout())?;
        clone.set_timeout(Dir::Write, self.write_timeout())?;
        Ok(clone)
    }

    /// Runs `op` until it does not return `WouldBlock`, parking on the
    /// poller for `dir` in between. See the module docs.
    pub(crate) fn io<R>(&self, dir: Dir, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        let timeout = self.timeout(dir);
        self.io_until(dir, timeout, op)
    }

    /// As [`io`](Self::io), with an explicit per-operation timeout.
    pub(crate) fn io_until<R>(
        &self,
        dir: Dir,
        timeout: Option<Duration>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_inner(dir, timeout, None, None, op, |_| 0)
    }

    /// As [`io`](Self::io), ending early with `ctx`'s error once it is done
    /// (without trying `op` if it already is). See the module docs.
    pub(crate) fn io_context<R>(
        &self,
        dir: Dir,
        ctx: &Context,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        if let Some(e) = ctx.err() {
            return Err(e.into());
        }
        let timeout = self.timeout(dir);
        self.io_inner(dir, timeout, Some(ctx), None, op, |_| 0)
    }

    /// A read from a stream socket into `len` bytes (`op` is the `read`).
    /// As [`io_context`](Self::io_context) (`ctx` may be `None`), plus, for
    /// a TCP stream, the short-read rule: a read that returns fewer bytes
    /// than asked for, but some, emptied the receive queue, so the next read
    /// may go straight to waiting for the poller's next edge instead of
    /// first paying for a syscall that would fail with `EAGAIN`.
    ///
    /// tokio always does so; here it is adaptive, per socket
    /// (`Half::skip_read`): the next read skips its syscall only while such
    /// syscalls have failed more than 4 times in 5 lately, and a probe
    /// every 8th (backing off to every 64th while probes find nothing)
    /// tries it anyway to keep the record current. Under `wrk`, 87% of them
    /// fail (the client's next request comes a round trip later); with
    /// blocking clients that the server's write wakes on the same CPU
    /// (`tcp_echo`), 78% find the next message already there, and skipping
    /// them sent those through a park and the poller: echo lost 20% when
    /// the skip was unconditional.
    ///
    /// Why no data is missed: the direction's recorded readiness is cleared
    /// just *before* each syscall (`Half::clear_ready`), so any edge the
    /// poller reports after that is kept, and one it reported before was
    /// caused by data the syscall then saw. A short read can still stop in
    /// front of something the kernel holds (the end of the stream, an
    /// error, the urgent mark); all three come with an event that sets
    /// `read_final`, after which reads on this socket always try the
    /// syscall first. A handle in non-blocking mode always tries it too: it
    /// must not answer `WouldBlock` for data the poller has not reported yet.
    pub(crate) fn read_stream(
        &self,
        len: usize,
        ctx: Option<&Context>,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if let Some(e) = ctx.and_then(Context::err) {
            return Err(e.into());
        }
        let timeout = self.timeout(Dir::Read);
        let read_len = self.short_read_drains.then_some(len);
        self.io_inner(Dir::Read, timeout, ctx, read_len, op, |&n| n)
    }

    /// The loop of the module docs. `read_len` is `Some` for a stream read
    /// into that many bytes (see [`read_stream`](Self::read_stream)); then
    /// `bytes` gives the count a result read.
    fn io_inner<R>(
        &self,
        dir: Dir,
        timeout: Option<Duration>,
        ctx: Option<&Context>,
        read_len: Option<usize>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        bytes: impl Fn(&R) -> usize,
    ) -> io::Result<R> {
        // An operation that never has to wait would otherwise never yield:
        // honour sysmon's time-slice request here, before taking the lock.
        crate::scheduler::m::preempt_point();
        let half = self.pd.half(dir);
        let _op = half.op.lock();
        let nonblocking = self.nonblocking.load(Relaxed);
        let mut deadline: Option<Instant> = None;
        // Skip the first syscall after a short read (see `read_stream`),
        // if such syscalls have mostly failed lately; else learn from it.
        let after_short = read_len.is_some()
            && !nonblocking
            && half.drained.load(Relaxed)
            && !self.pd.read_final.load(SeqCst);
        let mut wait_first = after_short && half.skip_read();
        let mut learn = after_short && !wait_first;
        if read_len.is_none() && dir == Dir::Read {
            // Any other reading operation (a peek) may consume readiness
            // without emptying the queue: the next read must try first.
            half.drained.store(false, Relaxed);
        }
        loop {
            if self.pd.is_closing() {
                return Err(poll_desc::closed_error());
            }
            if !wait_first {
                if read_len.is_some() {
                    half.clear_ready();
                }
                match op(&self.sock) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if std::mem::take(&mut learn) {
                            half.record_after_short_read(true);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => {
                        if let Some(len) = read_len {
                            let n = r.as_ref().map_or(0, &bytes);
                            if learn && n > 0 {
                                half.record_after_short_read(false);
                            }
                            half.drained.store(n > 0 && n < len, Relaxed);
                        }
                        return r;
                    }
                }
                if nonblocking {
                    return Err(io::Error::from_raw_os_error(libc::EAGAIN));
                }
            }
            wait_first = false;
            if deadline.is_none() {
                deadline =
                    timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future));
            }
            match self.pd.wait_context(dir, deadline, ctx) {
                Wait::Ready => {}
                Wait::TimedOut => {
                    half.drained.store(false, Relaxed);
                    // The context's error wins over the socket's timeout.
                    return Err(match ctx.and_then(Context::err) {
                        Some(e) => e.into(),
                        None => io::Error::from_raw_os_error(libc::EAGAIN),
                    });
                }
                Wait::Closed => return Err(poll_desc::closed_error()),
            }
        }
    }

    /// Waits until the socket is writable (a connect finished), without a
    /// syscall first: for `connect`, whose `EINPROGRESS` is the `EAGAIN`.
    /// With `ctx`, also ends with its error once it is done.
    pub(crate) fn wait_writable(
        &self,
        timeout: Option<Duration>,
        ctx: Option<&Context>,
    ) -> io::Result<()> {
        let _op = self.pd.write.op.lock();
        let deadline = timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future));
        match self.pd.wait_context(Dir::Write, deadline, ctx) {
            Wait::Ready => Ok(()),
            Wait::TimedOut => Err(match ctx.and_then(Context::err) {
                Some(e) => e.into(),
                None => io::Error::new(io::ErrorKind::TimedOut, "connection timed out"),
            }),
            Wait::Closed => Err(poll_desc::closed_error()),
        }
    }

    fn timeout(&self, dir: Dir) -> Option<Duration> {
        let t = match dir {
            Dir::Read => &self.read_timeout,
            Dir::Write => &self.write_timeout,
        };
        match t.load(Relaxed) {
            NO_TIMEOUT => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// std's `set_read_timeout`/`set_write_timeout`: zero is an error.
    pub(crate) fn set_timeout(&self, dir: Dir, d: Option<Duration>) -> io::Result<()> {
        let ns = match d {
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            Some(d) => d.as_nanos().clamp(1, u64::MAX as u128) as u64,
            None => NO_TIMEOUT,
        };
        match dir {
            Dir::Read => self.read_timeout.store(ns, Relaxed),
            Dir::Write => self.write_timeout.store(ns, Relaxed),
        }
        Ok(())
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.timeout(Dir::Read)
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        self.timeout(Dir::Write)
    }

    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Relaxed);
    }
}

/// A deadline for a timeout too long for `Instant`: about a century.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl<S: AsRawFd> Drop for PollFd<S> {
    fn drop(&mut self) {
        self.pd.close();
        let ops = (self.pd.read.op.lock(), self.pd.write.op.lock());
        // A PollFd exists only once the poller does.
        let poller = Poller::get().expect("the poller outlives its sockets");
        poller.deregister(self.sock.as_raw_fd());
        drop(ops);
        // SAFETY: dropped once, here, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.sock) };
        poller.release(self.pd);
    }
}

impl<S: AsRawFd + std::fmt::Debug> std::fmt::Debug for PollFd<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.sock.fmt(f)
    }
}
