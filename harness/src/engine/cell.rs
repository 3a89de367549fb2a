//! One cell, evaluated: the one code path every cell takes, in a worker process or in the
//! harness's own. A [`Workbench`] holds what cells share — the plugin libraries it opened and the
//! task it prepared last (cells arrive grouped by task) — and turns a [`CellRequest`] into a
//! [`CellOutcome`]. A [`Task`] supplies only what differs between exact and image tasks: its
//! summaries and how a model's outputs on its observations become per-observation statistics;
//! constructing the model, judging, timing and assembling the result are [`evaluate`]'s alone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::task::{
    failure, secs_since, CellError, Measured, ModelRun, Sampler, Subject, Task, TaskBuilt, GIVEN_SAMPLES,
};
use super::{exact, images};
use crate::check::configurations;
use crate::draw::file_stem;
use crate::judge::calibration::judge_calibration;
use crate::judge::{self, JudgeConfig, Raise, TaskTruth};
use crate::plan::{Cell, TaskType};
use crate::plugin::{self, LoadError, LoadedPlugin, PluginConfig};
use crate::record::{CellOutcome, ConfigResult, Failure, Stage, StageTimes, TaskSummary};
use crate::run::{self, CallTimes, RunError};
use crate::seed::derive_seed;
use crate::setup::RunPlan;
use upbench_sdk::ModelBox;

/// What a cell needs besides the suite: the cell and its task's summaries (N(X|Y), as the
/// orchestrator stated it once for every cell of the task).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellRequest {
    /// The cell.
    pub cell: Cell,
    /// Its task's summaries: one for an exact task, one per patch side for an image task.
    pub summaries: Vec<TaskSummary>,
}

/// An outcome with one failure and no results.
pub fn failed(cell: &Cell, error: &CellError) -> CellOutcome {
    CellOutcome { results: Vec::new(), failures: vec![failure(cell, error)], stages: StageTimes::default() }
}

/// A prepared task with its name in the suite.
#[derive(Clone, Copy)]
pub(crate) struct NamedTask<'a> {
    /// The suite's name for it.
    pub name: &'a str,
    /// The task.
    pub task: &'a dyn Task,
}

/// What a cell's samples gave before judging.
struct Sampled<'a> {
    /// The configuration's label.
    label: &'a str,
    /// What the task measured.
    measured: Measured,
    /// Whether the samples come from a sampler.
    stochastic: bool,
    /// How fast the model ran (models only).
    timing: Option<run::Timing>,
    /// Where the time went so far.
    stages: StageTimes,
}

/// Evaluates a plugin's configuration or given samples on a prepared task: constructs the
/// model, measures it, judges each summary, times it (models only). Failures that spare the
/// results come back beside them.
pub(crate) fn evaluate(
    plan: &RunPlan,
    subject: &Subject<'_>,
    task: NamedTask<'_>,
    summaries: &[TaskSummary],
) -> Result<(Vec<ConfigResult>, Vec<CellError>, StageTimes), CellError> {
    let started = Instant::now();
    let estimator = plan.suite.file.estimator.estimator();
    let mut sampled = match subject {
        Subject::Plugin { plugin, config } => {
            sample_model(plan, (plugin, config), task, summaries, estimator.as_ref())?
        }
        Subject::Given { samples, label, .. } => {
            let k = samples.samples_per_observation();
            let mut run = ModelRun {
                sampler: Sampler::Given(samples),
                stochastic: k > 1,
                samples: k as u32,
                label,
                plan,
                estimator: estimator.as_ref(),
                calls: CallTimes::default(),
                stages: StageTimes::default(),
            };
            let measured = task.task.measure(&mut run, summaries)?;
            Sampled { label, measured, stochastic: k > 1, timing: None, stages: run.stages }
        }
    };
    let judging = Instant::now();
    let results = judged(plan, subject, &mut sampled, summaries);
    let mut stages = sampled.stages;
    stages.judge_secs = secs_since(judging);
    let counted = stages.total();
    stages.other_secs = (secs_since(started) - counted).max(0.0);
    Ok((results, std::mem::take(&mut sampled.measured.notes), stages))
}

/// A plugin's configuration constructed, run on the task and timed.
fn sample_model<'a>(
    plan: &RunPlan,
    (plugin, config): (&LoadedPlugin, &'a PluginConfig),
    task: NamedTask<'_>,
    summaries: &[TaskSummary],
    estimator: &dyn crate::estimate::Estimator,
) -> Result<Sampled<'a>, CellError> {
    let file = &plan.suite.file;
    let spec = plan.plugin_spec(task.task.spec(crate::device::sdk_device(plan.device)));
    let constructing = Instant::now();
    let mut model = plugin.new_model(&config.params, &spec).map_err(CellError::Construct)?;
    let construct_secs = secs_since(constructing);
    let stochastic = plugin.samples(&model);
    let samples = if stochastic { task.task.samples_per_observation() as u32 } else { 1 };
    let mut run = ModelRun {
        sampler: Sampler::Model(&mut model),
        stochastic,
        samples,
        label: &config.label,
        plan,
        estimator,
        calls: CallTimes::default(),
        stages: StageTimes::default(),
    };
    let mut measured = task.task.measure(&mut run, summaries)?;
    let (calls, mut stages) = (run.calls, run.stages);
    stages.construct_secs = construct_secs;
    let timing_started = Instant::now();
    let intervals = file.statistics.intervals(derive_seed(file.seed, &["timing", task.name, &config.label]));
    let timing = time_model(plan, &mut model, task, config, samples, &calls)
        .unwrap_or_else(|e| {
            measured.notes.push(CellError::Timing(e));
            None
        })
        .or_else(|| calls.timing(intervals));
    stages.timing_secs = secs_since(timing_started);
    Ok(Sampled { label: &config.label, measured, stochastic, timing, stages })
}

/// One result per summary: each judged against its N(X|Y), with the subject's identity and the
/// task's scores; ranks and efficiencies are set when the run's report is assembled.
fn judged(
    plan: &RunPlan,
    subject: &Subject<'_>,
    sampled: &mut Sampled<'_>,
    summaries: &[TaskSummary],
) -> Vec<ConfigResult> {
    let file = &plan.suite.file;
    let label = sampled.label;
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
    let measured = &mut sampled.measured;
    let calibration = measured.calibration.as_ref().map(|stats| {
        let intervals = file.statistics.intervals(derive_seed(file.seed, &["calibration", &summaries[0].name, label]));
        judge_calibration(stats.summary(&intervals))
    });
    let mut results = Vec::with_capacity(summaries.len());
    let mut images = std::mem::take(&mut measured.images).into_iter();
    for ((stats, reason), summary) in std::mem::take(&mut measured.stats).into_iter().zip(summaries) {
        let raise = if summary.image.is_some() { Raise::PatchesPerImage } else { Raise::SamplesPerObservation };
        let truth = TaskTruth { inherent: &summary.inherent, dim: summary.signal_dim, mmse: summary.mmse, raise };
        let judge_config = JudgeConfig {
            intervals: file.statistics.intervals(derive_seed(file.seed, &["bootstrap", &summary.name, label])),
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
            stochastic: sampled.stochastic,
            rank: 0,
            judgement,
            psnr_db,
            psnr_y_db,
            ssim,
            efficiency: None,
            timing: sampled.timing.clone(),
            sample_grids: measured.sample_grids.clone(),
            images: images.next().unwrap_or_default(),
            quality: measured.quality.clone(),
            calibration: calibration.clone(),
        });
    }
    results
}

/// criterion's timing of the first batch, when its calls fit the suite's budget (`Ok(None)`
/// when they do not: the quality run's own calls stand).
fn time_model(
    plan: &RunPlan,
    model: &mut ModelBox,
    NamedTask { name: task_name, task }: NamedTask<'_>,
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
    let calls = run::TimedCalls { model, measurements: &batch, n_samples: samples, sample_shape: &sample_shape, seed };
    let timed = run::with_criterion(calls, &file.timing, level, run::CriterionDir { path: &dir, name: directory });
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
        let problem = |error: CellError| Failure {
            stage: Stage::Task,
            cause: error.cause(),
            subject: name.to_string(),
            task: Some(name.to_string()),
            message: error.to_string(),
        };
        let task = match prepare(self.plan, name, task_type) {
            Ok(task) => task,
            Err(e) => return TaskBuilt { summaries: None, problems: vec![problem(e)], build_secs: 0.0 },
        };
        match task.summaries(self.plan) {
            Ok((summaries, lacking)) => {
                self.prepared = Some((name.to_string(), task));
                let problems = lacking.into_iter().map(|e| problem(e.into())).collect();
                TaskBuilt { summaries: Some(summaries), problems, build_secs: 0.0 }
            }
            Err(e) => TaskBuilt { summaries: None, problems: vec![problem(e.into())], build_secs: 0.0 },
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
                CellOutcome { stages, ..failed(cell, &e) }
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
        let configs = configurations(self.plan, plugin, entry)?;
        let config = configs.into_iter().find(|c| c.label == cell.label).ok_or(CellError::NoConfiguration)?;
        if self.prepared.as_ref().is_none_or(|(name, _)| *name != cell.task) {
            self.prepared = None;
            self.prepared = Some((cell.task.clone(), prepare(self.plan, &cell.task, cell.task_type)?));
        }
        let Some((_, task)) = &self.prepared else { unreachable!("prepared just above") };
        let subject = Subject::Plugin { plugin, config: &config };
        let (results, notes, stages) =
            evaluate(self.plan, &subject, NamedTask { name: &cell.task, task: task.as_ref() }, &request.summaries)?;
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
