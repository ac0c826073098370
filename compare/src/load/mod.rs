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

/// The metric key of the server CPU time per operation, reported for every
/// server case next to its throughput: (user + system CPU seconds of the
/// whole server process during the load) / (operations served). Unlike
/// throughput it does not depend on how the machine shares its cores
/// between the server and the load generator, so it compares the runtimes'
/// own cost per request more directly.
pub const SERVER_CPU_KEY: &str = "server_cpu_us_per_op";

/// The key of `load`'s operations-per-second metric, from which the
/// operation count behind [`SERVER_CPU_KEY`] is computed.
pub fn ops_per_s_key(load: Load) -> &'static str {
    match load {
        Load::Echo => "round_trips_per_s",
        Load::Http => "requests_per_s",
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
