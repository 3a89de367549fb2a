//! Stage 6: everything a run reports, in one [`RunReport`], and the exporters that render it.
//!
//! Exporters are pure ([`Exporter::serialize`] returns bytes); [`write_run`] owns the files.
//! The JSON format is `RunReport` serialised with serde: every field is documented here, units
//! are in the field names or docs, +∞ (the perception index of a deterministic model) is written
//! as `null`, and `schema_version` follows [`SCHEMA_VERSION`]'s rule.

mod csv;
mod manifest;
mod table;

pub use csv::CsvExporter;
pub use manifest::{git_commit, libtorch_build, Manifest, PluginRecord};
pub use table::TableExporter;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::estimate::Estimate;
use crate::judge::Judgement;

/// Version of the results format. Compatibility rule: adding fields keeps the number (readers
/// ignore unknown fields); renaming, removing or changing the meaning of one increments it.
pub const SCHEMA_VERSION: u32 = 1;

/// One task as run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// Name in the suite.
    pub name: String,
    /// Denoising, inpainting or super-resolution.
    pub kind: String,
    /// The prior, e.g. `ar1(ρ=0.8)`.
    pub prior: String,
    /// d.
    pub signal_dim: usize,
    /// m.
    pub measurement_dim: usize,
    /// σ.
    pub noise_std: f64,
    /// N(X|Y) per dimension: exact for a Gaussian prior, a Monte-Carlo estimate for a mixture,
    /// an estimate or unknown (NaN, written `null`) for real images; see `inherent_basis`.
    pub inherent_uncertainty: f64,
    /// Where N(X|Y) comes from, in words: the label every output carries.
    #[serde(default)]
    pub inherent_basis: String,
    /// The Monte-Carlo interval of N(X|Y) (mixture priors only).
    pub inherent_uncertainty_ci: Option<crate::estimate::ConfidenceInterval>,
    /// N(X_G|Y) per dimension, exact.
    pub gaussian_inherent_uncertainty: f64,
    /// Mean prior variance, the "peak²" of the PSNR column (1 for images: the [0, 1] scale).
    pub signal_power: f64,
    /// For image tasks: the set, the degradation and the patch protocol, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageTaskInfo>,
    /// n.
    pub observations: usize,
    /// K.
    pub samples_per_observation: usize,
}

/// What an image task is, for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageTaskInfo {
    /// The registered set.
    pub dataset: String,
    /// Images used.
    pub images: usize,
    /// `rgb` or `grey`.
    pub colour: String,
    /// e.g. `bicubic ×4`.
    pub degradation: String,
    /// p, the patch side (d = C·p²).
    pub patch: usize,
    /// Pixels left out at each border (SR scale) for patches, PSNR and SSIM.
    pub border: usize,
}

/// One plugin configuration measured on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigResult {
    /// Task name.
    pub task: String,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub plugin_version: String,
    /// Table label, e.g. `gamma-optimal(gamma=0.5)`.
    pub label: String,
    /// Every parameter value, as text.
    pub params: Vec<(String, String)>,
    /// Whether the model is a sampler.
    pub stochastic: bool,
    /// 1 = closest to the bound among this task's valid results.
    pub rank: usize,
    /// Uncertainty, perception, distortion and verdicts.
    #[serde(flatten)]
    pub judgement: Judgement,
    /// 10·log10(signal_power / MSE), dB (images: all channels, over the patches' pixels).
    pub psnr_db: f64,
    /// Images: PSNR of the luma, 8-bit, border cropped (the SR literature's), mean over images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_y_db: Option<Estimate>,
    /// Images: SSIM of the luma, same conventions, mean over images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssim: Option<Estimate>,
    /// Samples per second of `restore`; `None` when timing failed (recorded in `failures`).
    pub throughput_samples_per_sec: Option<Estimate>,
}

/// Where in the pipeline something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Loading a plugin library.
    Load,
    /// Building a task.
    Task,
    /// Resolving parameters or constructing a model.
    Configure,
    /// Running `restore`.
    Run,
    /// Estimating.
    Estimate,
}

/// A failure recorded while the rest of the run went on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The stage.
    pub stage: Stage,
    /// The plugin (with its path) or task concerned.
    pub subject: String,
    /// The task, when the failure is specific to one.
    pub task: Option<String>,
    /// The full error message.
    pub message: String,
}

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
}

/// Renders a report into one format.
pub trait Exporter {
    /// The file name it writes in a run directory.
    fn file_name(&self) -> &'static str;
    /// The bytes of that file.
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError>;
}

/// Pretty JSON of the whole [`RunReport`].
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn file_name(&self) -> &'static str {
        "results.json"
    }
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        let mut bytes = serde_json::to_vec_pretty(report)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The manifest alone, as JSON.
pub struct ManifestExporter;

impl Exporter for ManifestExporter {
    fn file_name(&self) -> &'static str {
        "manifest.json"
    }
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        let mut bytes = serde_json::to_vec_pretty(&report.manifest)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Why a report could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// JSON serialisation failed.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Creates the run directory (before any work, so a bad `--out` fails first).
pub fn create_run_dir(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })
}

/// Writes `results.json`, `results.csv`, `manifest.json` and `table.txt` into `dir`.
pub fn write_run(report: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let exporters: [&dyn Exporter; 4] =
        [&JsonExporter, &CsvExporter, &ManifestExporter, &TableExporter { width: Some(200) }];
    let mut written = Vec::new();
    for exporter in exporters {
        let path = dir.join(exporter.file_name());
        let bytes = exporter.serialize(report)?;
        std::fs::write(&path, bytes).map_err(|source| ReportError::Io { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}
