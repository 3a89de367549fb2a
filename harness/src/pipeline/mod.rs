//! The whole run, stage by stage: load plugins → build tasks → run each model configuration →
//! estimate → judge → a [`RunReport`]. Failures are recorded with the plugin or task they
//! concern and the run goes on; nothing computed is dropped.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::device::{device_name, sdk_device};
use crate::estimate::{self, ObservationStats};
use crate::judge::{self, JudgeConfig, TaskTruth};
use crate::plugin::{self, LoadedPlugin, PluginConfig};
use crate::report::{ConfigResult, Failure, Manifest, PluginRecord, RunReport, Stage, TaskSummary, SCHEMA_VERSION};
use crate::run;
use crate::seed::derive_seed;
use crate::suite::{PluginEntry, Suite};
use crate::task::{ExactTask, ObservationChunk, TaskSamples};

mod check;
mod images;
mod sample_grid;

pub use check::{check, CheckedEntry, CheckedSuite};

/// Everything a run needs, resolved (see `cli::RunConfig`).
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The suite.
    pub suite: Suite,
    /// The device to run on.
    pub device: tch::Device,
    /// Directories to look for plugins named in the suite, in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// Where layout reports and other logs go.
    pub log_dir: PathBuf,
    /// The run's id.
    pub run_id: String,
    /// Where image tasks find their sets.
    pub data_dir: PathBuf,
    /// The run directory, where image tasks write their sample grids (`None`: no grids).
    pub figure_dir: Option<PathBuf>,
}

/// Progress events; every method defaults to doing nothing.
pub trait Progress {
    /// The plugins are loaded: this many (task, configuration) runs lie ahead.
    fn planned(&mut self, _runs: usize) {}
    /// One (task, configuration) run finished, whatever its outcome.
    fn finished(&mut self, _task: &str, _label: &str) {}
    /// A task was built and its models are about to run.
    fn task_started(&mut self, _task: &TaskSummary) {}
    /// One configuration finished.
    fn result(&mut self, _result: &ConfigResult) {}
    /// Something failed; the run continues.
    fn failure(&mut self, _failure: &Failure) {}
}

/// A [`Progress`] that reports nothing.
pub struct Silent;
impl Progress for Silent {}

struct Recorder<'a> {
    failures: Vec<Failure>,
    progress: &'a mut dyn Progress,
}

impl Recorder<'_> {
    fn fail(&mut self, stage: Stage, subject: String, task: Option<&str>, message: String) {
        let f = Failure { stage, subject, task: task.map(str::to_string), message };
        self.progress.failure(&f);
        self.failures.push(f);
    }
}

/// Finds the library for a `[[plugin]]` entry.
fn locate(entry: &PluginEntry, plan: &RunPlan, found: &mut Vec<(PathBuf, LoadedPlugin)>) -> Result<usize, String> {
    if let Some(path) = &entry.path {
        let path = if path.is_absolute() { path.clone() } else { plan.suite.base_dir.join(path) };
        if let Some(i) = found.iter().position(|(p, _)| *p == path) {
            return Ok(i);
        }
        let loaded = plugin::load(&path, &plan.log_dir).map_err(|e| e.to_string())?;
        found.push((path, loaded));
        return Ok(found.len() - 1);
    }
    let name = entry.name.as_deref().unwrap_or_default();
    if let Some(i) = found.iter().position(|(_, p)| p.name() == name) {
        return Ok(i);
    }
    let wanted = name.replace('-', "_");
    let mut tried = Vec::new();
    for dir in &plan.plugin_dirs {
        let Ok(listing) = std::fs::read_dir(dir) else { continue };
        let mut paths: Vec<PathBuf> =
            listing.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| plugin::is_library(p)).collect();
        // Libraries whose file name mentions the plugin first: loading is permanent, so the
        // others are opened only when no such file holds it.
        let mentions =
            |p: &PathBuf| p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.replace('-', "_").contains(&wanted));
        paths.sort_by_key(|p| (!mentions(p), p.clone()));
        for path in paths {
            if found.iter().any(|(p, _)| *p == path) {
                continue;
            }
            match plugin::load(&path, &plan.log_dir) {
                Ok(p) if p.name() == name => {
                    found.push((path, p));
                    return Ok(found.len() - 1);
                }
                Ok(p) => found.push((path, p)),
                Err(e) if mentions(&path) => tried.push(e.to_string()),
                Err(_) => {}
            }
        }
    }
    let dirs: Vec<String> = plan.plugin_dirs.iter().map(|d| d.display().to_string()).collect();
    let mut msg = format!("no plugin named '{name}' in {}", dirs.join(", "));
    if !tried.is_empty() {
        msg.push_str(&format!("; matching files failed to load: {}", tried.join("; ")));
    }
    Err(msg)
}

/// Checks the suite ([`check`]) and runs what passed; never fails as a whole: the checks'
/// problems are recorded as failures like any other. `upbench run` refuses a suite with
/// problems before calling [`run_checked`] instead.
pub fn run_suite(plan: &RunPlan, progress: &mut dyn Progress) -> RunReport {
    run_checked(plan, check(plan), progress)
}

/// Runs a checked suite and returns the report; its problems are recorded first. Runs in one
/// process are serialised ([`crate::seed::torch_rng_lock`]): plugins and harness share
/// libtorch's generator.
pub fn run_checked(plan: &RunPlan, mut checked: CheckedSuite<'_>, progress: &mut dyn Progress) -> RunReport {
    let _rng = crate::seed::torch_rng_lock();
    tch::set_num_threads(plan.suite.file.threads.unwrap_or(crate::suite::DEFAULT_THREADS) as i32);
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let file = &plan.suite.file;
    let mut rec = Recorder { failures: Vec::new(), progress };
    for problem in std::mem::take(&mut checked.problems) {
        rec.progress.failure(&problem);
        rec.failures.push(problem);
    }
    rec.progress.planned(checked.planned_runs(file));

    let (n, k) = (file.sampling.observations, file.sampling.samples_per_observation);
    let mut tasks = Vec::new();
    let mut results = Vec::new();
    for task_cfg in file.tasks.iter().filter(|t| checked.runnable(&t.name)) {
        let task = match ExactTask::build(task_cfg, derive_seed(file.seed, &["task", &task_cfg.name])) {
            Ok(t) => t,
            Err(e) => {
                rec.fail(Stage::Task, task_cfg.name.clone(), Some(&task_cfg.name), e.to_string());
                continue;
            }
        };
        let samples = match task.sample(n, derive_seed(file.seed, &["data", &task.name]), plan.device) {
            Ok(s) => s,
            Err(e) => {
                rec.fail(Stage::Task, task.name.clone(), Some(&task.name), e.to_string());
                continue;
            }
        };
        let chunks = match Chunks::new(&samples, k, task.dim) {
            Ok(c) => c,
            Err(e) => {
                rec.fail(Stage::Task, task.name.clone(), Some(&task.name), e.to_string());
                continue;
            }
        };
        let inherent = match inherent_uncertainty(&task, &samples, &chunks, file) {
            Ok(v) => v,
            Err(e) => {
                rec.fail(Stage::Task, task.name.clone(), Some(&task.name), e.to_string());
                continue;
            }
        };
        let truth = TaskTruth {
            inherent_uncertainty: inherent.inherent.point,
            gaussian_inherent_uncertainty: inherent.gaussian,
            basis: judge::InherentBasis::Exact,
            dim: task.dim,
        };
        tasks.push(TaskSummary {
            name: task.name.clone(),
            kind: task.kind.to_string(),
            prior: task.prior.label(),
            signal_dim: task.dim,
            measurement_dim: task.measurement_dim,
            noise_std: task.noise_std,
            inherent_uncertainty: truth.inherent_uncertainty,
            inherent_basis: if task.is_gaussian() {
                "exact (closed form)".into()
            } else {
                "Monte Carlo over exact posterior draws".into()
            },
            image: None,
            inherent_uncertainty_ci: (!task.is_gaussian()).then_some(inherent.inherent.ci),
            gaussian_inherent_uncertainty: truth.gaussian_inherent_uncertainty,
            signal_power: task.signal_power(),
            observations: n,
            samples_per_observation: k,
        });
        rec.progress.task_started(tasks.last().expect("just pushed"));
        let prepared = PreparedTask { spec: task.spec(sdk_device(plan.device)), task, samples, chunks, truth };

        let mut task_results = Vec::new();
        for entry in &checked.entries {
            let plugin = &checked.libraries[entry.library].1;
            let task = &prepared.task;
            if !plugin.metadata.supports(task.kind) {
                continue;
            }
            for config in &entry.configs {
                let subject = format!("{} ({})", config.label, plugin.path.display());
                match run_config(plan, plugin, config, &prepared) {
                    Ok((r, timing_error)) => {
                        if let Some(message) = timing_error {
                            rec.fail(Stage::Run, subject, Some(&prepared.task.name), message);
                        }
                        rec.progress.result(&r);
                        task_results.push(r);
                    }
                    Err((stage, message)) => rec.fail(stage, subject, Some(&prepared.task.name), message),
                }
                rec.progress.finished(&prepared.task.name, &config.label);
            }
        }
        rank(&mut task_results);
        results.extend(task_results);
    }
    for image_task in file.image_tasks.iter().filter(|t| checked.runnable(&t.name)) {
        let (summaries, task_results) = images::run_image_task(plan, image_task, &checked, &mut rec);
        tasks.extend(summaries);
        results.extend(task_results);
    }

    let manifest = Manifest {
        run_id: plan.run_id.clone(),
        suite: plan.suite.name.clone(),
        suite_origin: plan.suite.origin.clone(),
        seed: file.seed,
        started_at,
        wall_secs: started.elapsed().as_secs_f64(),
        upbench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: crate::report::git_commit().into(),
        libtorch_version: crate::report::libtorch_build().0.into(),
        libtorch_cuda: crate::report::libtorch_build().1.into(),
        device: device_name(plan.device),
        cuda_available: tch::Cuda::is_available(),
        torch_threads: tch::get_num_threads(),
        estimator: file.estimator,
        sampling: file.sampling,
        interval_method: file.statistics.interval,
        bootstrap_resamples: file.statistics.bootstrap_resamples,
        confidence_level: file.statistics.confidence_level,
        band_tolerance: file.statistics.band_tolerance,
        plugins: checked
            .libraries
            .iter()
            .map(|(_, p)| PluginRecord {
                name: p.name().into(),
                version: p.metadata.version.to_string(),
                path: p.path.display().to_string(),
                sha256: p.sha256.clone(),
                sdk_version: p.sdk_version.clone(),
            })
            .collect(),
        data_dir: (!file.image_tasks.is_empty()).then(|| plan.data_dir.display().to_string()),
    };
    RunReport { schema_version: SCHEMA_VERSION, manifest, tasks, results, failures: rec.failures }
}

/// A `[[plugin]]` entry's parameters as the resolver takes them.
fn given_params(entry: &PluginEntry) -> Vec<(String, toml::Value)> {
    entry.params.iter().map(|(k, v)| (k.clone(), v.get_ref().clone())).collect()
}

/// Ranks valid results by |log(U / bound)|, closest to the bound first (by U, lowest first, when
/// the task has no bound); invalid ones last.
fn rank(results: &mut [ConfigResult]) {
    results.sort_by(|a, b| {
        let key = |r: &ConfigResult| {
            let ratio = r.judgement.bound_ratio.point;
            let distance = if ratio.is_nan() { r.judgement.uncertainty.point.ln() } else { ratio.ln().abs() };
            (!r.judgement.validity.is_valid(), distance)
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    for (i, r) in results.iter_mut().enumerate() {
        r.rank = i + 1;
    }
}

/// N(X|Y) with its interval, and N(X_G|Y).
struct Inherent {
    inherent: crate::estimate::Estimate,
    gaussian: f64,
}

/// N(X|Y) and N(X_G|Y) of the task's observations. Exact for a Gaussian prior. For a mixture,
/// N(X|Y) = exp(mean over y of (2/d)·ĥ(X|y))/(2πe) with ĥ(X|y) = −mean ln p(x′|y) over the K exact
/// posterior draws (Monte Carlo, bootstrap interval over y), and N(X_G|Y) = exp(mean over y of
/// ln|Cov(X|y)|/d) from the closed-form posterior covariances.
fn inherent_uncertainty(
    task: &ExactTask,
    samples: &TaskSamples,
    chunks: &Chunks,
    file: &crate::suite::SuiteFile,
) -> Result<Inherent, crate::task::TaskError> {
    let level = file.statistics.confidence_level;
    if let Some(exact) = task.exact_inherent_uncertainty() {
        let e = crate::estimate::Estimate::exact(exact, level, samples.len());
        return Ok(Inherent { inherent: e, gaussian: exact });
    }
    let d = task.dim as f64;
    let mut log_n = Vec::with_capacity(samples.len());
    for i in 0..chunks.len() {
        let values = chunks.with(samples, i, |c| {
            let h = -c.draw_log_density.mean_dim(1, false, tch::Kind::Double);
            Vec::<f64>::try_from(h.to_device(tch::Device::Cpu)).map_err(crate::task::TaskError::from)
        })??;
        log_n.extend(values.into_iter().map(|h| estimate::special::log_entropy_power(h, task.dim)));
    }
    let intervals = file.statistics.intervals(derive_seed(file.seed, &["inherent", &task.name]));
    let [mean_log_n] = intervals.estimate(log_n.len(), |idx| [estimate::mean_of(&log_n, idx)]);
    let (_, log_det) = tch::Tensor::f_linalg_slogdet(&samples.posterior_cov).map_err(crate::task::TaskError::from)?;
    let gaussian = (log_det.mean(tch::Kind::Double).double_value(&[]) / d).exp();
    Ok(Inherent { inherent: mean_log_n.exp(), gaussian })
}

/// The task's observations in chunks with their posterior draws: drawn once and kept when they
/// are small (every configuration then reuses them), drawn on demand otherwise (memory bound).
/// Either way the draws are the same: each observation has its own seeded stream.
struct Chunks {
    ranges: Vec<std::ops::Range<usize>>,
    samples_per_observation: usize,
    kept: Option<Vec<ObservationChunk>>,
}

impl Chunks {
    /// Chunks of about 2²⁴ values per K·d tensor; kept when all draws fit in that budget.
    fn new(samples: &TaskSamples, k: usize, d: usize) -> Result<Chunks, crate::task::TaskError> {
        let len = chunk_len(k, d);
        let n = samples.len();
        let ranges: Vec<_> = (0..n).step_by(len).map(|start| start..(start + len).min(n)).collect();
        let kept = if n * k * d <= 1 << 24 {
            Some(ranges.iter().map(|r| samples.chunk(r.clone(), k)).collect::<Result<Vec<_>, _>>()?)
        } else {
            None
        };
        Ok(Chunks { ranges, samples_per_observation: k, kept })
    }

    fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Runs `f` on chunk `i`.
    fn with<R>(
        &self,
        samples: &TaskSamples,
        i: usize,
        f: impl FnOnce(&ObservationChunk) -> R,
    ) -> Result<R, crate::task::TaskError> {
        match &self.kept {
            Some(kept) => Ok(f(&kept[i])),
            None => Ok(f(&samples.chunk(self.ranges[i].clone(), self.samples_per_observation)?)),
        }
    }
}

/// A built task with its data and what the plugins and the judge are told about it.
struct PreparedTask {
    task: ExactTask,
    spec: upbench_sdk::TaskSpec,
    samples: TaskSamples,
    chunks: Chunks,
    truth: TaskTruth,
}

/// Runs, estimates, judges and times one plugin configuration. A timing failure after the
/// quality numbers are in keeps them (throughput `None`) and comes back as the second value.
fn run_config(
    plan: &RunPlan,
    plugin: &LoadedPlugin,
    config: &PluginConfig,
    prepared: &PreparedTask,
) -> Result<(ConfigResult, Option<String>), (Stage, String)> {
    let (file, task, samples) = (&plan.suite.file, &prepared.task, &prepared.samples);
    let mut model = plugin.new_model(&config.params, &prepared.spec).map_err(|e| (Stage::Configure, e.to_string()))?;
    let stochastic = plugin.samples(&model);
    let k = if stochastic { file.sampling.samples_per_observation as u32 } else { 1 };
    let mut observation_stats: Option<ObservationStats> = None;
    let mut first_chunk = None;
    for index in 0..prepared.chunks.len() {
        let stats = prepared
            .chunks
            .with(samples, index, |chunk| {
                let seed = derive_seed(file.seed, &["model", &task.name, &config.label, &index.to_string()]);
                let outputs = run::restore(&mut model, &chunk.measurements, k, seed, &[task.dim as i64])
                    .map_err(|e| (Stage::Run, e.to_string()))?;
                first_chunk.get_or_insert_with(|| chunk.measurements.shallow_clone());
                estimate::observation_stats(&file.estimator, &outputs, !stochastic, &chunk.truth())
                    .map_err(|e| (Stage::Estimate, e.to_string()))
            })
            .map_err(|e| (Stage::Estimate, e.to_string()))??;
        match observation_stats.as_mut() {
            Some(all) => all.extend(stats),
            None => observation_stats = Some(stats),
        }
    }
    let (Some(observation_stats), Some(timing_batch)) = (observation_stats, first_chunk) else {
        return Err((Stage::Run, "the task has no observations".into()));
    };
    let stats = file.statistics;
    let intervals = stats.intervals(derive_seed(file.seed, &["bootstrap", &task.name, &config.label]));
    let judgement = judge::judge(
        &observation_stats,
        &prepared.truth,
        &JudgeConfig { intervals, band_tolerance: stats.band_tolerance },
    );
    let (throughput, timing_error) =
        match run::throughput(&mut model, &timing_batch, k, &[task.dim as i64], file.timing, intervals) {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(format!("timing failed after the quality numbers were measured: {e}"))),
        };
    let psnr_db = 10.0 * (task.signal_power() / judgement.mse.point).log10();
    let result = ConfigResult {
        task: task.name.clone(),
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
    };
    Ok((result, timing_error))
}

/// Observations per chunk: one chunk's K·d-sized tensors (model samples, posterior draws,
/// errors) stay near 2²⁴ float64 values (128 MiB) each, so memory does not grow with n.
fn chunk_len(k: usize, d: usize) -> usize {
    ((1usize << 24) / (k * d).max(1)).max(1)
}

/// The default plugin directory: where the running executable lives (cargo puts plugin
/// libraries beside the `upbench` binary).
pub fn executable_dir() -> Option<PathBuf> {
    std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf))
}
