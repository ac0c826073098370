//! http_hello: an HTTP/1.1 keep-alive server on 127.0.0.1 that answers
//! every request with a fixed `Hello, World!`, one task per connection.
//!
//! Every Rust peer shares [`answer_complete_requests`]: parse each complete
//! request in the buffer with httparse, append one fixed response per
//! request (so pipelined requests are answered in order), keep the partial
//! tail. Requests are GETs without bodies, which is what the load sends.
//! The Go counterpart, `compare/go/http_hello.go`, parses by hand with
//! bufio over net.Conn for the same reason: net/http would measure a far
//! bigger library, not the runtime.
//!
//! Load: `wrk -t2 -c256 -d<size>s` when wrk is installed, else the built-in
//! client (`load/http.rs`). Reports requests per second.

use std::io::{Read, Write};

use super::serve::{self, LOOPBACK_ANY_PORT};
use super::{go_runs_elsewhere, Better, Case, Execution, Load, Metric, Outcome, SizeUnit};
use crate::peer::{self, Peer, Procs};

/// The one response, byte for byte the same in the Go counterpart.
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// Each connection's read chunk, in every peer.
const CHUNK: usize = 4096;
/// A request head longer than this closes the connection.
const MAX_PENDING: usize = 64 * 1024;

pub const CASE: Case = Case {
    name: "http_hello",
    summary: "HTTP/1.1 keep-alive `Hello, World!` on loopback under wrk -t2 -c256",
    sizes: &[10],
    quick_sizes: &[1],
    size_unit: SizeUnit::Seconds,
    metrics: &[
        Metric {
            key: "requests_per_s",
            unit: "requests per second",
            better: Better::Higher,
        },
        Metric {
            key: crate::load::SERVER_CPU_KEY,
            unit: "µs of server CPU (user + system, all threads) per request",
            better: Better::Lower,
        },
    ],
    procs: Procs::All,
    execution: Execution::Server(Load::Http),
    timeout_secs: 30,
    notes: &[
        (
            Peer::Go,
            "hand-written parsing over net.Conn with bufio, not net/http",
        ),
        (
            Peer::Threads,
            "one OS thread per connection, blocking std::net",
        ),
    ],
    run,
};

fn run(peer: Peer, _seconds: u64) -> Outcome {
    serve::exit_when_stdin_closes();
    match peer {
        #[cfg(feature = "ours-net")]
        Peer::OursPinned | Peer::OursGo => ours(peer),
        #[cfg(not(feature = "ours-net"))]
        Peer::OursPinned | Peer::OursGo => super::ours_not_built(&["ours-core", "ours-net"]),
        Peer::Go => go_runs_elsewhere(),
        Peer::Tokio => tokio(),
        Peer::May => may(),
        Peer::Threads => threads(),
    }
}

/// Answers every complete request at the front of `pending`, appending one
/// response each to `replies`, and drops the answered bytes. Errs on a
/// malformed or oversized request, after which the connection is closed.
fn answer_complete_requests(pending: &mut Vec<u8>, replies: &mut Vec<u8>) -> Result<(), ()> {
    let mut answered = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&pending[answered..]) {
            Ok(httparse::Status::Complete(length)) => {
                answered += length;
                replies.extend_from_slice(RESPONSE);
            }
            Ok(httparse::Status::Partial) => break,
            Err(_) => return Err(()),
        }
    }
    pending.drain(..answered);
    if pending.len() > MAX_PENDING {
        return Err(());
    }
    Ok(())
}

/// One connection of the peers whose reads and writes block the caller.
fn serve_connection(mut stream: impl Read + Write) {
    let mut chunk = vec![0u8; CHUNK];
    let mut pending = Vec::with_capacity(CHUNK);
    let mut replies = Vec::with_capacity(CHUNK);
    loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        pending.extend_from_slice(&chunk[..read]);
        if answer_complete_requests(&mut pending, &mut replies).is_err() {
            return;
        }
        if !replies.is_empty() {
            if stream.write_all(&replies).is_err() {
                return;
            }
            replies.clear();
        }
    }
}

#[cfg(feature = "ours-net")]
fn ours(peer: Peer) -> Outcome {
    peer::run_ours(peer, Procs::All, || {
        let listener = goroutines::net::TcpListener::bind(LOOPBACK_ANY_PORT)
            .unwrap_or_else(|error| panic!("bind: {error}"));
        serve::announce(listener.local_addr().expect("local address"));
        loop {
            let (stream, _) = listener
                .accept()
                .unwrap_or_else(|error| panic!("accept: {error}"));
            stream.set_nodelay(true).expect("TCP_NODELAY");
            goroutines::go(move || serve_connection(stream));
        }
    });
    unreachable!("the server serves until the harness closes stdin")
}

fn tokio() -> Outcome {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    peer::run_tokio(Procs::All, async {
        let listener = tokio::net::TcpListener::bind(LOOPBACK_ANY_PORT)
            .await
            .unwrap_or_else(|error| panic!("bind: {error}"));
        serve::announce(listener.local_addr().expect("local address"));
        loop {
            let (mut stream, _) = listener
                .accept()
                .await
                .unwrap_or_else(|error| panic!("accept: {error}"));
            stream.set_nodelay(true).expect("TCP_NODELAY");
            tokio::spawn(async move {
                let mut chunk = vec![0u8; CHUNK];
                let mut pending = Vec::with_capacity(CHUNK);
                let mut replies = Vec::with_capacity(CHUNK);
                loop {
                    let read = match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => read,
                    };
                    pending.extend_from_slice(&chunk[..read]);
                    if answer_complete_requests(&mut pending, &mut replies).is_err() {
                        return;
                    }
                    if !replies.is_empty() {
                        if stream.write_all(&replies).await.is_err() {
                            return;
                        }
                        replies.clear();
                    }
                }
            });
        }
    });
    unreachable!("the server serves until the harness closes stdin")
}

fn may() -> Outcome {
    peer::run_may(Procs::All, || {
        let listener = may::net::TcpListener::bind(LOOPBACK_ANY_PORT)
            .unwrap_or_else(|error| panic!("bind: {error}"));
        serve::announce(listener.local_addr().expect("local address"));
        loop {
            let (stream, _) = listener
                .accept()
                .unwrap_or_else(|error| panic!("accept: {error}"));
            stream.set_nodelay(true).expect("TCP_NODELAY");
            may::go!(move || serve_connection(stream));
        }
    });
    unreachable!("the server serves until the harness closes stdin")
}

fn threads() -> Outcome {
    let listener = std::net::TcpListener::bind(LOOPBACK_ANY_PORT)
        .unwrap_or_else(|error| panic!("bind: {error}"));
    serve::announce(listener.local_addr().expect("local address"));
    loop {
        let (stream, _) = listener
            .accept()
            .unwrap_or_else(|error| panic!("accept: {error}"));
        stream.set_nodelay(true).expect("TCP_NODELAY");
        std::thread::spawn(move || serve_connection(stream));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    #[test]
    fn pipelined_requests_get_one_response_each_and_the_tail_waits() {
        let mut pending = [GET, GET, &GET[..10]].concat();
        let mut replies = Vec::new();
        answer_complete_requests(&mut pending, &mut replies).expect("valid requests");
        assert_eq!(replies, [RESPONSE, RESPONSE].concat());
        assert_eq!(pending, &GET[..10]);
    }

    #[test]
    fn a_malformed_request_closes_the_connection() {
        let mut pending = b"\x01\x02 nonsense\r\n\r\n".to_vec();
        assert!(answer_complete_requests(&mut pending, &mut Vec::new()).is_err());
    }
}
