//! `UdpSocket`: std::net's shape on a non-blocking socket registered with
//! the poller. `recv`/`recv_from`/`peek*` park until a datagram arrives;
//! `send`/`send_to` park only if the socket buffer is full. Several
//! goroutines may receive on one shared socket: they take turns (the
//! direction's op lock), each getting whole datagrams.

use super::fd::PollFd;
use super::poll_desc::Dir;
use super::{each_addr, socket};
use crate::context::Context;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// A UDP socket.
///
/// ```
/// use goroutines::net::UdpSocket;
/// let got = goroutines::run(|| {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).unwrap();
///     assert_eq!(from, a.local_addr().unwrap());
///     buf[..n].to_vec()
/// });
/// assert_eq!(got, b"ping");
/// ```
pub struct UdpSocket {
    inner: PollFd<std::net::UdpSocket>,
}

/// The first address `addr` resolves to (resolution as in `net/mod.rs`).
fn first_addr<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddr> {
    crate::syscall::blocking_here(|| addr.to_socket_addrs())?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"))
}

impl UdpSocket {
    /// Binds to `addr`, trying each resolved address in turn.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            let fd = socket::socket(socket::RawAddr::family(a), libc::SOCK_DGRAM)?;
            socket::bind(&fd, &socket::RawAddr::from_ip(a))?;
            Ok(UdpSocket {
                inner: PollFd::new(std::net::UdpSocket::from(fd))?,
            })
        })
    }

    /// Takes over a std socket (it is made non-blocking).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            inner: PollFd::new(socket)?,
        })
    }

    /// Receives one datagram; returns its length (truncated to `buf`) and
    /// its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Dir::Read, |s| s.recv_from(buf))
    }

    /// As `recv_from`, leaving the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Dir::Read, |s| s.peek_from(buf))
    }

    /// Sends `buf` to the first address `addr` resolves to.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let addr = first_addr(addr)?;
        self.inner.io(Dir::Write, |s| s.send_to(buf, addr))
    }

    /// As [`send_to`](Self::send_to), ending once `ctx` is done (see
    /// [`recv_from_context`](Self::recv_from_context)). The address is
    /// resolved first; resolution itself does not watch `ctx`.
    pub fn send_to_context<A: ToSocketAddrs>(
        &self,
        ctx: &Context,
        buf: &[u8],
        addr: A,
    ) -> io::Result<usize> {
        let addr = first_addr(addr)?;
        self.inner
            .io_context(Dir::Write, ctx, |s| s.send_to(buf, addr))
    }

    /// Sets the default peer for `send`/`recv` and filters received
    /// datagrams to it. Does not block.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.inner.get().connect(a))
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io(Dir::Write, |s| s.send(buf))
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |s| s.recv(buf))
    }

    /// As [`recv_from`](Self::recv_from), ending with `ctx`'s error (see
    /// [`context`](crate::context)) as soon as `ctx` is done, even while
    /// parked; at once if it is done already.
    pub fn recv_from_context(
        &self,
        ctx: &Context,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr)> {
        self.inner.io_context(Dir::Read, ctx, |s| s.recv_from(buf))
    }

    /// As [`recv`](Self::recv), ending once `ctx` is done (see
    /// [`recv_from_context`](Self::recv_from_context)).
    pub fn recv_context(&self, ctx: &Context, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io_context(Dir::Read, ctx, |s| s.recv(buf))
    }

    /// As [`send`](Self::send), ending once `ctx` is done (see
    /// [`recv_from_context`](Self::recv_from_context)).
    pub fn send_context(&self, ctx: &Context, buf: &[u8]) -> io::Result<usize> {
        self.inner.io_context(Dir::Write, ctx, |s| s.send(buf))
    }

    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Dir::Read, |s| s.peek(buf))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// A second handle on the same socket (a `dup`), registered separately,
    /// starting with this handle's timeouts.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: self.inner.register_dup(self.inner.get().try_clone()?)?,
        })
    }

    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get().set_broadcast(on)
    }

    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get().broadcast()
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.get().set_multicast_loop_v4(on)
    }

    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_multicast_ttl_v4(ttl)
    }

    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.get().set_multicast_loop_v6(on)
    }

    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get().join_multicast_v4(group, interface)
    }

    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get().leave_multicast_v4(group, interface)
    }

    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get().join_multicast_v6(group, interface)
    }

    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get().leave_multicast_v6(group, interface)
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// With `true`, receives and sends return `WouldBlock` instead of
    /// parking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }
}

super::impl_fd_traits!(UdpSocket);
super::impl_timeouts!(UdpSocket, "receive", "sends");
