//! `UnixListener` and `UnixStream`: std::os::unix::net's shapes on
//! non-blocking Unix stream sockets registered with the poller.
//!
//! Paths only: abstract-namespace addresses are not supported yet. A
//! non-blocking Unix connect to a listener whose backlog is full fails with
//! `EAGAIN` and no readiness event follows, so `connect` retries after a
//! short sleep (parking a goroutine), doubling up to 50 ms, where std's
//! blocking connect would wait in the kernel.

use super::fd::PollFd;
use super::poll_desc::Dir;
use super::socket;
use crate::chan::RecvTimeoutError;
use crate::context::Context;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// A Unix stream socket server.
pub struct UnixListener {
    inner: PollFd<std::os::unix::net::UnixListener>,
}

/// Iterator over a listener's connections: [`UnixListener::incoming`].
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

/// A Unix stream connection. `Read` and `Write` are implemented for
/// `UnixStream` and `&UnixStream`.
pub struct UnixStream {
    inner: PollFd<std::os::unix::net::UnixStream>,
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let addr = socket::RawAddr::from_path(path.as_ref())?;
        let fd = socket::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        socket::bind(&fd, &addr)?;
        socket::listen(&fd)?;
        Ok(UnixListener {
            inner: PollFd::new(std::os::unix::net::UnixListener::from(fd))?,
        })
    }

    /// Takes over a std listener (it is made non-blocking).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            inner: PollFd::new(listener)?,
        })
    }

    /// Accepts a connection, parking until one arrives. Out of descriptors,
    /// the error is returned and the listener keeps working (see
    /// `TcpListener::accept`).
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, _) = self
            .inner
            .io(Dir::Read, |l| socket::accept(l.as_raw_fd()))?;
        let stream = UnixStream::from_fd(fd)?;
        // std cannot build a SocketAddr from raw parts; ask the kernel.
        let addr = stream.inner.get().peer_addr()?;
        Ok((stream, addr))
    }

    /// As [`accept`](Self::accept), ending with `ctx`'s error (see
    /// [`context`](crate::context)) as soon as `ctx` is done, even while
    /// parked; at once if it is done already. The listener keeps working.
    pub fn accept_context(&self, ctx: &Context) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, _) = self
            .inner
            .io_context(Dir::Read, ctx, |l| socket::accept(l.as_raw_fd()))?;
        let stream = UnixStream::from_fd(fd)?;
        let addr = stream.inner.get().peer_addr()?;
        Ok((stream, addr))
    }

    /// An endless iterator of accepted connections.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// A second handle on the same socket (a `dup`), registered separately.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: PollFd::new(self.inner.get().try_clone()?)?,
        })
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

impl<'a> Iterator for UnixIncoming<'a> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl UnixStream {
    /// Connects to the listener at `path`.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_inner(path.as_ref(), None)
    }

    /// As [`connect`](Self::connect), giving up with `ctx`'s error (see
    /// [`context`](crate::context)) as soon as `ctx` is done, including
    /// during the back-off while the listener's backlog is full; without
    /// trying if it is done already.
    pub fn connect_context<P: AsRef<Path>>(ctx: &Context, path: P) -> io::Result<UnixStream> {
        if let Some(e) = ctx.err() {
            return Err(e.into());
        }
        UnixStream::connect_inner(path.as_ref(), Some(ctx))
    }

    fn connect_inner(path: &Path, ctx: Option<&Context>) -> io::Result<UnixStream> {
        let addr = socket::RawAddr::from_path(path)?;
        let fd = socket::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        let mut backoff = Duration::from_millis(1);
        loop {
            match socket::connect(&fd, &addr) {
                Ok(()) => return UnixStream::from_fd(fd),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    match ctx {
                        None => crate::time::sleep(backoff),
                        // A sleep that ends early once `ctx` is done.
                        Some(ctx) => {
                            if let Err(RecvTimeoutError::Disconnected) =
                                ctx.done().recv_timeout(backoff)
                            {
                                let e = ctx.err().unwrap_or(crate::context::Error::Canceled);
                                return Err(e.into());
                            }
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_millis(50));
                }
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                    let stream = UnixStream::from_fd(fd)?;
                    stream.inner.wait_writable(None, ctx)?;
                    return match stream.take_error()? {
                        Some(e) => Err(e),
                        None => Ok(stream),
                    };
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    fn from_fd(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: PollFd::new(std::os::unix::net::UnixStream::from(fd))?,
        })
    }

    /// Takes over a connected std stream (it is made non-blocking).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            inner: PollFd::new(stream)?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// Shuts down reading, writing or both (see `TcpStream::shutdown`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get().shutdown(how)
    }

    /// A second handle on the same connection (a `dup`), registered
    /// separately, starting with this handle's timeouts.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: self.inner.register_dup(self.inner.get().try_clone()?)?,
        })
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

super::impl_stream_io!(UnixStream);
super::impl_timeouts!(UnixStream, "read", "writes");
super::with_context::impl_context_io!(UnixStream);

super::impl_fd_traits!(UnixListener);
