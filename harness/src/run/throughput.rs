//! Throughput: samples per second of a model's `restore`, with warm-up, repetitions and a
//! confidence interval over repetitions (the same method as the quality numbers).

use std::time::Instant;

use tch::Tensor;
use upbench_sdk::ModelBox;

use super::{restore, RunError};
use crate::estimate::{mean_of, Estimate, Intervals};

/// How to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimingConfig {
    /// Untimed calls first (libtorch allocators, caches, CUDA kernels' first launch).
    pub warmup: usize,
    /// Timed calls.
    pub repetitions: usize,
}

/// Samples per second of `model` on `measurements`, each call producing `n_samples` per
/// measurement; CUDA work is synchronised before each clock read.
pub fn throughput(
    model: &mut ModelBox,
    measurements: &Tensor,
    n_samples: u32,
    sample_shape: &[i64],
    timing: TimingConfig,
    intervals: Intervals,
) -> Result<Estimate, RunError> {
    let sync = || {
        if let tch::Device::Cuda(i) = measurements.device() {
            tch::Cuda::synchronize(i as i64);
        }
    };
    for rep in 0..timing.warmup {
        drop(restore(model, measurements, n_samples, rep as u64, sample_shape)?);
    }
    let per_call = (measurements.size()[0] * i64::from(n_samples)) as f64;
    let mut rates = Vec::with_capacity(timing.repetitions);
    for rep in 0..timing.repetitions {
        sync();
        let start = Instant::now();
        let out = restore(model, measurements, n_samples, rep as u64, sample_shape)?;
        sync();
        rates.push(per_call / start.elapsed().as_secs_f64());
        drop(out);
    }
    let [rate] = intervals.estimate(rates.len(), |idx| [mean_of(&rates, idx)]);
    Ok(rate)
}
