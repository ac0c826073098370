//! Stream operations that take a [`Context`]: `read_context`,
//! `write_context` and the `Read`/`Write` adapter [`WithContext`], for
//! `TcpStream` and `UnixStream` (one definition, [`impl_context_io`]).
//!
//! Each operation ends with the context's error, as an `io::Error`, as soon
//! as the context is done, even while parked on the poller: the context's
//! cancellation expires the wait as a deadline would (`poll_desc.rs`), so
//! there is no polling and the stream stays usable afterwards, like Go's
//! `SetReadDeadline` set in the past and then cleared.

use crate::context::Context;

/// A stream seen through a [`Context`]: its `Read` and `Write` end with the
/// context's error once it is done. From `stream.with_context(&ctx)`.
///
/// ```
/// use goroutines::context;
/// use goroutines::net::UnixStream;
/// use std::io::{ErrorKind, Read};
/// use std::time::Duration;
///
/// goroutines::run(|| {
///     let (a, _b) = UnixStream::pair().unwrap();
///     let (ctx, _) = context::with_timeout(&context::background(), Duration::from_millis(5));
///     let mut buf = [0; 8];
///     // Nothing arrives: the read ends when the deadline passes.
///     let err = a.with_context(&ctx).read(&mut buf).unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::TimedOut);
///     assert_eq!(context::Error::from_io(&err), Some(context::Error::DeadlineExceeded));
/// });
/// ```
pub struct WithContext<'a, S> {
    pub(crate) stream: &'a S,
    pub(crate) ctx: &'a Context,
}

impl<S: std::fmt::Debug> std::fmt::Debug for WithContext<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithContext")
            .field("stream", self.stream)
            .field("ctx", self.ctx)
            .finish()
    }
}

/// `read_context`, `write_context` and `with_context` for a stream type
/// with a field `inner: PollFd<S>` where `&S: Read + Write`, and `Read`/
/// `Write` for its [`WithContext`].
macro_rules! impl_context_io {
    ($ty:ty) => {
        impl $ty {
            /// As `Read::read`, ending with `ctx`'s error (kind `TimedOut`
            /// for a passed deadline, `Other` for a cancel; see
            /// [`context`](crate::context)) as soon as `ctx` is done, even
            /// while parked. Fails at once if `ctx` is done already. The
            /// stream stays usable afterwards.
            pub fn read_context(
                &self,
                ctx: &$crate::context::Context,
                buf: &mut [u8],
            ) -> std::io::Result<usize> {
                self.inner.read_stream(buf.len(), Some(ctx), |mut s| {
                    std::io::Read::read(&mut s, buf)
                })
            }

            /// As `Write::write`, ending with `ctx`'s error as
            /// [`read_context`](Self::read_context) does.
            pub fn write_context(
                &self,
                ctx: &$crate::context::Context,
                buf: &[u8],
            ) -> std::io::Result<usize> {
                self.inner
                    .io_context($crate::net::poll_desc::Dir::Write, ctx, |mut s| {
                        std::io::Write::write(&mut s, buf)
                    })
            }

            /// This stream with `Read` and `Write` that end once `ctx` is
            /// done (each call is a [`read_context`](Self::read_context) or
            /// [`write_context`](Self::write_context)), for `read_exact`,
            /// `write_all`, `BufReader` and friends.
            pub fn with_context<'a>(
                &'a self,
                ctx: &'a $crate::context::Context,
            ) -> $crate::net::WithContext<'a, $ty> {
                $crate::net::WithContext { stream: self, ctx }
            }
        }

        impl std::io::Read for $crate::net::WithContext<'_, $ty> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.stream.read_context(self.ctx, buf)
            }
        }

        impl std::io::Write for $crate::net::WithContext<'_, $ty> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.stream.write_context(self.ctx, buf)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use impl_context_io;
