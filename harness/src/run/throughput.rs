//! Throughput: how fast a model's `restore` runs, measured so that timing never multiplies the
//! cost of a slow model.
//!
//! - Every call that produces the measured samples is timed as it happens ([`CallTimes`]): each
//!   configuration has its time per sample from its own quality run at no extra cost.
//! - [criterion](https://docs.rs/criterion), used as a library ([`with_criterion`]), adds its
//!   warm-up, sampling plan, outlier classification and bootstrap on extra calls of the first
//!   batch — only when those calls fit the suite's budget per configuration (`[timing]
//!   budget_secs`), judged from the quality run's own calls ([`criterion_fits`]).
//!
//! criterion's traps, guarded: it never sees the command line (no `configure_from_args`, no
//! macros); its results go to stdout, which is pointed at stderr while it runs; it is pinned
//! (`=0.8.2`) and the `estimates.json` it writes is read through our own types, whose format a
//! test holds; `CRITERION_HOME` is set so that it does not run `cargo metadata`; each
//! measurement gets a fresh output directory (no comparison with an old baseline).

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use serde::{Deserialize, Serialize};
use tch::Tensor;
use upbench_sdk::ModelBox;

use super::{restore, RunError};
use crate::estimate::{ConfidenceInterval, Estimate, Intervals};

/// How to time: the suite's `[timing]` section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingConfig {
    /// Seconds of extra `restore` calls criterion may spend per configuration; 0 times only the
    /// quality run's own calls.
    #[serde(default = "default_budget")]
    pub budget_secs: f64,
    /// criterion's warm-up time, seconds.
    #[serde(default = "default_warm_up")]
    pub warm_up_secs: f64,
    /// criterion's measurement time, seconds.
    #[serde(default = "default_measurement")]
    pub measurement_secs: f64,
    /// criterion's samples (at least 10, criterion's minimum).
    #[serde(default = "default_sample_size")]
    pub sample_size: usize,
}

fn default_budget() -> f64 {
    0.25
}
fn default_warm_up() -> f64 {
    0.02
}
fn default_measurement() -> f64 {
    0.1
}
fn default_sample_size() -> usize {
    10
}

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            budget_secs: default_budget(),
            warm_up_secs: default_warm_up(),
            measurement_secs: default_measurement(),
            sample_size: default_sample_size(),
        }
    }
}

/// How a configuration's throughput was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum TimingSource {
    /// criterion on extra calls of the first batch.
    Criterion {
        /// Its samples.
        samples: usize,
        /// Calls in them, warm-up aside.
        calls: u64,
        /// Of those samples, outliers by Tukey's fences (mild and severe).
        outliers: usize,
        /// Its files, relative to the run directory (`None` for runs without one).
        directory: Option<String>,
    },
    /// The quality run's own calls (criterion's would not fit the budget, or it is off).
    QualityRun {
        /// Calls timed.
        calls: usize,
    },
    /// Repeated calls after the quality run, upbench 0.3's own loop (read from results of
    /// schema version 2, which kept samples per second alone).
    Loop {
        /// Calls timed.
        calls: usize,
    },
}

/// How fast `restore` ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// How it was measured.
    pub source: TimingSource,
    /// Seconds per call on the timed batch: the mean, with its interval (not in schema 2).
    pub mean_call_secs: Option<Estimate>,
    /// Seconds per call: the median, with its interval (criterion only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_call_secs: Option<Estimate>,
    /// Samples per second (for a deterministic model: restorations per second).
    pub samples_per_sec: Estimate,
    /// Measurements (images, for image tasks) restored per second, all their samples included
    /// (not in schema 2).
    pub measurements_per_sec: Option<Estimate>,
}

impl TimingSource {
    /// Its tag, as results.json and results.csv write it.
    pub fn name(&self) -> &'static str {
        match self {
            TimingSource::Criterion { .. } => "criterion",
            TimingSource::QualityRun { .. } => "quality-run",
            TimingSource::Loop { .. } => "loop",
        }
    }
}

impl Timing {
    /// What schema 2 kept: samples per second alone, from `n` repeated calls.
    pub fn from_rate(samples_per_sec: Estimate) -> Timing {
        Timing {
            source: TimingSource::Loop { calls: samples_per_sec.n },
            mean_call_secs: None,
            median_call_secs: None,
            samples_per_sec,
            measurements_per_sec: None,
        }
    }
}

/// Reads `timing` as schema 3 writes it, or schema 2's `throughput_samples_per_sec`.
pub(crate) fn timing_of_any_schema<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Timing>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Timing(Box<Timing>),
        Rate(Estimate),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|t| match t {
        Either::Timing(t) => *t,
        Either::Rate(rate) => Timing::from_rate(rate),
    }))
}

/// The quality run's `restore` calls: their wall times and what each produced.
#[derive(Debug, Clone, Default)]
pub struct CallTimes {
    calls: Vec<(f64, i64, i64)>,
}

impl CallTimes {
    /// Records one call of `secs` seconds that restored `measurements` measurements into
    /// `samples` samples.
    pub fn push(&mut self, secs: f64, measurements: i64, samples: i64) {
        self.calls.push((secs, measurements, samples));
    }

    /// The slowest call's seconds per measurement (criterion's budget is judged on it).
    fn slowest_per_measurement(&self) -> Option<f64> {
        self.calls.iter().map(|(s, m, _)| s / (*m).max(1) as f64).max_by(f64::total_cmp)
    }

    /// Total seconds spent in `restore`.
    pub fn total_secs(&self) -> f64 {
        self.calls.iter().map(|c| c.0).sum()
    }

    /// Throughput from these calls: totals over totals, intervals by `intervals` over calls.
    pub fn timing(&self, intervals: Intervals) -> Option<Timing> {
        if self.calls.is_empty() {
            return None;
        }
        let n = self.calls.len();
        let ratio = |idx: &mut dyn Iterator<Item = usize>, of: fn(&(f64, i64, i64)) -> f64| {
            let (mut secs, mut count) = (0.0, 0.0);
            for i in idx {
                secs += self.calls[i].0;
                count += of(&self.calls[i]);
            }
            count / secs
        };
        // One call has no spread to show: its interval is the point (n = 1, no standard error).
        if n == 1 {
            let (secs, m, s) = self.calls[0];
            let exact = |v: f64| Estimate { standard_error: f64::NAN, ..Estimate::exact(v, intervals.level, 1) };
            return Some(Timing {
                source: TimingSource::QualityRun { calls: 1 },
                mean_call_secs: Some(exact(secs)),
                median_call_secs: None,
                samples_per_sec: exact(s as f64 / secs),
                measurements_per_sec: Some(exact(m as f64 / secs)),
            });
        }
        // On the log scale, where a rate's interval stays positive: calls of different sizes
        // (images of different sizes) spread far on the linear one.
        let [samples, measurements, call] = intervals.estimate(n, |idx| {
            let chosen: Vec<usize> = idx.collect();
            let secs: f64 = chosen.iter().map(|&i| self.calls[i].0).sum();
            [
                ratio(&mut chosen.iter().copied(), |c| c.2 as f64).ln(),
                ratio(&mut chosen.iter().copied(), |c| c.1 as f64).ln(),
                (secs / chosen.len() as f64).ln(),
            ]
        });
        Some(Timing {
            source: TimingSource::QualityRun { calls: n },
            mean_call_secs: Some(call.exp()),
            median_call_secs: None,
            samples_per_sec: samples.exp(),
            measurements_per_sec: Some(measurements.exp()),
        })
    }
}

/// Whether criterion's extra calls on a batch of `measurements` fit `config`'s budget, judged
/// from the quality run's slowest call per measurement: at least one warm-up call and
/// `sample_size` measured ones, and the warm-up and measurement times.
pub fn criterion_fits(config: &TimingConfig, calls: &CallTimes, measurements: i64) -> bool {
    let Some(per_measurement) = calls.slowest_per_measurement() else { return false };
    let call = per_measurement * measurements as f64;
    let predicted = 2.0 * config.warm_up_secs.max(call) + config.measurement_secs.max(config.sample_size as f64 * call);
    config.budget_secs > 0.0 && predicted <= config.budget_secs
}

/// criterion's `estimates.json`: one statistic (ns per iteration).
#[derive(Debug, Clone, Copy, Deserialize)]
struct CriterionStatistic {
    confidence_interval: CriterionInterval,
    point_estimate: f64,
    standard_error: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct CriterionInterval {
    confidence_level: f64,
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct CriterionEstimates {
    mean: CriterionStatistic,
    median: CriterionStatistic,
}

#[derive(Debug, Clone, Deserialize)]
struct CriterionSample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

impl CriterionStatistic {
    /// Seconds per call, as an [`Estimate`] over `n` samples.
    fn seconds(self, n: usize) -> Estimate {
        let ci = self.confidence_interval;
        Estimate {
            point: self.point_estimate * 1e-9,
            ci: ConfidenceInterval {
                level: ci.confidence_level,
                lower: ci.lower_bound * 1e-9,
                upper: ci.upper_bound * 1e-9,
            },
            standard_error: self.standard_error * 1e-9,
            n,
        }
    }
}

/// `per / t` for a time `t` with its interval: a rate, whose interval is the image of `t`'s.
fn rate(per: f64, t: &Estimate) -> Estimate {
    Estimate {
        point: per / t.point,
        ci: ConfidenceInterval { level: t.ci.level, lower: per / t.ci.upper, upper: per / t.ci.lower },
        standard_error: per * t.standard_error / (t.point * t.point),
        n: t.n,
    }
}

/// Runs `f` with the process's stdout pointed at stderr (criterion prints its results there,
/// which must not reach a table, `--json` output or a worker's protocol).
fn stdout_on_stderr<R>(f: impl FnOnce() -> R) -> R {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    // SAFETY: plain descriptor duplication; the saved descriptor is restored and closed below.
    let saved = unsafe { libc::dup(1) };
    if saved < 0 || unsafe { libc::dup2(2, 1) } < 0 {
        return f();
    }
    let result = f();
    let _ = std::io::stdout().flush();
    // SAFETY: `saved` is the descriptor duplicated above.
    unsafe {
        libc::dup2(saved, 1);
        libc::close(saved);
    }
    result
}

/// criterion reads its environment once per process: `CRITERION_HOME` set keeps it from running
/// `cargo metadata` (when started by cargo) to find a default directory it is never given.
fn quiet_criterion_environment() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("CRITERION_HOME").is_none() {
            std::env::set_var("CRITERION_HOME", std::env::temp_dir().join("upbench-criterion"));
        }
        std::env::remove_var("CARGO_CRITERION_PORT");
    });
}

/// A model's calls as criterion times them: each on `measurements`, with `n_samples` samples per
/// measurement of shape `sample_shape`, seeds from `seed` on.
pub struct TimedCalls<'a> {
    /// The model called.
    pub model: &'a mut ModelBox,
    /// The batch every call restores.
    pub measurements: &'a Tensor,
    /// Samples per measurement each call produces.
    pub n_samples: u32,
    /// The shape of one sample.
    pub sample_shape: &'a [i64],
    /// The first call's seed is `seed + 1`, the next `seed + 2`, …
    pub seed: u64,
}

/// Where criterion writes its files: `path`, emptied first, and how the results name that
/// directory (`None` for a scratch one they do not mention).
pub struct CriterionDir<'a> {
    /// Where the files go.
    pub path: &'a Path,
    /// The directory as the results name it (relative to the run directory).
    pub name: Option<String>,
}

/// Times the calls with criterion (warm-up, flat sampling, Tukey outliers, bootstrap at
/// `level`) under `config`, writing its files into `dir`, then reads back what it found.
pub fn with_criterion(
    calls: TimedCalls<'_>,
    config: &TimingConfig,
    level: f64,
    dir: CriterionDir<'_>,
) -> Result<Timing, RunError> {
    quiet_criterion_environment();
    // One criterion at a time per process: it redirects the process's stdout while it runs.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = crate::sync::lock(&ONE_AT_A_TIME);
    let _ = std::fs::remove_dir_all(dir.path);
    let per_measurement = calls.measurements.size()[0] as f64;
    let n_samples = calls.n_samples;
    bench(calls, config, level, dir.path)?;
    let found = CriterionResults::read(&dir.path.join("restore").join("calls").join("new"))?;
    Ok(found.timing(per_measurement, n_samples, dir.name))
}

/// criterion as the suite configures it: its sample size, warm-up and measurement times, no
/// plots, no colour, files into `dir`.
fn configured_criterion(config: &TimingConfig, level: f64, dir: &Path) -> Criterion {
    Criterion::default()
        .output_directory(dir)
        .without_plots()
        .with_output_color(false)
        .sample_size(config.sample_size.max(10))
        .warm_up_time(Duration::from_secs_f64(config.warm_up_secs.max(1e-9)))
        .measurement_time(Duration::from_secs_f64(config.measurement_secs.max(1e-9)))
        .nresamples(10_000)
        .confidence_level(level)
}

/// Runs criterion's benchmark `restore/calls` on the calls, stdout on stderr meanwhile; the
/// first call that fails stops the timing and comes back as the error.
fn bench(calls: TimedCalls<'_>, config: &TimingConfig, level: f64, dir: &Path) -> Result<(), RunError> {
    let TimedCalls { model, measurements, n_samples, sample_shape, seed } = calls;
    let sync = || {
        if let tch::Device::Cuda(i) = measurements.device() {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let mut failure: Option<RunError> = None;
    let mut call = 0u64;
    stdout_on_stderr(|| {
        let mut criterion = configured_criterion(config, level, dir);
        let mut group = criterion.benchmark_group("restore");
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function("calls", |bencher| {
            bencher.iter_custom(|iters| {
                sync();
                let start = Instant::now();
                for _ in 0..iters {
                    if failure.is_some() {
                        break;
                    }
                    call += 1;
                    match restore(model, measurements, n_samples, seed.wrapping_add(call), sample_shape) {
                        Ok(out) => drop(out),
                        Err(e) => failure = Some(e),
                    }
                }
                sync();
                // criterion drops a measurement that took no time, with all its files.
                start.elapsed().max(Duration::from_nanos(1))
            })
        });
        group.finish();
    });
    failure.map_or(Ok(()), Err)
}

/// What criterion wrote for one benchmark: its estimates, its samples and Tukey's fences.
struct CriterionResults {
    estimates: CriterionEstimates,
    sample: CriterionSample,
    fences: [f64; 4],
}

impl CriterionResults {
    /// Reads `estimates.json`, `sample.json` and `tukey.json` from `found`; a missing or
    /// malformed file is named.
    fn read(found: &Path) -> Result<CriterionResults, RunError> {
        let read = |name: &str| {
            std::fs::read(found.join(name))
                .map_err(|e| RunError::Malformed(format!("criterion wrote no {name} in {}: {e}", found.display())))
        };
        let estimates: CriterionEstimates = serde_json::from_slice(&read("estimates.json")?)
            .map_err(|e| RunError::Malformed(format!("criterion's estimates.json: {e}")))?;
        let sample: CriterionSample = serde_json::from_slice(&read("sample.json")?)
            .map_err(|e| RunError::Malformed(format!("criterion's sample.json: {e}")))?;
        let fences: [f64; 4] = serde_json::from_slice(&read("tukey.json")?)
            .map_err(|e| RunError::Malformed(format!("criterion's tukey.json: {e}")))?;
        Ok(CriterionResults { estimates, sample, fences })
    }

    /// The timing of calls on `per_measurement` measurements with `n_samples` samples each:
    /// mean and median call time, rates from the mean, outliers outside the inner fences.
    fn timing(self, per_measurement: f64, n_samples: u32, directory: Option<String>) -> Timing {
        let CriterionResults { estimates, sample, fences } = self;
        let per_call: Vec<f64> = sample.times.iter().zip(&sample.iters).map(|(t, i)| t / i.max(1.0)).collect();
        let outliers = per_call.iter().filter(|&&t| t < fences[1] || t > fences[2]).count();
        let n = sample.times.len();
        let mean = estimates.mean.seconds(n);
        Timing {
            source: TimingSource::Criterion {
                samples: n,
                calls: sample.iters.iter().sum::<f64>() as u64,
                outliers,
                directory,
            },
            mean_call_secs: Some(mean),
            median_call_secs: Some(estimates.median.seconds(n)),
            samples_per_sec: rate(per_measurement * f64::from(n_samples), &mean),
            measurements_per_sec: Some(rate(per_measurement, &mean)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned criterion writes the files and fields this module reads.
    #[test]
    fn criterion_writes_the_estimates_this_module_reads() {
        quiet_criterion_environment();
        let dir = tempfile::tempdir().unwrap();
        stdout_on_stderr(|| {
            let mut c = Criterion::default()
                .output_directory(dir.path())
                .without_plots()
                .sample_size(10)
                .warm_up_time(Duration::from_millis(1))
                .measurement_time(Duration::from_millis(5));
            let mut group = c.benchmark_group("restore");
            group.sampling_mode(SamplingMode::Flat);
            group.bench_function("calls", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        std::hint::black_box((0..1000).sum::<u64>());
                    }
                    start.elapsed().max(Duration::from_nanos(1))
                })
            });
            group.finish();
        });
        let found = dir.path().join("restore/calls/new");
        let estimates: CriterionEstimates =
            serde_json::from_slice(&std::fs::read(found.join("estimates.json")).unwrap()).unwrap();
        let sample: CriterionSample =
            serde_json::from_slice(&std::fs::read(found.join("sample.json")).unwrap()).unwrap();
        let _: [f64; 4] = serde_json::from_slice(&std::fs::read(found.join("tukey.json")).unwrap()).unwrap();
        assert_eq!(sample.times.len(), 10);
        let m = estimates.mean;
        assert!(m.point_estimate > 0.0 && m.confidence_interval.lower_bound <= m.point_estimate);
        assert!(
            m.point_estimate <= m.confidence_interval.upper_bound && m.confidence_interval.confidence_level == 0.95
        );
    }

    /// Five calls of very different sizes (images of different sizes): the rate's interval stays
    /// positive and holds its point; one call has no interval to show.
    #[test]
    fn quality_run_rates_have_positive_intervals() {
        let intervals =
            Intervals { method: crate::estimate::IntervalMethod::JackknifeT, resamples: 0, level: 0.95, seed: 0 };
        let mut calls = CallTimes::default();
        for (secs, images) in [(0.9, 1), (0.1, 1), (2.0, 1), (0.3, 1), (0.05, 1)] {
            calls.push(secs, images, 8 * images);
        }
        let t = calls.timing(intervals).unwrap();
        let rate = t.samples_per_sec;
        assert!((rate.point - 40.0 / 3.35).abs() < 1e-9, "{rate:?}");
        assert!(rate.ci.lower > 0.0 && rate.ci.contains(rate.point), "{rate:?}");
        let mut one = CallTimes::default();
        one.push(0.5, 2, 2);
        let t = one.timing(intervals).unwrap();
        assert_eq!((t.samples_per_sec.point, t.samples_per_sec.ci.lower, t.samples_per_sec.n), (4.0, 4.0, 1));
    }

    #[test]
    fn the_budget_admits_criterion_only_when_its_calls_fit() {
        let config = TimingConfig { budget_secs: 1.0, warm_up_secs: 0.05, measurement_secs: 0.25, sample_size: 10 };
        let mut calls = CallTimes::default();
        calls.push(0.002, 4, 4); // 0.5 ms per measurement
        assert!(criterion_fits(&config, &calls, 4));
        calls.push(0.4, 4, 4); // 100 ms per measurement: 11 calls of 0.4 s do not fit 1 s
        assert!(!criterion_fits(&config, &calls, 4));
        assert!(!criterion_fits(&TimingConfig { budget_secs: 0.0, ..config }, &CallTimes::default(), 1));
    }
}
