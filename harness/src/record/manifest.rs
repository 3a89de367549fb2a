//! Provenance of a run: enough to reproduce it and to know what produced each number.

use serde::{Deserialize, Serialize};

use crate::estimate::EstimatorConfig;
use crate::suite::SamplingConfig;

/// One plugin library used in the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// Metadata name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Library path.
    pub path: String,
    /// SHA-256 of the library file.
    pub sha256: String,
    /// The upbench-sdk version it was built against.
    pub sdk_version: String,
}

/// Run provenance, written as `manifest.json` and inside `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `YYYYMMDD-HHMMSS-<suite>`; also the run directory's name.
    pub run_id: String,
    /// Suite name.
    pub suite: String,
    /// Suite file path, or `<default suite>`.
    pub suite_origin: String,
    /// Master seed.
    pub seed: u64,
    /// Start time, RFC 3339, UTC.
    pub started_at: String,
    /// Wall time of the whole run, seconds.
    #[serde(with = "crate::float")]
    pub wall_secs: f64,
    /// upbench version (also the SDK version the harness was built with).
    pub upbench_version: String,
    /// Git commit the harness was built from (`-dirty` if it had local changes).
    pub git_commit: String,
    /// libtorch version linked, e.g. `2.11.0+cu130`.
    pub libtorch_version: String,
    /// CUDA version libtorch was built for.
    pub libtorch_cuda: String,
    /// Device the run used: `cpu` or `cuda:0`.
    pub device: String,
    /// Whether libtorch saw a CUDA device.
    pub cuda_available: bool,
    /// CPU threads libtorch uses.
    pub torch_threads: i32,
    /// Estimator and its settings.
    pub estimator: EstimatorConfig,
    /// n and K.
    pub sampling: SamplingConfig,
    /// How the confidence intervals were formed (runs before this field used the percentile
    /// bootstrap).
    #[serde(default = "default_interval_method")]
    pub interval_method: crate::estimate::IntervalMethod,
    /// Resamples of the percentile bootstrap (unused by the jackknife).
    pub bootstrap_resamples: usize,
    /// Interval coverage.
    #[serde(with = "crate::float")]
    pub confidence_level: f64,
    /// Relative tolerance of the region calls around the optimal band.
    #[serde(with = "crate::float", default = "default_band_tolerance")]
    pub band_tolerance: f64,
    /// Plugin libraries that loaded.
    pub plugins: Vec<PluginRecord>,
    /// The data directory image tasks read (when the suite has any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
}

/// What runs before the field existed used.
fn default_interval_method() -> crate::estimate::IntervalMethod {
    crate::estimate::IntervalMethod::PercentileBootstrap
}

/// What runs before the field existed used.
fn default_band_tolerance() -> f64 {
    0.02
}

/// libtorch version and CUDA build, as recorded when the harness was built.
pub fn libtorch_build() -> (&'static str, &'static str) {
    (env!("UPBENCH_LIBTORCH_VERSION"), env!("UPBENCH_LIBTORCH_CUDA"))
}

/// The commit the harness was built from.
pub fn git_commit() -> &'static str {
    env!("UPBENCH_GIT_COMMIT")
}
