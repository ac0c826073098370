//! `TcpListener` and `TcpStream`: std::net's shapes on non-blocking
//! sockets registered with the poller. A call that would block parks the
//! calling goroutine (or blocks the calling plain thread) until the socket
//! is ready; the M runs other goroutines meanwhile.
//!
//! Each type owns a [`PollFd`] around the std socket; everything that never
//! blocks (addresses, options, shutdown) is delegated to std.

use super::fd::PollFd;
use super::poll_desc::Dir;
use super::{each_addr, socket};
use crate::context::Context;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// A TCP socket server, listening for connections.
///
/// ```
/// use std::io::{Read, Write};
/// let echoed = goroutines::run(|| {
///     let listener = goroutines::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     goroutines::go(move || {
///         let (mut conn, _) = listener.accept().unwrap();
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).unwrap();
///         conn.write_all(&buf).unwrap();
///     });
///     let mut client = goroutines::net::TcpStream::connect(addr).unwrap();
///     client.write_all(b"hello").unwrap();
///     let mut reply = String::new();
///     client.read_to_string(&mut reply).unwrap();
///     reply
/// });
/// assert_eq!(echoed, "hello");
/// ```
pub struct TcpListener {
    inner: PollFd<std::net::TcpListener>,
}

/// Iterator over a listener's connections: [`TcpListener::incoming`].
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

/// A TCP connection. `Read` and `Write` are implemented for `TcpStream` and
/// `&TcpStream`, so one goroutine can read while another writes.
pub struct TcpStream {
    inner: PollFd<std::net::TcpStream>,
}

impl TcpListener {
    /// Binds to `addr` and listens, as `std::net::TcpListener::bind`: each
    /// resolved address is tried in turn. Sets `SO_REUSEADDR` (as std does
    /// on Unix). Name resolution blocks the calling thread (see the module
    /// docs of [`crate::net`]).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| TcpListener::bind_one(a, false))
    }

    /// As [`bind`](Self::bind), and also sets `SO_REUSEPORT` before binding,
    /// so several listeners (in this process or others) can bind the same
    /// address and the kernel spreads incoming connections across them.
    pub fn bind_reuseport<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| TcpListener::bind_one(a, true))
    }

    fn bind_one(addr: &SocketAddr, reuseport: bool) -> io::Result<TcpListener> {
        let fd = socket::socket(socket::RawAddr::family(addr), libc::SOCK_STREAM)?;
        socket::set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        if reuseport {
            socket::set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        socket::bind(&fd, &socket::RawAddr::from_ip(addr))?;
        socket::listen(&fd)?;
        Ok(TcpListener {
            inner: PollFd::new(std::net::TcpListener::from(fd))?,
        })
    }

    /// Takes over a std listener (any blocking mode; it is made
    /// non-blocking).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            inner: PollFd::new(listener)?,
        })
    }

    /// Accepts a connection, parking until one arrives.
    ///
    /// Out of descriptors (`EMFILE`/`ENFILE`), the error is returned and the
    /// connection stays in the kernel's backlog: the listener keeps working,
    /// and a later `accept` (once descriptors were freed) takes it.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self
            .inner
            .io(Dir::Read, |l| socket::accept(l.as_raw_fd()))?;
        let addr = addr.to_ip()?;
        Ok((TcpStream::from_fd(fd)?, addr))
    }

    /// As [`accept`](Self::accept), ending with `ctx`'s error (see
    /// [`context`](crate::context)) as soon as `ctx` is done, even while
    /// parked; at once if it is done already. The listener keeps working.
    pub fn accept_context(&self, ctx: &Context) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self
            .inner
            .io_context(Dir::Read, ctx, |l| socket::accept(l.as_raw_fd()))?;
        let addr = addr.to_ip()?;
        Ok((TcpStream::from_fd(fd)?, addr))
    }

    /// An endless iterator of accepted connections (`accept` in a loop).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// A second handle on the same socket (a `dup`), registered separately.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: PollFd::new(self.inner.get().try_clone()?)?,
        })
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of parking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl<'a> Iterator for Incoming<'a> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address in turn, as std
    /// does. The connect itself parks, never blocks an M; name resolution
    /// does block (see the module docs of [`crate::net`]).
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_one(a, None, None))
    }

    /// As [`connect`](Self::connect), giving up with `ctx`'s error (see
    /// [`context`](crate::context)) as soon as `ctx` is done; without trying
    /// if it is done already. Go's `Dialer.DialContext`.
    pub fn connect_context<A: ToSocketAddrs>(ctx: &Context, addr: A) -> io::Result<TcpStream> {
        if let Some(e) = ctx.err() {
            return Err(e.into());
        }
        each_addr(addr, |a| TcpStream::connect_one(a, None, Some(ctx)))
    }

    /// Connects to `addr`, failing with `TimedOut` after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_one(addr, Some(timeout), None)
    }

    fn connect_one(
        addr: &SocketAddr,
        timeout: Option<Duration>,
        ctx: Option<&Context>,
    ) -> io::Result<TcpStream> {
        // A context done while an earlier address was tried ends the search.
        if let Some(e) = ctx.and_then(Context::err) {
            return Err(e.into());
        }
        let fd = socket::socket(socket::RawAddr::family(addr), libc::SOCK_STREAM)?;
        let raw = socket::RawAddr::from_ip(addr);
        let started = socket::connect(&fd, &raw);
        let stream = TcpStream::from_fd(fd)?;
        match started {
            Ok(()) => return Ok(stream),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ));
            }
            stream.inner.wait_writable(left, ctx)?;
            if let Some(e) = stream.inner.get().take_error()? {
                return Err(e);
            }
            // Writable without an error: connected, unless the wake-up was
            // spurious (a stale event), which ENOTCONN reveals.
            match stream.inner.get().peer_addr() {
                Ok(_) => return Ok(stream),
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: PollFd::new(std::net::TcpStream::from(fd))?.tcp_stream(),
        })
    }

    /// Takes over a connected std stream (it is made non-blocking).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream {
            inner: PollFd::new(stream)?.tcp_stream(),
        })
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Shuts down reading, writing or both. A reader of the peer sees end
    /// of file after `Shutdown::Write`; a goroutine parked reading this
    /// stream wakes and reads end of file after `Shutdown::Read`.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get().shutdown(how)
    }

    /// A second handle on the same connection (a `dup`), registered
    /// separately. It starts with this handle's timeouts; each handle's
    /// timeouts change independently afterwards.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: self.inner.register_dup(self.inner.get().try_clone()?)?,
        })
    }

    /// Reads without removing the data from the queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |s| s.peek(buf))
    }

    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get().set_nodelay(nodelay)
    }

    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get().nodelay()
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// `SO_LINGER`. `Some(Duration::ZERO)` makes dropping the stream send a
    /// reset (RST) instead of a FIN.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        socket::set_linger(self.as_raw_fd(), linger)
    }

    pub fn linger(&self) -> io::Result<Option<Duration>> {
        socket::linger(self.as_raw_fd())
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// With `true`, reads and writes return `WouldBlock` instead of parking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }
}

super::impl_stream_io!(TcpStream);
super::impl_timeouts!(TcpStream, "read", "writes");
super::with_context::impl_context_io!(TcpStream);

super::impl_fd_traits!(TcpListener);
