//! One cell, evaluated: the one code path every cell takes, in a worker process or in the
//! harness's own. A [`Workbench`] holds what cells share — the plugin libraries it opened and the
//! task it prepared last (cells arrive grouped by task) — and turns a [`CellRequest`] into a
//! [`CellOutcome`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{exact, images, RunPlan};
use crate::plan::{Cell, TaskType};
use crate::plugin::{self, LoadedPlugin};
use crate::report::{ConfigResult, Failure, Stage, TaskSummary};
use crate::task::images::ImageTask;

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
}

impl CellOutcome {
    /// An outcome with one failure and no results.
    pub fn failed(cell: &Cell, stage: Stage, message: String) -> CellOutcome {
        CellOutcome { results: Vec::new(), failures: vec![failure(cell, stage, message)] }
    }
}

/// A configuration's result on a task (`task`: a patch side's name for image tasks), unranked,
/// without the image-only fields.
pub(crate) fn config_result(
    plugin: &LoadedPlugin,
    config: &crate::plugin::PluginConfig,
    task: &str,
    stochastic: bool,
    judgement: crate::judge::Judgement,
    psnr_db: f64,
    throughput: Option<crate::estimate::Estimate>,
) -> ConfigResult {
    ConfigResult {
        task: task.to_string(),
        plugin: plugin.name().into(),
        plugin_version: plugin.metadata.version.to_string(),
        label: config.label.clone(),
        params: config.params.entries.iter().map(|p| (p.name.to_string(), p.value.to_string())).collect(),
        stochastic,
        rank: 0,
        judgement,
        psnr_db,
        psnr_y_db: None,
        ssim: None,
        throughput_samples_per_sec: throughput,
        sample_grids: Vec::new(),
    }
}

/// A failure of `cell`.
pub(crate) fn failure(cell: &Cell, stage: Stage, message: String) -> Failure {
    Failure { stage, subject: cell.subject(), task: Some(cell.task.clone()), message }
}

/// A task built: its summaries (none when it could not be built) and its problems.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskBuilt {
    /// One for an exact task, one per patch side for an image task; `None`: not built.
    pub summaries: Option<Vec<TaskSummary>>,
    /// Why it could not be built, or what it lacks (an image task without an N(X|Y) estimate).
    pub problems: Vec<Failure>,
}

/// A prepared task, kept for the next cell of the same task (one at a time: its size is
/// irrelevant).
#[allow(clippy::large_enum_variant)]
enum Prepared {
    /// An exact task with its observations.
    Exact(exact::PreparedExact),
    /// An image task with its degraded images.
    Image(ImageTask),
}

/// Evaluates cells of one plan; see the module docs.
pub struct Workbench<'p> {
    plan: &'p RunPlan,
    libraries: Vec<(PathBuf, LoadedPlugin)>,
    prepared: Option<(String, Prepared)>,
}

impl<'p> Workbench<'p> {
    /// A workbench for `plan`, starting with libraries already loaded (none in a worker).
    pub fn new(plan: &'p RunPlan, libraries: Vec<(PathBuf, LoadedPlugin)>) -> Workbench<'p> {
        Workbench { plan, libraries, prepared: None }
    }

    /// Builds task `name` and states its N(X|Y) (its summaries), keeping its data for the
    /// cells that follow; a task that cannot be built comes back as its problem.
    pub fn build_task(&mut self, name: &str, task_type: TaskType) -> TaskBuilt {
        self.prepared = None;
        let problem = |message: String| Failure {
            stage: Stage::Task,
            subject: name.to_string(),
            task: Some(name.to_string()),
            message,
        };
        let cell = Cell { task: name.to_string(), task_type, ..Cell::default() };
        let prepared = match prepare(self.plan, &cell) {
            Ok(p) => p,
            Err(message) => return TaskBuilt { summaries: None, problems: vec![problem(message)] },
        };
        let built = match &prepared {
            Prepared::Exact(task) => match exact::summary(task, &self.plan.suite.file) {
                Ok(summary) => TaskBuilt { summaries: Some(vec![summary]), problems: Vec::new() },
                Err(e) => TaskBuilt { summaries: None, problems: vec![problem(e.to_string())] },
            },
            Prepared::Image(task) => {
                // Without an estimate of N(X|Y) the task still runs, without a bound; the reason
                // is recorded.
                let (summaries, estimate_problem) = images::summaries(self.plan, task);
                TaskBuilt { summaries: Some(summaries), problems: estimate_problem.into_iter().map(problem).collect() }
            }
        };
        if built.summaries.is_some() {
            self.prepared = Some((name.to_string(), prepared));
        }
        built
    }

    /// Runs the cell; every failure comes back in the outcome, named.
    pub fn evaluate(&mut self, request: &CellRequest) -> CellOutcome {
        let cell = &request.cell;
        let plugin = match self.library(&cell.library) {
            Ok(i) => &self.libraries[i].1,
            Err(message) => return CellOutcome::failed(cell, Stage::Load, message),
        };
        if plugin.sha256 != cell.library_sha256 {
            let message = "the library changed since the run was planned (its SHA-256 differs)".to_string();
            return CellOutcome::failed(cell, Stage::Load, message);
        }
        let Some(entry) = self.plan.suite.file.plugins.get(cell.entry) else {
            return CellOutcome::failed(
                cell,
                Stage::Configure,
                format!("the suite has no plugin entry {}", cell.entry),
            );
        };
        let config = match plugin::resolve_params(&plugin.metadata, &super::given_params(entry)) {
            Ok(configs) => configs.into_iter().find(|c| c.label == cell.label),
            Err(e) => return CellOutcome::failed(cell, Stage::Configure, e.to_string()),
        };
        let Some(config) = config else {
            return CellOutcome::failed(cell, Stage::Configure, "the suite no longer has this configuration".into());
        };
        if self.prepared.as_ref().is_none_or(|(name, _)| *name != cell.task) {
            self.prepared = None;
            match prepare(self.plan, cell) {
                Ok(p) => self.prepared = Some((cell.task.clone(), p)),
                Err(message) => return CellOutcome::failed(cell, Stage::Task, message),
            }
        }
        let Some((_, prepared)) = &self.prepared else { unreachable!("prepared just above") };
        match prepared {
            Prepared::Exact(task) => {
                let Some(summary) = request.summaries.first() else {
                    return CellOutcome::failed(cell, Stage::Task, "no task summary was sent".into());
                };
                match exact::run_cell(self.plan, plugin, &config, task, summary) {
                    Ok((result, timing)) => CellOutcome {
                        results: vec![result],
                        failures: timing.into_iter().map(|m| failure(cell, Stage::Run, m)).collect(),
                    },
                    Err((stage, message)) => CellOutcome::failed(cell, stage, message),
                }
            }
            Prepared::Image(task) => match images::run_cell(self.plan, plugin, &config, task, &request.summaries) {
                Ok((results, notes)) => CellOutcome {
                    results,
                    failures: notes.into_iter().map(|(stage, m)| failure(cell, stage, m)).collect(),
                },
                Err((stage, message)) => CellOutcome::failed(cell, stage, message),
            },
        }
    }

    /// The index of the library at `path`, loading it the first time.
    fn library(&mut self, path: &Path) -> Result<usize, String> {
        if let Some(i) = self.libraries.iter().position(|(p, _)| p == path) {
            return Ok(i);
        }
        let loaded = plugin::load(path, &self.plan.log_dir).map_err(|e| e.to_string())?;
        self.libraries.push((path.to_path_buf(), loaded));
        Ok(self.libraries.len() - 1)
    }

    /// The libraries opened, for the manifest.
    pub fn libraries(&self) -> &[(PathBuf, LoadedPlugin)] {
        &self.libraries
    }
}

/// Prepares the cell's task from the suite.
fn prepare(plan: &RunPlan, cell: &Cell) -> Result<Prepared, String> {
    let file = &plan.suite.file;
    let missing = || format!("the suite has no task '{}'", cell.task);
    match cell.task_type {
        TaskType::Exact => {
            let config = file.tasks.iter().find(|t| t.name == cell.task).ok_or_else(missing)?;
            exact::prepare(plan, config).map(Prepared::Exact).map_err(|e| e.to_string())
        }
        TaskType::Image => {
            let config = file.image_tasks.iter().find(|t| t.name == cell.task).ok_or_else(missing)?;
            images::prepare(plan, config).map(Prepared::Image)
        }
    }
}
