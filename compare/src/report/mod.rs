//! What a comparison run produced, and the three ways it is shown: markdown
//! tables on stdout, `latest.json` with every run's raw numbers, and one
//! hand-written SVG bar chart per case.
//!
//! Numbers only ever come from runs that produced them: a cell with a failed
//! or timed-out run shows `failed: ...` or `timeout`, never a median.

pub mod json;
pub mod summary;
pub mod svg;
pub mod table;

use crate::cases::Case;
use crate::peer::Peer;

/// The key, among a run's metrics, of the most CPU time (ms) the hypervisor
/// took from any one vCPU while the run lasted: recorded by the harness
/// around every run that produced numbers, so a reader can tell a run the
/// machine disturbed (this kind of VM loses a whole vCPU for 100 ms every
/// few seconds) from a slow one.
pub const STEAL_KEY: &str = "vm_steal_ms";

/// One child run's result, as the harness saw it.
#[derive(Clone, Debug)]
pub enum RunOutcome {
    Metrics(Vec<(String, f64)>),
    /// A non-numeric result such as `starved`.
    Verdict(String),
    Failed(String),
    Timeout {
        after_secs: u64,
    },
    Unsupported(String),
    NotBuilt(Vec<String>),
    /// The peer could not be run here at all (no Go toolchain).
    Skipped(String),
}

impl RunOutcome {
    /// Whether running the same cell again could give anything else.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RunOutcome::Unsupported(_) | RunOutcome::NotBuilt(_) | RunOutcome::Skipped(_)
        )
    }
}

/// Every run of one peer at one size of one case.
pub struct Cell {
    pub peer: Peer,
    pub runs: Vec<RunOutcome>,
}

pub struct SizeResults {
    pub size: u64,
    pub cells: Vec<Cell>,
}

pub struct CaseResults {
    pub case: &'static Case,
    pub sizes: Vec<SizeResults>,
    /// Who generated the load, for server cases.
    pub load: Option<String>,
}

/// Facts about where and how the run happened, for latest.json.
pub struct RunContext {
    pub date_utc: String,
    pub quick: bool,
    pub runs_per_peer: usize,
    pub cores: usize,
    pub kernel: String,
    pub cpu_model: String,
    pub memory_gib: f64,
    /// Caps how many guarded stacks (may's, std threads') can be live.
    pub max_map_count: Option<u64>,
    pub go_version: Option<String>,
    pub rustc_version: Option<String>,
    pub ours_features: Vec<&'static str>,
}
