//! What every cell's task shares, exact or image: the [`Task`] trait, the model under evaluation
//! ([`ModelRun`]), what a task measured of it ([`Measured`]) and why a cell failed
//! ([`CellError`]). Its own file so that the tasks (`exact.rs`, `images.rs`) and the cell that
//! prepares and evaluates them (`cell.rs`) do not import each other.

use std::ops::Range;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Tensor;
use upbench_sdk::{ModelBox, PluginError, TaskSpec};

use crate::estimate::calibration::CalibrationStats;
use crate::estimate::{Estimate, EstimateError, Estimator, ObservationStats};
use crate::judge::Reason;
use crate::plan::Cell;
use crate::plugin::{LoadError, LoadedPlugin, ParamError, PluginConfig};
use crate::record::{Cause, Failure, ImageScore, QualityMean, Stage, StageTimes, TaskSummary};
use crate::run::{self, CallTimes, GivenSamples, RunError};
use crate::seed::derive_seed;
use crate::setup::RunPlan;
use crate::task::TaskError;

/// The plugin name of results judged from given samples (`upbench judge`).
pub const GIVEN_SAMPLES: &str = "given-samples";

/// Why a cell, or a part of it, failed: typed up to the [`Failure`] record, whose stage it
/// decides.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// The plugin library did not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The library is not the one the plan was made with.
    #[error("the library changed since the run was planned (its SHA-256 differs)")]
    LibraryChanged,
    /// The cell names a `[[plugin]]` entry the suite does not have.
    #[error("the suite has no plugin entry {0}")]
    NoEntry(usize),
    /// The entry's parameters no longer resolve.
    #[error(transparent)]
    Params(#[from] ParamError),
    /// The cell's configuration is not among the entry's.
    #[error("the suite no longer has this configuration")]
    NoConfiguration,
    /// The plugin refused to construct the model.
    #[error("{0}")]
    Construct(PluginError),
    /// The cell names a task the suite does not have.
    #[error("the suite has no task '{0}'")]
    NoTask(String),
    /// The task could not be built or its data drawn.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The orchestrator sent no summary of the task.
    #[error("no task summary was sent")]
    NoSummary,
    /// `restore` failed or returned something unusable, on the named images if any.
    #[error("{}{source}", on.as_ref().map(|names| format!("{names}: ")).unwrap_or_default())]
    Run {
        /// The images of the failed call (image tasks).
        on: Option<String>,
        /// What went wrong.
        source: RunError,
    },
    /// The statistics could not be estimated.
    #[error(transparent)]
    Estimate(#[from] EstimateError),
    /// One image could not be estimated on one patch side; the others were.
    #[error("{image} (p = {patch}): {source}; left out of this patch side")]
    ImageLeftOut {
        /// The image.
        image: String,
        /// The patch side.
        patch: usize,
        /// Why.
        source: EstimateError,
    },
    /// No image of a patch side could be estimated.
    #[error("no image of {task} could be estimated: {causes}")]
    NothingEstimated {
        /// The patch side's task name.
        task: String,
        /// Each image's failure, joined.
        causes: String,
    },
    /// A quality metric (NIQE, BRISQUE, ST-LPIPS) could not score an image's output; the image
    /// lacks that score, the rest stands.
    #[error("quality metric: {0}")]
    Quality(String),
    /// Timing failed after the quality numbers were in.
    #[error("timing failed after the quality numbers were measured: {0}")]
    Timing(RunError),
    /// An image's sample grid could not be drawn or written.
    #[error("{image}: sample grid: {message}")]
    Grid {
        /// The image.
        image: String,
        /// Why.
        message: String,
    },
}

impl CellError {
    /// The stage of the pipeline it belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            CellError::Load(_) | CellError::LibraryChanged => Stage::Load,
            CellError::NoEntry(_) | CellError::Params(_) | CellError::NoConfiguration | CellError::Construct(_) => {
                Stage::Configure
            }
            CellError::NoTask(_) | CellError::Task(_) | CellError::NoSummary => Stage::Task,
            CellError::Run { .. } | CellError::Timing(_) => Stage::Run,
            CellError::Estimate(_)
            | CellError::ImageLeftOut { .. }
            | CellError::NothingEstimated { .. }
            | CellError::Quality(_) => Stage::Estimate,
            CellError::Grid { .. } => Stage::Report,
        }
    }
}

impl CellError {
    /// The kind of fault its record states ([`Cause`]), from its type.
    pub fn cause(&self) -> Cause {
        match self {
            CellError::Load(_) => Cause::PluginLoad,
            CellError::LibraryChanged => Cause::PluginChanged,
            CellError::NoEntry(_) | CellError::NoConfiguration | CellError::NoTask(_) | CellError::NoSummary => {
                Cause::PlanMismatch
            }
            CellError::Params(e) => Cause::Parameter { name: e.param_name().to_string() },
            CellError::Construct(_) => Cause::Refused,
            CellError::Task(_) => Cause::Task,
            CellError::Run { source, .. } => match source {
                RunError::Plugin(_) => Cause::ModelError,
                RunError::Malformed(_) => Cause::MalformedOutput,
                RunError::NonFinite => Cause::NonFiniteOutput,
                RunError::Torch(_) => Cause::Torch,
            },
            CellError::Timing(_) => Cause::Timing,
            CellError::Quality(_) => Cause::Metric,
            CellError::Estimate(_) | CellError::ImageLeftOut { .. } | CellError::NothingEstimated { .. } => {
                Cause::Estimate
            }
            CellError::Grid { .. } => Cause::Output,
        }
    }
}

/// The record of `error` in `cell`.
pub(crate) fn failure(cell: &Cell, error: &CellError) -> Failure {
    Failure {
        stage: error.stage(),
        cause: error.cause(),
        subject: cell.subject(),
        task: Some(cell.task.clone()),
        message: error.to_string(),
    }
}

/// A task built: its summaries (none when it could not be built) and its problems.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskBuilt {
    /// One for an exact task, one per patch side for an image task; `None`: not built.
    pub summaries: Option<Vec<TaskSummary>>,
    /// Why it could not be built, or what it lacks (an image task without an N(X|Y) estimate).
    pub problems: Vec<Failure>,
    /// Seconds it took: its data, measurements and N(X|Y).
    #[serde(default)]
    pub build_secs: f64,
}

/// A task prepared for its cells: [`exact::PreparedExact`] or [`images::PreparedImage`].
pub(crate) trait Task {
    /// States the task's N(X|Y) once: its summaries (one for an exact task, one per patch side
    /// for an image task) and what the task lacks without failing (an image task runs without
    /// an estimate of N(X|Y), and says why).
    fn summaries(&self, plan: &RunPlan) -> Result<(Vec<TaskSummary>, Option<TaskError>), TaskError>;

    /// What the plugins are told.
    fn spec(&self, device: upbench_sdk::Device) -> TaskSpec;

    /// K, the samples a stochastic model draws per observation.
    fn samples_per_observation(&self) -> usize;

    /// Runs the model on every observation and estimates; one [`Measured::stats`] per summary.
    fn measure(&self, run: &mut ModelRun<'_>, summaries: &[TaskSummary]) -> Result<Measured, CellError>;

    /// The measurements throughput is timed on, and the shape of one sample.
    fn timing_batch(&self, device: tch::Device) -> Result<(Tensor, Vec<i64>), CellError>;

    /// What a model receives, input by input (`upbench export-task`, `upbench judge`): all
    /// measurements of an exact task at once, an image task's images one by one.
    fn inputs(&self) -> Vec<TaskInput>;
}

/// One of a task's inputs: measurements as `restore` receives them, the observations they are,
/// and the shape of one sample of the answer.
pub struct TaskInput {
    /// `measurements` (exact tasks) or the image's file name.
    pub name: String,
    /// `[b, …]`: the measurements of the observations, as plugins get them.
    pub measurements: Tensor,
    /// Which observations, in task order.
    pub observations: Range<usize>,
    /// `[d]` or `[C, H, W]`.
    pub sample_shape: Vec<i64>,
}

/// Where a cell's samples come from.
pub(crate) enum Sampler<'a> {
    /// A plugin's model, run on the measurements.
    Model(&'a mut ModelBox),
    /// Samples made outside upbench (`upbench judge`), in task order.
    Given(&'a GivenSamples),
}

/// A model under evaluation, with what its task needs to run and estimate it.
pub(crate) struct ModelRun<'a> {
    /// Where its samples come from.
    pub sampler: Sampler<'a>,
    /// Whether it samples (else it is asked for one output per observation).
    pub stochastic: bool,
    /// Samples per observation it is asked for (1 for a deterministic configuration).
    pub samples: u32,
    /// The configuration's label (seed streams).
    pub label: &'a str,
    /// The run.
    pub plan: &'a RunPlan,
    /// The run's estimator.
    pub estimator: &'a dyn Estimator,
    /// The model's calls, timed.
    pub calls: CallTimes,
    /// The harness's stages the task times (estimation, grids).
    pub stages: StageTimes,
}

impl ModelRun<'_> {
    /// The samples `[b, K, sample…]` of `observations`, whose measurements are `measurements`:
    /// the model's, seeded from the suite's seed and `stream`, or the given ones.
    pub fn restore(
        &mut self,
        measurements: &Tensor,
        observations: Range<usize>,
        stream: &[&str],
        sample_shape: &[i64],
    ) -> Result<Tensor, RunError> {
        match &mut self.sampler {
            Sampler::Model(model) => {
                let mut names = vec!["model"];
                names.extend_from_slice(stream);
                let seed = derive_seed(self.plan.suite.file.seed, &names);
                let (samples, secs) = run::restore_timed(model, measurements, self.samples, seed, sample_shape)?;
                self.stages.restore_secs += secs;
                let batch = measurements.size()[0];
                self.calls.push(secs, batch, batch * i64::from(self.samples));
                Ok(samples)
            }
            Sampler::Given(given) => given.slice(observations, measurements.device()),
        }
    }
}

/// What a cell evaluates.
pub(crate) enum Subject<'a> {
    /// A plugin's configuration.
    Plugin {
        /// The plugin.
        plugin: &'a LoadedPlugin,
        /// The configuration.
        config: &'a PluginConfig,
    },
    /// Samples made outside upbench.
    Given {
        /// The samples.
        samples: &'a GivenSamples,
        /// The table's name for them.
        label: &'a str,
        /// Where they were read from, for the record.
        origin: &'a str,
    },
}

/// What a task measured of one model.
#[derive(Default)]
pub(crate) struct Measured {
    /// Per summary, in order: the per-observation statistics and a reason the task adds to
    /// the judge's (too few patches per image).
    pub stats: Vec<(ObservationStats, Option<Reason>)>,
    /// Image tasks: PSNR-Y and SSIM, mean over images.
    pub image_scores: Option<(Estimate, Estimate)>,
    /// Image tasks: per summary, in order, each image's scores.
    pub images: Vec<Vec<ImageScore>>,
    /// Image tasks: each quality metric's mean over the images.
    pub quality: Vec<QualityMean>,
    /// Stochastic configurations: the ranks of the truth among the samples, for calibration.
    pub calibration: Option<CalibrationStats>,
    /// Image tasks: the sample grids written, relative to the run directory.
    pub sample_grids: Vec<String>,
    /// Failures that spared the results (an image left out, a grid not written).
    pub notes: Vec<CellError>,
}

/// Seconds since `start`.
pub(crate) fn secs_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}
