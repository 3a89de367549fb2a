//! The run's records: what a run records, logs and exchanges, as data with serde and nothing
//! else — results ([`ConfigResult`], [`ImageScore`]), failures with their stage ([`Failure`]),
//! task summaries ([`TaskSummary`]), stage times and the profile ([`StageTimes`], [`Profile`]),
//! frontiers ([`Frontier`]), a cell's outcome ([`CellOutcome`]), the manifest ([`Manifest`]),
//! the whole [`RunReport`] and its [`SCHEMA_VERSION`]. Floats follow [`crate::float`]'s rule.
//!
//! This is the layer every stage above it shares (`docs/architecture.md`): the cell engine
//! produces these records, the journal and the worker protocol carry them, judging ranks them
//! ([`crate::assemble`]) and the reports render them. It imports nothing from those layers, so
//! none of them import each other for a type.

mod cell;
mod failure;
mod manifest;
mod profile;
mod quality;
mod result;
mod task;

pub use cell::CellOutcome;
pub use failure::{Cause, Failure, Stage, WorkerEnding};
pub use manifest::{git_commit, libtorch_build, Manifest, PluginRecord};
pub use profile::{CellTime, Profile, StageTimes, TaskTime};
pub use quality::{
    mean_of, score_of, GroundTruthScores, QualityMean, QualityMetricInfo, QualityScore, SkippedMetric, TaskQuality,
};
pub use result::{ConfigResult, Frontier, ImageScore};
pub use task::{ImageTaskInfo, TaskSummary};

use serde::{Deserialize, Serialize};

/// Version of the results format. Compatibility rule: adding fields keeps the number (readers
/// ignore unknown fields); renaming, removing or changing the meaning of one increments it.
/// Version 2 writes ±∞ and NaN as text where version 1 wrote `null`; version 3 states a task's
/// N(X|Y) as one tagged `inherent` object where version 2 had four fields; version 4 gives
/// every failure a typed `cause`. Older versions are read.
pub const SCHEMA_VERSION: u32 = 4;

/// The JSON Schema of [`SCHEMA_VERSION`], as shipped in `harness/schema/`.
pub const SCHEMA: &str = include_str!("../../schema/results-v4.schema.json");

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Provenance.
    pub manifest: Manifest,
    /// Tasks, in suite order.
    pub tasks: Vec<TaskSummary>,
    /// Results, grouped by task, ranked within each.
    pub results: Vec<ConfigResult>,
    /// What failed.
    pub failures: Vec<Failure>,
    /// Set when the run was interrupted before every planned cell completed (`upbench report`
    /// on a run directory without `results.json`; `upbench run --resume` completes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Incomplete>,
    /// Where the run's time went, by task and cell (absent from results of upbench ≤ 0.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Each task's empirical frontier: the tightest upper bound on N(X|Y) its valid results prove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frontiers: Vec<Frontier>,
}

/// What an interrupted run lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incomplete {
    /// Cells in the plan.
    pub planned: usize,
    /// The cells that did not complete, as `<configuration> on <task>`.
    pub missing: Vec<String>,
}
