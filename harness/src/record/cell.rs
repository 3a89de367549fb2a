//! What one cell produced, as a worker hands it to the orchestrator and the journal logs it:
//! [`CellOutcome`].

use serde::{Deserialize, Serialize};

use super::{ConfigResult, Failure, StageTimes};

/// What a cell produced: its results (one per patch side for image tasks) and its failures,
/// including those that spared the results (timing, sample grids).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CellOutcome {
    /// Results, unranked.
    pub results: Vec<ConfigResult>,
    /// Failures.
    pub failures: Vec<Failure>,
    /// Where the cell's time went.
    #[serde(default)]
    pub stages: StageTimes,
}
