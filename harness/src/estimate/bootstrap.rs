//! Percentile bootstrap over independent units (observations y), seeded and reproducible.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ConfidenceInterval, Estimate};

/// Resampling settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples.
    pub resamples: usize,
    /// Interval coverage.
    pub level: f64,
    /// Seed of the resampling generator.
    pub seed: u64,
}

impl Bootstrap {
    /// Estimates of several statistics of the same units, resampled jointly so that ratios of
    /// them keep their correlation. `statistic(indices)` returns one value per statistic; the
    /// point estimates use all units in order.
    pub fn estimate<const S: usize>(
        &self,
        n_units: usize,
        statistic: impl Fn(&mut dyn Iterator<Item = usize>) -> [f64; S],
    ) -> [Estimate; S] {
        let point = statistic(&mut (0..n_units));
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut draws: [Vec<f64>; S] = std::array::from_fn(|_| Vec::with_capacity(self.resamples));
        let mut idx = vec![0usize; n_units];
        for _ in 0..self.resamples {
            for i in idx.iter_mut() {
                *i = rng.random_range(0..n_units);
            }
            let values = statistic(&mut idx.iter().copied());
            for (d, v) in draws.iter_mut().zip(values) {
                d.push(v);
            }
        }
        std::array::from_fn(|s| summarize(point[s], &mut draws[s], self.level, n_units))
    }
}

fn summarize(point: f64, draws: &mut [f64], level: f64, n: usize) -> Estimate {
    let finite: Vec<f64> = draws.iter().copied().filter(|v| !v.is_nan()).collect();
    if finite.is_empty() || point.is_infinite() {
        return Estimate::exact(point, level, n);
    }
    let mut sorted = finite;
    sorted.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    let at = |q: f64| {
        let pos = q * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (sorted.len().max(2) - 1) as f64;
    Estimate {
        point,
        ci: ConfidenceInterval { level, lower: at(alpha), upper: at(1.0 - alpha) },
        standard_error: var.sqrt(),
        n,
    }
}

/// Mean of the values selected by `indices`.
pub fn mean_of(values: &[f64], indices: &mut dyn Iterator<Item = usize>) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for i in indices {
        sum += values[i];
        count += 1;
    }
    sum / count as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_of_a_normal_mean_has_the_textbook_width() {
        // 400 standard normal draws: the 95 % interval of the mean is about ±1.96/20.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let values: Vec<f64> = (0..400)
            .map(|_| {
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect();
        let b = Bootstrap { resamples: 4000, level: 0.95, seed: 1 };
        let [est] = b.estimate(values.len(), |idx| [mean_of(&values, idx)]);
        let half = (est.ci.upper - est.ci.lower) / 2.0;
        assert!((half - 1.96 / 20.0).abs() < 0.012, "half width {half}");
        assert!((est.standard_error - 0.05).abs() < 0.006);
        assert!(est.ci.contains(est.point));
    }

    #[test]
    fn same_seed_same_interval() {
        let values: Vec<f64> = (0..50).map(|i| (i as f64).sin()).collect();
        let b = Bootstrap { resamples: 500, level: 0.9, seed: 3 };
        let a = b.estimate(50, |idx| [mean_of(&values, idx)]);
        let c = b.estimate(50, |idx| [mean_of(&values, idx)]);
        assert_eq!(a, c);
    }
}
