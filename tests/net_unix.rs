//! `goroutines::net` Unix stream sockets in a temporary directory.

mod net_common;

use goroutines::net::{UnixListener, UnixStream};
use net_common::{both_modes, temp_dir, within};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

/// 200 clients x 50 round trips over a Unix socket, every byte checked.
#[test]
fn unix_stream_clients_echo_every_byte() {
    for (i, (mode, rt)) in both_modes(2).into_iter().enumerate() {
        let dir = temp_dir(&format!("echo{i}"));
        let path = dir.join("echo.sock");
        within(Duration::from_secs(60), mode, move || {
            rt.run(move || {
                let listener = UnixListener::bind(&path).unwrap();
                assert_eq!(
                    listener.local_addr().unwrap().as_pathname(),
                    Some(path.as_path())
                );
                let server = goroutines::go(move || {
                    for conn in listener.incoming().take(200) {
                        let mut conn = conn.unwrap();
                        goroutines::go(move || {
                            let mut buf = [0u8; 1024];
                            loop {
                                match conn.read(&mut buf).unwrap() {
                                    0 => return,
                                    n => conn.write_all(&buf[..n]).unwrap(),
                                }
                            }
                        });
                    }
                });
                let clients: Vec<_> = (0..200u32)
                    .map(|c| {
                        let path = path.clone();
                        goroutines::go(move || {
                            let mut conn = UnixStream::connect(&path).unwrap();
                            for r in 0..50u32 {
                                let msg = [c.to_le_bytes(), r.to_le_bytes()].concat();
                                conn.write_all(&msg).unwrap();
                                let mut back = [0u8; 8];
                                conn.read_exact(&mut back).unwrap();
                                assert_eq!(&back[..], &msg[..]);
                            }
                        })
                    })
                    .collect();
                clients.into_iter().for_each(|h| h.join().unwrap());
                server.join().unwrap();
            })
        });
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A socket pair: half-close gives end of file; a read timeout gives
/// `WouldBlock`.
#[test]
fn unix_pair_half_close_and_read_timeout() {
    for (mode, rt) in both_modes(2) {
        within(Duration::from_secs(20), mode, move || {
            rt.run(|| {
                let (mut a, mut b) = UnixStream::pair().unwrap();
                b.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
                let t = Instant::now();
                let err = b.read(&mut [0u8; 4]).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::WouldBlock);
                assert!(t.elapsed() >= Duration::from_millis(30));
                a.write_all(b"bye").unwrap();
                a.shutdown(Shutdown::Write).unwrap();
                let mut got = String::new();
                b.read_to_string(&mut got).unwrap();
                assert_eq!(got, "bye");
                b.write_all(b"ok").unwrap();
                let mut back = [0u8; 2];
                a.read_exact(&mut back).unwrap();
                assert_eq!(&back, b"ok");
            })
        });
    }
}

#[test]
fn connecting_to_a_missing_path_fails() {
    let dir = temp_dir("missing");
    let err = goroutines::run({
        let path = dir.join("nobody.sock");
        move || UnixStream::connect(path).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
