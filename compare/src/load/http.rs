//! The built-in HTTP load, used only where wrk is not installed:
//! CONNECTIONS std threads, each with one keep-alive connection, send a GET
//! and read the whole response (head parsed with httparse, then
//! Content-Length bytes of body), one request at a time, until the duration
//! is up. A status other than 200 fails the run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::{LoadMetrics, IO_TIMEOUT};

pub const CONNECTIONS: usize = 64;
pub const DESCRIPTION: &str =
    "built-in HTTP client (wrk not found): 64 keep-alive connections, one request at a time";

pub fn drive(address: SocketAddr, duration: Duration) -> Result<LoadMetrics, String> {
    let start_together = Arc::new(Barrier::new(CONNECTIONS));
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|index| {
            let start_together = start_together.clone();
            std::thread::spawn(move || {
                let connected = TcpStream::connect_timeout(&address, IO_TIMEOUT)
                    .map_err(|error| format!("connect to {address}: {error}"));
                start_together.wait();
                requests(connected?, address, duration)
                    .map_err(|error| format!("http connection {index}: {error}"))
            })
        })
        .collect();
    let mut total = 0u64;
    for client in clients {
        total += client
            .join()
            .map_err(|_| "an http client panicked".to_string())??;
    }
    Ok(vec![(
        "requests_per_s",
        total as f64 / duration.as_secs_f64(),
    )])
}

fn requests(mut stream: TcpStream, address: SocketAddr, duration: Duration) -> Result<u64, String> {
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|error| format!("socket options: {error}"))?;
    let request = format!("GET / HTTP/1.1\r\nHost: {address}\r\n\r\n");
    let mut buffer = Vec::with_capacity(4096);
    let deadline = Instant::now() + duration;
    let mut done = 0;
    while Instant::now() < deadline {
        stream
            .write_all(request.as_bytes())
            .map_err(|error| format!("write: {error}"))?;
        read_response(&mut stream, &mut buffer)?;
        done += 1;
    }
    Ok(done)
}

/// Reads one whole response into `buffer` (cleared first) and checks it.
fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), String> {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = response
            .parse(buffer)
            .map_err(|error| format!("bad response: {error}"))?
        {
            if response.code != Some(200) {
                return Err(format!("status {:?}", response.code));
            }
            let body = content_length(response.headers)?;
            if buffer.len() >= head + body {
                return Ok(());
            }
        }
        let read = stream
            .read(&mut chunk)
            .map_err(|error| format!("read: {error}"))?;
        if read == 0 {
            return Err("the server closed the connection".into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn content_length(headers: &[httparse::Header]) -> Result<usize, String> {
    let header = headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .ok_or("no Content-Length")?;
    std::str::from_utf8(header.value)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| "bad Content-Length".to_string())
}
