//! Stage 6: everything a run reports, in one [`RunReport`], and the exporters that render it.
//!
//! Exporters are pure ([`Exporter::serialize`] returns bytes); [`write_run`] owns the files.
//! The JSON format is `RunReport` serialised with serde: every field is documented here, units
//! are in the field names or docs, non-finite floats are written as text ([`float`]), and
//! `schema_version` follows [`SCHEMA_VERSION`]'s rule; `harness/schema/` holds its JSON Schema.

pub mod compare;
mod csv;
pub mod float;
pub mod grid;
pub mod html;
mod manifest;
mod markdown;
pub mod plots;
pub mod scores;
mod table;

pub use csv::{CsvExporter, ImagesCsvExporter};
pub use manifest::{git_commit, libtorch_build, Manifest, PluginRecord};
pub use markdown::MarkdownExporter;
pub use table::{TableExporter, TableLayout, PIPED_WIDTH};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::estimate::Estimate;
use crate::judge::Judgement;
use crate::task::InherentUncertainty;

/// Version of the results format. Compatibility rule: adding fields keeps the number (readers
/// ignore unknown fields); renaming, removing or changing the meaning of one increments it.
/// Version 2 writes ±∞ and NaN as text where version 1 wrote `null`; version 3 states a task's
/// N(X|Y) as one tagged `inherent` object where version 2 had four fields. Older versions are
/// read.
pub const SCHEMA_VERSION: u32 = 3;

/// The JSON Schema of [`SCHEMA_VERSION`], as shipped in `harness/schema/`.
pub const SCHEMA: &str = include_str!("../../schema/results-v3.schema.json");

/// One task as run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "TaskSummaryRecord")]
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
    #[serde(with = "crate::report::float")]
    pub noise_std: f64,
    /// N(X|Y) per dimension and where it comes from (schema 3; version 2 had four fields).
    pub inherent: InherentUncertainty,
    /// The MMSE per dimension, E tr Cov(X|Y)/d (exact tasks: closed form).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::report::float::option")]
    pub mmse: Option<f64>,
    /// Mean prior variance, the "peak²" of the PSNR column (1 for images: the [0, 1] scale).
    #[serde(with = "crate::report::float")]
    pub signal_power: f64,
    /// For image tasks: the set, the degradation and the patch protocol, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageTaskInfo>,
    /// n.
    pub observations: usize,
    /// K.
    pub samples_per_observation: usize,
}

/// A [`TaskSummary`] as schema versions 2 and 3 write it: version 2 stated N(X|Y) in four
/// fields (a number that was NaN when unknown, its basis in words, a Monte-Carlo interval and
/// N(X_G|Y)), which are read into the one [`InherentUncertainty`].
#[derive(Deserialize)]
struct TaskSummaryRecord {
    name: String,
    kind: String,
    prior: String,
    signal_dim: usize,
    measurement_dim: usize,
    #[serde(with = "crate::report::float")]
    noise_std: f64,
    #[serde(default)]
    inherent: Option<InherentUncertainty>,
    #[serde(default, with = "crate::report::float::option")]
    mmse: Option<f64>,
    #[serde(default, with = "crate::report::float::option")]
    inherent_uncertainty: Option<f64>,
    #[serde(default)]
    inherent_basis: String,
    #[serde(default)]
    inherent_uncertainty_ci: Option<crate::estimate::ConfidenceInterval>,
    #[serde(default, with = "crate::report::float::option")]
    gaussian_inherent_uncertainty: Option<f64>,
    #[serde(with = "crate::report::float")]
    signal_power: f64,
    #[serde(default)]
    image: Option<ImageTaskInfo>,
    observations: usize,
    samples_per_observation: usize,
}

impl From<TaskSummaryRecord> for TaskSummary {
    fn from(r: TaskSummaryRecord) -> TaskSummary {
        let value = r.inherent_uncertainty.filter(|v| !v.is_nan());
        let inherent = r.inherent.unwrap_or_else(|| match (value, &r.image, r.inherent_uncertainty_ci) {
            (None, _, _) => InherentUncertainty::Unknown { reason: r.inherent_basis },
            (Some(value), Some(_), _) => InherentUncertainty::Estimated { value, method: r.inherent_basis },
            (Some(value), None, None) => InherentUncertainty::Exact { value },
            (Some(value), None, Some(ci)) => InherentUncertainty::MonteCarlo {
                estimate: Estimate { point: value, ci, standard_error: f64::NAN, n: r.observations },
                gaussian: r.gaussian_inherent_uncertainty.unwrap_or(value),
            },
        });
        TaskSummary {
            name: r.name,
            kind: r.kind,
            prior: r.prior,
            signal_dim: r.signal_dim,
            measurement_dim: r.measurement_dim,
            noise_std: r.noise_std,
            inherent,
            mmse: r.mmse,
            signal_power: r.signal_power,
            image: r.image,
            observations: r.observations,
            samples_per_observation: r.samples_per_observation,
        }
    }
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
    #[serde(with = "crate::report::float")]
    pub psnr_db: f64,
    /// Images: PSNR of the luma, 8-bit, border cropped (the SR literature's), mean over images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_y_db: Option<Estimate>,
    /// Images: SSIM of the luma, same conventions, mean over images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssim: Option<Estimate>,
    /// N̂ of the task's frontier (the least [`Judgement::implied_inherent`] of its valid
    /// results) over this result's: 1 for the model that proves the tightest bound on N(X|Y).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::report::float::option")]
    pub efficiency: Option<f64>,
    /// How fast `restore` ran (schema 2: `throughput_samples_per_sec`, samples per second
    /// alone); `None` for samples judged from files, or when timing failed (in `failures`).
    #[serde(default, alias = "throughput_samples_per_sec", deserialize_with = "crate::run::timing_of_any_schema")]
    pub timing: Option<crate::run::Timing>,
    /// Images: PNGs of ground truth, measurement, a sample, the sample mean, the per-pixel
    /// standard deviation and the error, one per image with a grid, relative to the run directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_grids: Vec<String>,
    /// Image tasks: each image's scores, in the set's order (`images.csv`, the page's "Per
    /// image" section, `upbench compare`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageScore>,
}

/// One image's scores for one configuration on one patch side of an image task. The task's
/// PSNR-Y and SSIM are the means of these; its ln U and P the means of theirs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScore {
    /// The image's file name in the set.
    pub image: String,
    /// PSNR of the luma, dB (8-bit, border cropped; a grey image on its grey values), mean over
    /// the samples.
    #[serde(with = "crate::report::float")]
    pub psnr_y_db: f64,
    /// SSIM of the luma, same conventions, mean over the samples.
    #[serde(with = "crate::report::float")]
    pub ssim: f64,
    /// U from this image's error patches; `None` when the image was left out of this patch
    /// side (the failure says why).
    #[serde(default, with = "crate::report::float::option")]
    pub uncertainty: Option<f64>,
    /// P from this image's patches, nats; `None` as for `uncertainty`.
    #[serde(default, with = "crate::report::float::option")]
    pub perception_nats: Option<f64>,
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
    /// Writing a figure or report file.
    Report,
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

/// The empirical frontier of a task: every measured model proves N(X|Y) ≤ U / η(P; d)
/// (Theorem 3 applied to it); the least such bound over a task's valid results, and which
/// configuration gives it. On the plane, η(P; d)·N̂ is the frontier curve: no configuration
/// measured lies below it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frontier {
    /// The task (a patch side's name for image tasks).
    pub task: String,
    /// N̂ = U / η(P; d) of the configuration below, with its interval.
    pub inherent: Estimate,
    /// The configuration that proves it.
    pub label: String,
}

/// The frontier of each task's valid results, and each result's efficiency against it.
pub fn frontiers(tasks: &[TaskSummary], results: &mut [ConfigResult]) -> Vec<Frontier> {
    let mut out = Vec::new();
    for task in tasks {
        let best = results
            .iter()
            .filter(|r| r.task == task.name && r.judgement.validity.is_valid())
            .filter(|r| r.judgement.implied_inherent.point.is_finite() && r.judgement.implied_inherent.point > 0.0)
            .min_by(|a, b| a.judgement.implied_inherent.point.total_cmp(&b.judgement.implied_inherent.point))
            .map(|r| Frontier {
                task: task.name.clone(),
                inherent: r.judgement.implied_inherent,
                label: r.label.clone(),
            });
        for r in results.iter_mut().filter(|r| r.task == task.name) {
            let implied = r.judgement.implied_inherent.point;
            r.efficiency =
                best.as_ref().filter(|_| implied.is_finite() && implied > 0.0).map(|b| b.inherent.point / implied);
        }
        out.extend(best);
    }
    out
}

/// Where a run's time went: each task's build and each cell's stages, in seconds of wall time.
/// What none of them covers (starting workers, writing the log and the reports) is the run's
/// wall time less their sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Each build of a task: its data, measurements and N(X|Y).
    pub tasks: Vec<TaskTime>,
    /// Each cell's stages, in plan order.
    pub cells: Vec<CellTime>,
}

/// One task's build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskTime {
    /// The task.
    pub task: String,
    /// Seconds.
    pub build_secs: f64,
}

/// One cell's stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellTime {
    /// Its task.
    pub task: String,
    /// Its configuration.
    pub label: String,
    /// Where its time went.
    pub stages: crate::pipeline::StageTimes,
}

impl Profile {
    /// The run's `wall_secs` split by stage, in seconds: building tasks, each cell stage, and
    /// what no task or cell covers (starting workers, the log, the reports).
    pub fn split(&self, wall_secs: f64) -> Vec<(&'static str, f64)> {
        let cells = self.cell_totals();
        let builds = self.build_secs();
        let outside = (wall_secs - builds - cells.total()).max(0.0);
        vec![
            ("building tasks (data, degradations, N(X|Y))", builds),
            ("plugins' restore (the measured samples)", cells.restore_secs),
            ("plugins' constructors (models built)", cells.construct_secs),
            ("estimating U, P, distortion", cells.estimate_secs),
            ("judging (intervals, bound, verdicts)", cells.judge_secs),
            ("timing (criterion's extra calls)", cells.timing_secs),
            ("sample grids", cells.grids_secs),
            ("loading plugin libraries", cells.load_secs),
            ("other in cells (task prepared, checks, copies)", cells.other_secs),
            ("outside cells (workers, log, reports)", outside),
        ]
    }

    /// Every cell's stages added up.
    pub fn cell_totals(&self) -> crate::pipeline::StageTimes {
        let mut total = crate::pipeline::StageTimes::default();
        self.cells.iter().for_each(|c| total.add(&c.stages));
        total
    }

    /// Seconds spent building tasks.
    pub fn build_secs(&self) -> f64 {
        self.tasks.iter().map(|t| t.build_secs).sum()
    }
}

/// What an interrupted run lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incomplete {
    /// Cells in the plan.
    pub planned: usize,
    /// The cells that did not complete, as `<configuration> on <task>`.
    pub missing: Vec<String>,
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
    /// A results file could not be read.
    #[error("{path}: {cause}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error, with its line and column (in the message, so not also a `source`).
        cause: serde_json::Error,
    },
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    /// A results file from a newer upbench.
    #[error(
        "{path}: schema version {found}, but this upbench reads versions up to {SCHEMA_VERSION}; use a newer upbench"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its `schema_version`.
        found: u64,
    },
    /// A file could not be written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error (in the message, so not also a `source`).
        cause: std::io::Error,
    },
}

/// Reads the `results.json` of a run directory (or that file itself), of any schema version up
/// to [`SCHEMA_VERSION`].
pub fn read_run(path: &Path) -> Result<RunReport, ReportError> {
    let file = if path.is_dir() { path.join(JsonExporter.file_name()) } else { path.to_path_buf() };
    let bytes = std::fs::read(&file).map_err(|cause| ReportError::Io { path: file.clone(), cause })?;
    let parse = |cause| ReportError::Parse { path: file.clone(), cause };
    #[derive(Deserialize)]
    struct Versioned {
        schema_version: u64,
    }
    let found = serde_json::from_slice::<Versioned>(&bytes).map_err(parse)?.schema_version;
    if found > u64::from(SCHEMA_VERSION) {
        return Err(ReportError::Version { path: file, found });
    }
    serde_json::from_slice(&bytes).map_err(parse)
}

/// What [`write_run`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// Everything, `results.json` included: the end of a run.
    All,
    /// Everything derived from `results.json`, which is left as it is: `upbench report`.
    Derived,
}

/// Writes the run's files into `dir`: `results.json` (with [`Outputs::All`]), `results.csv`,
/// `images.csv`, `manifest.json`, `table.txt`, `report.md`, the plots as `plots/<name>.svg` and `.png`, and
/// `index.html`. Image grids already in `dir` (named by results) are embedded in the page.
pub fn write_run(report: &RunReport, dir: &Path, outputs: Outputs) -> Result<Vec<PathBuf>, ReportError> {
    let write = |path: PathBuf, bytes: &[u8], written: &mut Vec<PathBuf>| {
        std::fs::write(&path, bytes).map_err(|cause| ReportError::Io { path: path.clone(), cause })?;
        written.push(path);
        Ok::<_, ReportError>(())
    };
    let mut written = Vec::new();
    let exporters: [&dyn Exporter; 6] = [
        &JsonExporter,
        &CsvExporter,
        &ImagesCsvExporter,
        &ManifestExporter,
        &TableExporter { layout: TableLayout::Wide },
        &MarkdownExporter,
    ];
    for exporter in exporters {
        if outputs == Outputs::Derived && exporter.file_name() == JsonExporter.file_name() {
            continue;
        }
        write(dir.join(exporter.file_name()), &exporter.serialize(report)?, &mut written)?;
    }
    let figures = plots::figures(report)?;
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|cause| ReportError::Io { path: plot_dir.clone(), cause })?;
    for f in &figures {
        write(plot_dir.join(format!("{}.svg", f.name)), f.svg.as_bytes(), &mut written)?;
        write(plot_dir.join(format!("{}.png", f.name)), &f.png, &mut written)?;
    }
    write(dir.join("index.html"), html::render(report, &figures, dir).as_bytes(), &mut written)?;
    Ok(written)
}
