//! Raw socket system calls that std does not offer in the shape we need:
//! sockets created non-blocking and close-on-exec in one call, listeners
//! with our backlog and `SO_REUSEPORT`, a connect that does not block, and
//! `accept4` that hands back a non-blocking socket. Everything else (reads,
//! writes, socket options, addresses of a live socket) goes through the std
//! socket types, which work unchanged on a non-blocking descriptor.
//!
//! Nothing here waits: `EAGAIN`/`EINPROGRESS` come back as errors and the
//! callers (`fd.rs`) park on the poller. Every descriptor returned is an
//! [`OwnedFd`], so an error path cannot leak one.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Listen backlog: the kernel caps it at `net.core.somaxconn` (4096 on
/// current kernels), which is what Go asks for too. std's 128 drops SYNs
/// when thousands of clients connect at once.
const BACKLOG: libc::c_int = 65535;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A new socket of `domain`/`ty`, non-blocking and close-on-exec.
pub(crate) fn socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) has no memory preconditions.
    let fd =
        cvt(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An IP or Unix socket address in the kernel's layout.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    fn empty() -> RawAddr {
        RawAddr {
            // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
            storage: unsafe { zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    pub(crate) fn family(addr: &SocketAddr) -> libc::c_int {
        match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        }
    }

    pub(crate) fn from_ip(addr: &SocketAddr) -> RawAddr {
        let mut raw = RawAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for
                // every sockaddr type; we write one whole sockaddr_in.
                unsafe { (&mut raw.storage as *mut _ as *mut libc::sockaddr_in).write(sin) };
                raw.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    // As std does: flowinfo and scope id are passed through.
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, for sockaddr_in6.
                unsafe { (&mut raw.storage as *mut _ as *mut libc::sockaddr_in6).write(sin6) };
                raw.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    /// A Unix socket path. Abstract-namespace names are not supported yet.
    pub(crate) fn from_path(path: &Path) -> io::Result<RawAddr> {
        let bytes = path.as_os_str().as_bytes();
        let mut raw = RawAddr::empty();
        // SAFETY: all zeroes is a valid sockaddr_un.
        let mut sun: libc::sockaddr_un = unsafe { zeroed() };
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unix socket paths must not contain interior null bytes",
            ));
        }
        if bytes.len() >= sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "unix socket path is {} bytes, the limit is {}",
                    bytes.len(),
                    sun.sun_path.len() - 1
                ),
            ));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        // Family, path and its terminating zero, as std computes it.
        let len = size_of::<libc::sa_family_t>() + bytes.len() + 1;
        // SAFETY: as in from_ip, for sockaddr_un.
        unsafe { (&mut raw.storage as *mut _ as *mut libc::sockaddr_un).write(sun) };
        raw.len = len as libc::socklen_t;
        Ok(raw)
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }

    /// The IP address the kernel wrote, e.g. by accept4.
    pub(crate) fn to_ip(&self) -> io::Result<SocketAddr> {
        match self.storage.ss_family as libc::c_int {
            libc::AF_INET if self.len as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in,
                // and the kernel wrote at least that many bytes.
                let a = unsafe { *(self.as_ptr() as *const libc::sockaddr_in) };
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes()),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 if self.len as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let a = unsafe { *(self.as_ptr() as *const libc::sockaddr_in6) };
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "accepted a connection with an address that is not IPv4 or IPv6",
            )),
        }
    }
}

/// Binds `fd` to `addr` and, for a listener, starts listening.
pub(crate) fn bind(fd: &OwnedFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: `addr` points at `len` initialised bytes of a sockaddr.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr(), addr.len) }).map(drop)
}

pub(crate) fn listen(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: listen(2) has no memory preconditions.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) }).map(drop)
}

/// Starts connecting; `EINPROGRESS` (TCP) or `EAGAIN` (a Unix listener's
/// full backlog) come back as errors for the caller to wait on.
pub(crate) fn connect(fd: &OwnedFd, addr: &RawAddr) -> io::Result<()> {
    loop {
        // SAFETY: `addr` points at `len` initialised bytes of a sockaddr.
        match cvt(unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr(), addr.len) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(drop),
        }
    }
}

/// Accepts one connection as a non-blocking, close-on-exec socket, with
/// the peer's address. `EAGAIN` comes back as `WouldBlock`.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, RawAddr)> {
    let mut addr = RawAddr::empty();
    loop {
        // SAFETY: `storage` is writable for `len` bytes; the kernel writes
        // at most that and stores the real length in `len`.
        let r = unsafe {
            libc::accept4(
                fd,
                &mut addr.storage as *mut _ as *mut libc::sockaddr,
                &mut addr.len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        match cvt(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The peer gave up while the connection sat in the backlog: not
            // the listener's problem (Go retries too).
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
            // SAFETY: accept4 returned a new descriptor that nobody owns.
            Ok(new) => return Ok((unsafe { OwnedFd::from_raw_fd(new) }, addr)),
            Err(e) => return Err(e),
        }
    }
}

/// Sets an integer socket option.
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: we pass a live c_int and its exact size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `SO_LINGER`: `None` turns lingering off; `Some(0)` makes close send a
/// reset instead of a FIN.
pub(crate) fn set_linger(fd: RawFd, linger: Option<std::time::Duration>) -> io::Result<()> {
    let value = libc::linger {
        l_onoff: linger.is_some() as libc::c_int,
        l_linger: linger.map_or(0, |d| {
            d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
        }),
    };
    // SAFETY: we pass a live `linger` and its exact size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &value as *const libc::linger as *const libc::c_void,
            size_of::<libc::linger>() as libc::socklen_t,
        )
    })
    .map(drop)
}

pub(crate) fn linger(fd: RawFd) -> io::Result<Option<std::time::Duration>> {
    // SAFETY: all zeroes is a valid `linger`.
    let mut value: libc::linger = unsafe { zeroed() };
    let mut len = size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &mut value as *mut libc::linger as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok((value.l_onoff != 0).then(|| std::time::Duration::from_secs(value.l_linger as u64)))
}
