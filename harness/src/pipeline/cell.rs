//! One cell, evaluated: the one code path every cell takes, in a worker process or in the
//! harness's own. A [`Workbench`] holds what cells share — the plugin libraries it opened and the
//! task it prepared last (cells arrive grouped by task) — and turns a [`CellRequest`] into a
//! [`CellOutcome`]. A [`Task`] supplies only what differs between exact and image tasks: its
//! summaries and how a model's outputs on its observations become per-observation statistics;
//! constructing the model, judging, timing and assembling the result are [`evaluate`]'s alone.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Tensor;
use upbench_sdk::{ModelBox, PluginError, TaskSpec};

use super::{exact, images, RunPlan};
use crate::estimate::{Estimate, EstimateError, Estimator, ObservationStats};
use crate::judge::{self, JudgeConfig, Raise, Reason, TaskTruth};
use crate::plan::{Cell, TaskType};
use crate::plugin::{self, LoadError, LoadedPlugin, ParamError, PluginConfig};
use crate::report::plots::file_stem;
use crate::report::{ConfigResult, Failure, ImageScore, Stage, TaskSummary};
use crate::run::{self, CallTimes, GivenSamples, RunError};
use crate::seed::derive_seed;
use crate::task::TaskError;

/// What a cell needs besides the suite: the cell and its task's summaries (N(X|Y), as the
/// orchestrator stated it once for every cell of the task).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellRequest {
    /// The cell.
    pub cell: Cell,
    /// Its task's summaries: one for an exact task, one per patch side for an image task.
    pub summaries: Vec<TaskSummary>,
}

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

/// Where a cell's wall time went, by stage, in seconds: inside the plugin (its constructor and
/// its `restore` for the quality run), and the harness's own work around it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimes {
    /// Inside the plugin's `restore`: the calls that made the measured samples.
    pub restore_secs: f64,
    /// Inside the plugin's constructor: its model built (weights read, its own set-up).
    #[serde(default)]
    pub construct_secs: f64,
    /// Estimating U, P and distortion (per image: PSNR-Y and SSIM too).
    pub estimate_secs: f64,
    /// Judging: intervals, the bound, region and verdict.
    pub judge_secs: f64,
    /// Measuring throughput (criterion's extra calls included).
    pub timing_secs: f64,
    /// Drawing and writing sample grids.
    pub grids_secs: f64,
    /// Opening plugin libraries this process had not opened yet (reading and hashing the file,
    /// loading it).
    #[serde(default)]
    pub load_secs: f64,
    /// The rest of the cell: preparing the task in this process, batches, checks, assembling.
    pub other_secs: f64,
}

impl StageTimes {
    /// Everything, in seconds.
    pub fn total(&self) -> f64 {
        self.restore_secs
            + self.construct_secs
            + self.estimate_secs
            + self.judge_secs
            + self.timing_secs
            + self.grids_secs
            + self.load_secs
            + self.other_secs
    }

    /// Inside the plugin's code: its constructor and its `restore` calls.
    pub fn plugin_secs(&self) -> f64 {
        self.restore_secs + self.construct_secs
    }

    /// The harness's own work: everything but the plugin's code and criterion's timing calls.
    pub fn harness_secs(&self) -> f64 {
        (self.total() - self.plugin_secs() - self.timing_secs).max(0.0)
    }

    /// Adds `other`'s stages to these.
    pub fn add(&mut self, other: &StageTimes) {
        self.restore_secs += other.restore_secs;
        self.construct_secs += other.construct_secs;
        self.estimate_secs += other.estimate_secs;
        self.judge_secs += other.judge_secs;
        self.timing_secs += other.timing_secs;
        self.grids_secs += other.grids_secs;
        self.load_secs += other.load_secs;
        self.other_secs += other.other_secs;
    }
}

/// Seconds since `start`.
pub(crate) fn secs_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

impl CellOutcome {
    /// An outcome with one failure and no results.
    pub fn failed(cell: &Cell, error: &CellError) -> CellOutcome {
        CellOutcome { results: Vec::new(), failures: vec![failure(cell, error)], stages: StageTimes::default() }
    }
}

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
    /// The worker process running the cell died, hung or broke the protocol (described).
    #[error("{0}")]
    Worker(String),
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
            CellError::Run { .. } | CellError::Timing(_) | CellError::Worker(_) => Stage::Run,
            CellError::Estimate(_) | CellError::ImageLeftOut { .. } | CellError::NothingEstimated { .. } => {
                Stage::Estimate
            }
            CellError::Grid { .. } => Stage::Report,
        }
    }
}

/// The record of `error` in `cell`.
pub(crate) fn failure(cell: &Cell, error: &CellError) -> Failure {
    Failure { stage: error.stage(), subject: cell.subject(), task: Some(cell.task.clone()), message: error.to_string() }
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
    /// Image tasks: the sample grids written, relative to the run directory.
    pub sample_grids: Vec<String>,
    /// Failures that spared the results (an image left out, a grid not written).
    pub notes: Vec<CellError>,
}

/// Evaluates a plugin's configuration or given samples on a prepared task: constructs the
/// model, measures it, judges each summary, times it (models only). Failures that spare the
/// results come back beside them.
pub(crate) fn evaluate(
    plan: &RunPlan,
    subject: &Subject<'_>,
    (task_name, task): (&str, &dyn Task),
    summaries: &[TaskSummary],
) -> Result<(Vec<ConfigResult>, Vec<CellError>, StageTimes), CellError> {
    let started = Instant::now();
    let file = &plan.suite.file;
    let estimator = file.estimator.estimator();
    let intervals = |names: &[&str]| file.statistics.intervals(derive_seed(file.seed, names));
    let (label, mut measured, stochastic, timing, mut stages) = match subject {
        Subject::Plugin { plugin, config } => {
            let spec = task.spec(crate::device::sdk_device(plan.device));
            let constructing = Instant::now();
            let mut model = plugin.new_model(&config.params, &spec).map_err(CellError::Construct)?;
            let construct_secs = secs_since(constructing);
            let stochastic = plugin.samples(&model);
            let samples = if stochastic { task.samples_per_observation() as u32 } else { 1 };
            let sampler = Sampler::Model(&mut model);
            let mut run = ModelRun {
                sampler,
                stochastic,
                samples,
                label: &config.label,
                plan,
                estimator: estimator.as_ref(),
                calls: CallTimes::default(),
                stages: StageTimes::default(),
            };
            let mut measured = task.measure(&mut run, summaries)?;
            let (calls, mut stages) = (run.calls, run.stages);
            stages.construct_secs = construct_secs;
            let timing_started = Instant::now();
            let timing = time_model(plan, &mut model, (task_name, task), config, samples, &calls)
                .unwrap_or_else(|e| {
                    measured.notes.push(CellError::Timing(e));
                    None
                })
                .or_else(|| calls.timing(intervals(&["timing", task_name, &config.label])));
            stages.timing_secs = secs_since(timing_started);
            (config.label.as_str(), measured, stochastic, timing, stages)
        }
        Subject::Given { samples, label, .. } => {
            let k = samples.samples_per_observation();
            let sampler = Sampler::Given(samples);
            let mut run = ModelRun {
                sampler,
                stochastic: k > 1,
                samples: k as u32,
                label,
                plan,
                estimator: estimator.as_ref(),
                calls: CallTimes::default(),
                stages: StageTimes::default(),
            };
            let measured = task.measure(&mut run, summaries)?;
            (*label, measured, k > 1, None, run.stages)
        }
    };
    let judging = Instant::now();
    let (plugin_name, plugin_version, params) = match subject {
        Subject::Plugin { plugin, config } => (
            plugin.name().to_string(),
            plugin.metadata.version.to_string(),
            config.params.entries.iter().map(|p| (p.name.to_string(), p.value.to_string())).collect(),
        ),
        Subject::Given { origin, .. } => (
            GIVEN_SAMPLES.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
            vec![("samples".into(), origin.to_string())],
        ),
    };
    let mut results = Vec::with_capacity(summaries.len());
    let mut images = measured.images.into_iter();
    for ((stats, reason), summary) in measured.stats.into_iter().zip(summaries) {
        let raise = if summary.image.is_some() { Raise::PatchesPerImage } else { Raise::SamplesPerObservation };
        let truth = TaskTruth { inherent: &summary.inherent, dim: summary.signal_dim, mmse: summary.mmse, raise };
        let judge_config = JudgeConfig {
            intervals: intervals(&["bootstrap", &summary.name, label]),
            band_tolerance: file.statistics.band_tolerance,
        };
        let mut judgement = judge::judge(&stats, &truth, &judge_config);
        if let Some(reason) = reason {
            judgement.validity = judgement.validity.with_reason(reason);
        }
        let psnr_db = 10.0 * (summary.signal_power / judgement.mse.point).log10();
        let (psnr_y_db, ssim) = measured.image_scores.map_or((None, None), |(p, s)| (Some(p), Some(s)));
        results.push(ConfigResult {
            task: summary.name.clone(),
            plugin: plugin_name.clone(),
            plugin_version: plugin_version.clone(),
            label: label.to_string(),
            params: params.clone(),
            stochastic,
            rank: 0,
            judgement,
            psnr_db,
            psnr_y_db,
            ssim,
            efficiency: None,
            timing: timing.clone(),
            sample_grids: measured.sample_grids.clone(),
            images: images.next().unwrap_or_default(),
        });
    }
    stages.judge_secs = secs_since(judging);
    let counted = stages.total();
    stages.other_secs = (secs_since(started) - counted).max(0.0);
    Ok((results, std::mem::take(&mut measured.notes), stages))
}

/// criterion's timing of the first batch, when its calls fit the suite's budget (`Ok(None)`
/// when they do not: the quality run's own calls stand).
fn time_model(
    plan: &RunPlan,
    model: &mut ModelBox,
    (task_name, task): (&str, &dyn Task),
    config: &PluginConfig,
    samples: u32,
    calls: &CallTimes,
) -> Result<Option<run::Timing>, RunError> {
    let file = &plan.suite.file;
    let (batch, sample_shape) = task.timing_batch(plan.device).map_err(|e| RunError::Malformed(e.to_string()))?;
    if !run::criterion_fits(&file.timing, calls, batch.size()[0]) {
        return Ok(None);
    }
    let relative = format!("criterion/{}/{}", file_stem(task_name), file_stem(&config.label));
    let (dir, directory, scratch) = match &plan.figure_dir {
        Some(run_dir) => (run_dir.join(&relative), Some(relative), false),
        None => (std::env::temp_dir().join(format!("upbench-criterion-{}", std::process::id())), None, true),
    };
    let seed = derive_seed(file.seed, &["timing", task_name, &config.label]);
    let level = file.statistics.confidence_level;
    let timed =
        run::with_criterion(model, &batch, samples, &sample_shape, &file.timing, level, seed, (&dir, directory));
    if scratch {
        let _ = std::fs::remove_dir_all(&dir);
    }
    timed.map(Some)
}

/// Evaluates cells of one plan; see the module docs.
pub struct Workbench<'p> {
    plan: &'p RunPlan,
    libraries: Vec<(PathBuf, LoadedPlugin)>,
    prepared: Option<(String, Box<dyn Task>)>,
}

impl<'p> Workbench<'p> {
    /// A workbench for `plan`, starting with libraries already loaded (none in a worker).
    pub fn new(plan: &'p RunPlan, libraries: Vec<(PathBuf, LoadedPlugin)>) -> Workbench<'p> {
        Workbench { plan, libraries, prepared: None }
    }

    /// Builds task `name` and states its N(X|Y) (its summaries), keeping its data for the
    /// cells that follow; a task that cannot be built comes back as its problem.
    pub fn build_task(&mut self, name: &str, task_type: TaskType) -> TaskBuilt {
        let started = Instant::now();
        let built = self.build(name, task_type);
        TaskBuilt { build_secs: secs_since(started), ..built }
    }

    fn build(&mut self, name: &str, task_type: TaskType) -> TaskBuilt {
        self.prepared = None;
        let problem = |error: &dyn std::fmt::Display| Failure {
            stage: Stage::Task,
            subject: name.to_string(),
            task: Some(name.to_string()),
            message: error.to_string(),
        };
        let task = match prepare(self.plan, name, task_type) {
            Ok(task) => task,
            Err(e) => return TaskBuilt { summaries: None, problems: vec![problem(&e)], build_secs: 0.0 },
        };
        match task.summaries(self.plan) {
            Ok((summaries, lacking)) => {
                self.prepared = Some((name.to_string(), task));
                let problems = lacking.iter().map(|e| problem(e)).collect();
                TaskBuilt { summaries: Some(summaries), problems, build_secs: 0.0 }
            }
            Err(e) => TaskBuilt { summaries: None, problems: vec![problem(&e)], build_secs: 0.0 },
        }
    }

    /// Runs the cell; every failure comes back in the outcome, named.
    pub fn evaluate(&mut self, request: &CellRequest) -> CellOutcome {
        let cell = &request.cell;
        let started = Instant::now();
        match self.evaluate_cell(request) {
            Ok((results, notes, mut stages)) => {
                // Loading the library and preparing the task count as the cell's other work.
                stages.other_secs += (secs_since(started) - stages.total()).max(0.0);
                CellOutcome { results, failures: notes.iter().map(|e| failure(cell, e)).collect(), stages }
            }
            Err(e) => {
                let stages = StageTimes { other_secs: secs_since(started), ..StageTimes::default() };
                CellOutcome { stages, ..CellOutcome::failed(cell, &e) }
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn evaluate_cell(
        &mut self,
        request: &CellRequest,
    ) -> Result<(Vec<ConfigResult>, Vec<CellError>, StageTimes), CellError> {
        let cell = &request.cell;
        let loading = Instant::now();
        let library = self.library(&cell.library)?;
        let load_secs = secs_since(loading);
        let plugin = &self.libraries[library].1;
        if plugin.sha256 != cell.library_sha256 {
            return Err(CellError::LibraryChanged);
        }
        let entry = self.plan.suite.file.plugins.get(cell.entry).ok_or(CellError::NoEntry(cell.entry))?;
        let configs = super::configurations(self.plan, plugin, entry)?;
        let config = configs.into_iter().find(|c| c.label == cell.label).ok_or(CellError::NoConfiguration)?;
        if self.prepared.as_ref().is_none_or(|(name, _)| *name != cell.task) {
            self.prepared = None;
            self.prepared = Some((cell.task.clone(), prepare(self.plan, &cell.task, cell.task_type)?));
        }
        let Some((_, task)) = &self.prepared else { unreachable!("prepared just above") };
        let subject = Subject::Plugin { plugin, config: &config };
        let (results, notes, stages) = evaluate(self.plan, &subject, (&cell.task, task.as_ref()), &request.summaries)?;
        Ok((results, notes, StageTimes { load_secs, ..stages }))
    }

    /// The index of the library at `path`, loading it the first time.
    fn library(&mut self, path: &Path) -> Result<usize, LoadError> {
        if let Some(i) = self.libraries.iter().position(|(p, _)| p == path) {
            return Ok(i);
        }
        let loaded = plugin::load(path, &self.plan.log_dir)?;
        self.libraries.push((path.to_path_buf(), loaded));
        Ok(self.libraries.len() - 1)
    }

    /// The libraries opened, for the manifest.
    pub fn libraries(&self) -> &[(PathBuf, LoadedPlugin)] {
        &self.libraries
    }
}

/// Prepares task `name` from the suite.
pub(crate) fn prepare(plan: &RunPlan, name: &str, task_type: TaskType) -> Result<Box<dyn Task>, CellError> {
    let file = &plan.suite.file;
    let missing = || CellError::NoTask(name.to_string());
    Ok(match task_type {
        TaskType::Exact => {
            let config = file.tasks.iter().find(|t| t.name == name).ok_or_else(missing)?;
            Box::new(exact::PreparedExact::new(plan, config)?)
        }
        TaskType::Image => {
            let config = file.image_tasks.iter().find(|t| t.name == name).ok_or_else(missing)?;
            Box::new(images::PreparedImage::new(plan, config)?)
        }
    })
}
