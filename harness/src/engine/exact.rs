//! Exact tasks through the pipeline: build the task and draw its observations
//! ([`PreparedExact::new`]), state its N(X|Y) once, and run and estimate a model on every
//! observation ([`Task`]).

use tch::Tensor;

use std::time::Instant;

use super::task::{secs_since, CellError, Measured, ModelRun, Task, TaskInput};
use crate::estimate::calibration::CalibrationStats;
use crate::estimate::{self, ObservationStats};
use crate::record::TaskSummary;
use crate::seed::derive_seed;
use crate::setup::RunPlan;
use crate::suite::SuiteFile;
use crate::task::{ExactTask, InherentUncertainty, ObservationChunk, TaskConfig, TaskError, TaskSamples};

/// A built task with its data and what the plugins are told about it.
pub(crate) struct PreparedExact {
    task: ExactTask,
    samples: TaskSamples,
    chunks: Chunks,
}

impl PreparedExact {
    /// Builds the task and draws its observations (seeded from the suite: every process that
    /// prepares it gets the same data).
    pub(crate) fn new(plan: &RunPlan, config: &TaskConfig) -> Result<PreparedExact, TaskError> {
        let file = &plan.suite.file;
        let (n, k) = (file.sampling.observations, file.sampling.samples_per_observation);
        let task = ExactTask::build(config, derive_seed(file.seed, &["task", &config.name]))?;
        let samples = task.sample(n, derive_seed(file.seed, &["data", &task.name]), plan.device)?;
        let chunks = Chunks::new(&samples, k, task.dim)?;
        Ok(PreparedExact { task, samples, chunks })
    }

    /// For a stochastic configuration, the ranks of chunk `index`'s ground truths among their
    /// samples `outputs` (calibration, issue [16]); `None` for a deterministic one.
    fn ranks(
        &self,
        run: &ModelRun<'_>,
        outputs: &Tensor,
        index: usize,
    ) -> Option<Result<CalibrationStats, crate::estimate::EstimateError>> {
        if !run.stochastic || run.samples < 2 {
            return None;
        }
        let range = &self.chunks.ranges[index];
        let signals = self.samples.signals.narrow(0, range.start as i64, range.len() as i64);
        let stream = ["calibration", self.task.name.as_str(), run.label, &index.to_string()];
        Some(CalibrationStats::of(outputs, &signals, derive_seed(run.plan.suite.file.seed, &stream)))
    }
}

impl Task for PreparedExact {
    fn summaries(&self, plan: &RunPlan) -> Result<(Vec<TaskSummary>, Option<TaskError>), TaskError> {
        let (task, file) = (&self.task, &plan.suite.file);
        let summary = TaskSummary {
            name: task.name.clone(),
            kind: task.kind,
            prior: task.prior.label(),
            signal_dim: task.dim,
            measurement_dim: task.measurement_dim,
            noise_std: task.noise_std,
            inherent: inherent_uncertainty(task, &self.samples, &self.chunks, file)?,
            mmse: Some(mmse(&self.samples.posterior_cov)?),
            signal_power: task.signal_power(),
            image: None,
            observations: self.samples.len(),
            samples_per_observation: file.sampling.samples_per_observation,
        };
        Ok((vec![summary], None))
    }

    fn spec(&self, device: upbench_sdk::Device) -> upbench_sdk::TaskSpec {
        self.task.spec(device)
    }

    fn samples_per_observation(&self) -> usize {
        self.chunks.samples_per_observation
    }

    /// The model on every chunk of observations, each with its own seed; U, P and MSE against
    /// the chunk's exact posterior draws and ground truths.
    fn measure(&self, run: &mut ModelRun<'_>, _summaries: &[TaskSummary]) -> Result<Measured, CellError> {
        let task = &self.task;
        let mut all: Option<ObservationStats> = None;
        let mut calibration: Option<CalibrationStats> = None;
        for index in 0..self.chunks.len() {
            let stats = self.chunks.with(&self.samples, index, |chunk| {
                let observations = self.chunks.ranges[index].clone();
                let stream = [task.name.as_str(), run.label, &index.to_string()];
                let outputs = run
                    .restore(&chunk.measurements, observations, &stream, &[task.dim as i64])
                    .map_err(|source| CellError::Run { on: None, source })?;
                let started = Instant::now();
                let stats = estimate::observation_stats(run.estimator, &outputs, !run.stochastic, &chunk.truth());
                let ranks = self.ranks(run, &outputs, index).transpose();
                run.stages.estimate_secs += secs_since(started);
                Ok::<_, CellError>((stats?, ranks?))
            })??;
            let (stats, ranks) = stats;
            if let Some(ranks) = ranks {
                match calibration.as_mut() {
                    Some(all) => all.extend(ranks),
                    None => calibration = Some(ranks),
                }
            }
            match all.as_mut() {
                Some(all) => all.extend(stats),
                None => all = Some(stats),
            }
        }
        let stats = all.ok_or(TaskError::Invalid("the task has no observations".into()))?;
        Ok(Measured { stats: vec![(stats, None)], calibration, ..Measured::default() })
    }

    /// The first chunk of observations.
    fn timing_batch(&self, _device: tch::Device) -> Result<(Tensor, Vec<i64>), CellError> {
        let measurements = self.chunks.with(&self.samples, 0, |chunk| chunk.measurements.shallow_clone())?;
        Ok((measurements, vec![self.task.dim as i64]))
    }

    /// Every observation's measurement at once, `[n, m]`.
    fn inputs(&self) -> Vec<TaskInput> {
        vec![TaskInput {
            name: "measurements".into(),
            measurements: self.samples.measurements.shallow_clone(),
            observations: 0..self.samples.len(),
            sample_shape: vec![self.task.dim as i64],
        }]
    }
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
) -> Result<InherentUncertainty, TaskError> {
    if let Some(value) = task.exact_inherent_uncertainty() {
        return Ok(InherentUncertainty::Exact { value });
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
    Ok(InherentUncertainty::MonteCarlo { estimate: mean_log_n.exp(), gaussian })
}

/// The MMSE per dimension, E tr Cov(X|Y)/d, from the exact posterior covariances (`[d, d]` for a
/// Gaussian prior, the same for every y; `[n, d, d]` for a mixture, averaged over y).
fn mmse(posterior_cov: &Tensor) -> Result<f64, TaskError> {
    let d = *posterior_cov.size().last().unwrap_or(&1) as f64;
    let traces = posterior_cov.f_diagonal(0, -2, -1)?.f_sum_dim_intlist(-1, false, tch::Kind::Double)?;
    Ok(traces.f_mean(tch::Kind::Double)?.double_value(&[]) / d)
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

/// Observations per chunk: one chunk's K·d-sized tensors (model samples, posterior draws,
/// errors) stay near 2²⁴ float64 values (128 MiB) each, so memory does not grow with n.
fn chunk_len(k: usize, d: usize) -> usize {
    ((1usize << 24) / (k * d).max(1)).max(1)
}
