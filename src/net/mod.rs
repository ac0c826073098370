//! `goroutines::net`: TCP, UDP and Unix sockets whose blocking calls park
//! the calling goroutine on the network poller instead of blocking its OS
//! thread. The shapes are std::net's (`bind`, `connect`, `accept`,
//! `incoming`, `Read`/`Write` for `T` and `&T`, `set_read_timeout`, ...),
//! and errors are plain `io::Error`s, so code written for std ports by
//! changing the `use` line.
//!
//! ```
//! use goroutines::net::{TcpListener, TcpStream};
//! use std::io::{BufRead, BufReader, Write};
//!
//! let line = goroutines::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     goroutines::go(move || {
//!         for conn in listener.incoming().take(1) {
//!             let conn = conn.unwrap();
//!             // One goroutine per connection: plain blocking code.
//!             goroutines::go(move || {
//!                 let mut line = String::new();
//!                 BufReader::new(&conn).read_line(&mut line).unwrap();
//!                 (&conn).write_all(line.to_uppercase().as_bytes()).unwrap();
//!             });
//!         }
//!     });
//!     let mut conn = TcpStream::connect(addr).unwrap();
//!     conn.write_all(b"hello\n").unwrap();
//!     let mut line = String::new();
//!     BufReader::new(&conn).read_line(&mut line).unwrap();
//!     line
//! });
//! assert_eq!(line, "HELLO\n");
//! ```
//!
//! Layers, bottom up:
//! * `socket.rs`: raw calls std lacks (non-blocking socket creation,
//!   `SO_REUSEPORT`, backlog, non-blocking connect, `accept4`).
//! * `poller.rs`: the process's edge-triggered epoll instance, its
//!   `PollDesc` cache, and the thread that services it (for now).
//! * `poll_desc.rs`: per-descriptor readiness slots and the park protocol
//!   (Go's pollDesc); `op_lock.rs`: one operation per direction at a time.
//! * `fd.rs`: `PollFd`, a std socket plus its registration, timeouts and
//!   the try-park-retry loop.
//! * `tcp.rs`, `udp.rs`, `unix.rs`: the public types.
//! * `with_context.rs`: operations that take a [`Context`](crate::context::Context)
//!   and end when it is done.
//!
//! From a plain OS thread every call works too and blocks that thread.
//!
//! Name resolution (`ToSocketAddrs` with a host name) is a blocking call
//! into the system resolver (addresses given as IPs never block). In Go
//! mode it runs as an inline syscall, so a slow lookup hands the P to
//! another M as any `syscall` does. In pinned mode it blocks the calling M,
//! because std's signatures do not promise an address type that may move to
//! the blocking pool (`Send`); [`lookup_host`] resolves a host name through
//! the pool in both modes, for callers that want that.

mod fd;
mod op_lock;
mod poll_desc;
pub(crate) mod poller;
mod socket;
mod tcp;
mod udp;
mod unix;
mod with_context;

pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixIncoming, UnixListener, UnixStream};
pub use with_context::WithContext;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Tries `f` on each address `addr` resolves to; returns the first success
/// or the last error, as std does.
fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    let addrs = crate::syscall::blocking_here(|| addr.to_socket_addrs())?;
    for a in addrs {
        match f(&a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// Resolves `host` (`"example.com:80"`, `"[::1]:8080"`, or a name and
/// port) to its socket addresses, as `ToSocketAddrs` does, through
/// [`syscall`](crate::syscall): the goroutine waits, its M runs others.
///
/// ```
/// let addrs = goroutines::run(|| goroutines::net::lookup_host("localhost:80"));
/// assert!(addrs.unwrap().iter().all(|a| a.port() == 80));
/// ```
pub fn lookup_host(host: &str) -> io::Result<Vec<SocketAddr>> {
    crate::syscall(|| host.to_socket_addrs().map(|it| it.collect()))
}

/// `Read`/`Write` for a stream type and its shared reference, plus
/// [`impl_fd_traits`]. The type has a field `inner: PollFd<S>` where
/// `&S: Read + Write`.
macro_rules! impl_stream_io {
    ($ty:ty) => {
        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.inner
                    .read_stream(buf.len(), None, |mut s| std::io::Read::read(&mut s, buf))
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.inner.read_stream(len, None, |mut s| {
                    std::io::Read::read_vectored(&mut s, bufs)
                })
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner.io($crate::net::poll_desc::Dir::Write, |mut s| {
                    std::io::Write::write(&mut s, buf)
                })
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.inner.io($crate::net::poll_desc::Dir::Write, |mut s| {
                    std::io::Write::write_vectored(&mut s, bufs)
                })
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                (&*self).read_vectored(bufs)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                (&*self).write_vectored(bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        $crate::net::impl_fd_traits!($ty);
    };
}
use impl_stream_io;

/// `AsRawFd`, `AsFd` and `Debug` for a type with a field `inner: PollFd<S>`,
/// all answered by the std socket `S`: every public socket type shows and
/// hands out its descriptor the way the std type it wraps does.
macro_rules! impl_fd_traits {
    ($ty:ty) => {
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.inner.get())
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.inner.get())
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.inner, f)
            }
        }
    };
}
use impl_fd_traits;

/// std's four timeout methods for a type with a field `inner: PollFd<S>`.
/// One definition, so the zero-is-an-error rule and the `Ok` wrapping of
/// the getters (std's signatures) cannot drift apart between socket types.
/// `$read` and `$writes` name the operations in the docs ("read" or
/// "receive", "writes" or "sends").
macro_rules! impl_timeouts {
    ($ty:ty, $read:literal, $writes:literal) => {
        impl $ty {
            #[doc = concat!("Each ", $read, " may wait at most `dur` for the socket to be")]
            /// ready, then fails with `WouldBlock` (`EAGAIN`, what
            /// std returns on Linux). A zero duration is an `InvalidInput`
            /// error, as in std. Implemented with a runtime timer (a goroutine)
            /// or a timed park (a plain thread), not `SO_RCVTIMEO`.
            pub fn set_read_timeout(
                &self,
                dur: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.inner
                    .set_timeout($crate::net::poll_desc::Dir::Read, dur)
            }

            #[doc = concat!("As [`set_read_timeout`](Self::set_read_timeout), for ", $writes, ".")]
            pub fn set_write_timeout(
                &self,
                dur: Option<std::time::Duration>,
            ) -> std::io::Result<()> {
                self.inner
                    .set_timeout($crate::net::poll_desc::Dir::Write, dur)
            }

            /// The timeout set by [`set_read_timeout`](Self::set_read_timeout);
            /// `None` for none.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.read_timeout())
            }

            /// The timeout set by [`set_write_timeout`](Self::set_write_timeout);
            /// `None` for none.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.inner.write_timeout())
            }
        }
    };
}
use impl_timeouts;
