//! Exact tasks through the pipeline: build the task and draw its observations ([`prepare`]),
//! state its N(X|Y) once ([`summary`]), and run, estimate, judge and time one plugin
//! configuration on it ([`run_cell`]).

use crate::device::sdk_device;
use crate::estimate::{self, ObservationStats};
use crate::judge::{self, JudgeConfig};
use crate::plugin::{LoadedPlugin, PluginConfig};
use crate::report::{ConfigResult, Stage, TaskSummary};
use crate::run;
use crate::seed::derive_seed;
use crate::suite::SuiteFile;
use crate::task::{ExactTask, ObservationChunk, TaskConfig, TaskError, TaskSamples};

use super::{truth_of, RunPlan};

/// A built task with its data and what the plugins are told about it.
pub(crate) struct PreparedExact {
    task: ExactTask,
    spec: upbench_sdk::TaskSpec,
    samples: TaskSamples,
    chunks: Chunks,
}

/// Builds the task and draws its observations (seeded from the suite: every process that
/// prepares it gets the same data).
pub(crate) fn prepare(plan: &RunPlan, config: &TaskConfig) -> Result<PreparedExact, TaskError> {
    let file = &plan.suite.file;
    let (n, k) = (file.sampling.observations, file.sampling.samples_per_observation);
    let task = ExactTask::build(config, derive_seed(file.seed, &["task", &config.name]))?;
    let samples = task.sample(n, derive_seed(file.seed, &["data", &task.name]), plan.device)?;
    let chunks = Chunks::new(&samples, k, task.dim)?;
    Ok(PreparedExact { spec: task.spec(sdk_device(plan.device)), task, samples, chunks })
}

/// The task as reported, with its N(X|Y).
pub(crate) fn summary(prepared: &PreparedExact, file: &SuiteFile) -> Result<TaskSummary, TaskError> {
    let task = &prepared.task;
    let inherent = inherent_uncertainty(task, &prepared.samples, &prepared.chunks, file)?;
    Ok(TaskSummary {
        name: task.name.clone(),
        kind: task.kind.to_string(),
        prior: task.prior.label(),
        signal_dim: task.dim,
        measurement_dim: task.measurement_dim,
        noise_std: task.noise_std,
        inherent_uncertainty: inherent.inherent.point,
        inherent_basis: if task.is_gaussian() {
            "exact (closed form)".into()
        } else {
            "Monte Carlo over exact posterior draws".into()
        },
        image: None,
        inherent_uncertainty_ci: (!task.is_gaussian()).then_some(inherent.inherent.ci),
        gaussian_inherent_uncertainty: inherent.gaussian,
        signal_power: task.signal_power(),
        observations: prepared.samples.len(),
        samples_per_observation: file.sampling.samples_per_observation,
    })
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
    file: &SuiteFile,
) -> Result<Inherent, TaskError> {
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
            Vec::<f64>::try_from(h.to_device(tch::Device::Cpu)).map_err(TaskError::from)
        })??;
        log_n.extend(values.into_iter().map(|h| estimate::special::log_entropy_power(h, task.dim)));
    }
    let intervals = file.statistics.intervals(derive_seed(file.seed, &["inherent", &task.name]));
    let [mean_log_n] = intervals.estimate(log_n.len(), |idx| [estimate::mean_of(&log_n, idx)]);
    let (_, log_det) = tch::Tensor::f_linalg_slogdet(&samples.posterior_cov).map_err(TaskError::from)?;
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
    fn new(samples: &TaskSamples, k: usize, d: usize) -> Result<Chunks, TaskError> {
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
    fn with<R>(&self, samples: &TaskSamples, i: usize, f: impl FnOnce(&ObservationChunk) -> R) -> Result<R, TaskError> {
        match &self.kept {
            Some(kept) => Ok(f(&kept[i])),
            None => Ok(f(&samples.chunk(self.ranges[i].clone(), self.samples_per_observation)?)),
        }
    }
}

/// Runs, estimates, judges and times one plugin configuration. A timing failure after the
/// quality numbers are in keeps them (throughput `None`) and comes back as the second value.
pub(crate) fn run_cell(
    plan: &RunPlan,
    plugin: &LoadedPlugin,
    config: &PluginConfig,
    prepared: &PreparedExact,
    summary: &TaskSummary,
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
        &truth_of(summary),
        &JudgeConfig { intervals, band_tolerance: stats.band_tolerance },
    );
    let (throughput, timing_error) =
        match run::throughput(&mut model, &timing_batch, k, &[task.dim as i64], file.timing, intervals) {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(format!("timing failed after the quality numbers were measured: {e}"))),
        };
    let psnr_db = 10.0 * (task.signal_power() / judgement.mse.point).log10();
    let result = super::cell::config_result(plugin, config, &task.name, stochastic, judgement, psnr_db, throughput);
    Ok((result, timing_error))
}

/// Observations per chunk: one chunk's K·d-sized tensors (model samples, posterior draws,
/// errors) stay near 2²⁴ float64 values (128 MiB) each, so memory does not grow with n.
fn chunk_len(k: usize, d: usize) -> usize {
    ((1usize << 24) / (k * d).max(1)).max(1)
}
