//! An HTTP/1.1 "Hello, World!" server: one goroutine per connection,
//! keep-alive and pipelining, requests parsed with httparse.
//!
//! ```text
//! cargo run --release --example http_hello [ADDR]      # default 127.0.0.1:8080
//! wrk -t2 -c256 -d5s http://127.0.0.1:8080/
//! ```

use goroutines::net::{TcpListener, TcpStream};
use std::io::{Read, Write};

const BODY: &str = "Hello, World!";

/// Serves requests until the peer closes, asks to close, or sends garbage.
fn serve(mut conn: TcpStream) {
    let mut buf = vec![0u8; 8 * 1024];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4 * 1024);
    loop {
        // Answer every complete request in the buffer (pipelining), then
        // write all the answers at once.
        let mut consumed = 0;
        let mut close = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[consumed..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    consumed += len;
                    close = wants_close(&req);
                    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nServer: goroutines\r\nContent-Type: text/plain\r\nContent-Length: ");
                    out.extend_from_slice(BODY.len().to_string().as_bytes());
                    out.extend_from_slice(if close {
                        b"\r\nConnection: close\r\n\r\n"
                    } else {
                        b"\r\n\r\n"
                    });
                    out.extend_from_slice(BODY.as_bytes());
                    if close {
                        break;
                    }
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    return;
                }
            }
        }
        if !out.is_empty() {
            if conn.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            return; // a request head larger than the buffer
        }
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

fn wants_close(req: &httparse::Request<'_, '_>) -> bool {
    let header = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("connection"))
        .map(|h| h.value.to_ascii_lowercase());
    match (req.version, header.as_deref()) {
        (_, Some(b"close")) => true,
        (Some(0), Some(b"keep-alive")) => false,
        (Some(0), _) => true, // HTTP/1.0 closes unless asked not to
        _ => false,
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    goroutines::run(move || {
        let listener = match TcpListener::bind(&addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("http_hello: cannot listen on {addr}: {e}");
                std::process::exit(1);
            }
        };
        eprintln!(
            "http_hello: listening on http://{}/",
            listener.local_addr().unwrap()
        );
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    goroutines::go(move || serve(conn));
                }
                Err(e) => {
                    eprintln!("http_hello: accept: {e}");
                    goroutines::time::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    })
}
