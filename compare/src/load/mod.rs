//! Load generators for the server cases. They run in the harness process,
//! never in the child under test, and talk only to the loopback address the
//! child announced; every one stops by itself after the case's duration
//! (plus bounded connect and read timeouts).

mod echo;
mod http;
mod wrk;

use std::net::SocketAddr;
use std::time::Duration;

use crate::cases::Load;

/// The metrics one load run produced: `(key, value)`.
pub type LoadMetrics = Vec<(&'static str, f64)>;

/// How long a connection may wait on one read or write before the load run
/// counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Drives `load` at `address` for `duration`.
pub fn drive(load: Load, address: SocketAddr, duration: Duration) -> Result<LoadMetrics, String> {
    match load {
        Load::Echo => echo::drive(address, duration),
        Load::Http => match wrk::find() {
            Some(wrk) => wrk::drive(&wrk, address, duration),
            None => http::drive(address, duration),
        },
    }
}

/// One line for the report: what generated the load of `load`.
pub fn describe(load: Load) -> String {
    match load {
        Load::Echo => echo::DESCRIPTION.to_string(),
        Load::Http => match wrk::find() {
            Some(_) => wrk::DESCRIPTION.to_string(),
            None => http::DESCRIPTION.to_string(),
        },
    }
}
