//! Confidence intervals over independent units (observations y, images), by one of two methods
//! ([`IntervalMethod`]); seeded where they resample, deterministic where they do not.
//!
//! The default, [`IntervalMethod::JackknifeT`], is a Student-t interval around the full-data
//! estimate with the jackknife standard error: point ± t(n − 1; (1 + level)/2)·SE_jack. For a
//! mean SE_jack is s/√n exactly, so the interval is the textbook t-interval (exact for normal
//! units); for smooth functions of several means (U/bound) it is the delta-method t-interval.
//! Callers hand in statistics on the scale where they are closest to normal (ln U, P, ln of the
//! ratio to the bound, ln MSE) and map the ends back. The percentile bootstrap, kept as
//! [`IntervalMethod::PercentileBootstrap`], under-covers at the n suites use: its spread uses
//! the n-denominator variance and normal quantiles (measured on exact tasks: ≈ 84 % at n = 8 for
//! a nominal 95 %; `upbench study`, "Interval coverage", has the table for both methods).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::{ConfidenceInterval, Estimate};

/// How an interval is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalMethod {
    /// Student-t with the jackknife standard error (close to nominal coverage at n ≥ 8).
    #[default]
    JackknifeT,
    /// Percentile bootstrap (under-covers at small n; kept for comparison).
    PercentileBootstrap,
}

impl std::fmt::Display for IntervalMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IntervalMethod::JackknifeT => "jackknife-t",
            IntervalMethod::PercentileBootstrap => "percentile-bootstrap",
        })
    }
}

impl IntervalMethod {
    /// How a caption names intervals of this method, e.g. "95 % jackknife-t intervals".
    pub fn caption(self, level: f64) -> String {
        let what = match self {
            IntervalMethod::JackknifeT => "Student-t intervals with jackknife standard errors",
            IntervalMethod::PercentileBootstrap => "percentile-bootstrap intervals",
        };
        let percent = level * 100.0;
        if (percent - percent.round()).abs() < 1e-9 {
            format!("{percent:.0} % {what}")
        } else {
            format!("{percent} % {what}")
        }
    }
}

/// Interval settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intervals {
    /// The method.
    pub method: IntervalMethod,
    /// Resamples of the percentile bootstrap (unused by the jackknife).
    pub resamples: usize,
    /// Interval coverage.
    pub level: f64,
    /// Seed of the bootstrap's resampling generator (unused by the jackknife).
    pub seed: u64,
}

impl Intervals {
    /// Estimates of several statistics of the same units. `statistic(indices)` returns one value
    /// per statistic; the point estimates use all units in order. The bootstrap resamples the
    /// statistics jointly, so that ratios of them keep their correlation; the jackknife leaves
    /// each unit out in turn.
    pub fn estimate<const S: usize>(
        &self,
        n_units: usize,
        statistic: impl Fn(&mut dyn Iterator<Item = usize>) -> [f64; S],
    ) -> [Estimate; S] {
        let point = statistic(&mut (0..n_units));
        match self.method {
            IntervalMethod::JackknifeT => {
                let mut left_out: [Vec<f64>; S] = std::array::from_fn(|_| Vec::with_capacity(n_units));
                for skip in 0..n_units {
                    let values = statistic(&mut (0..n_units).filter(|&i| i != skip));
                    for (d, v) in left_out.iter_mut().zip(values) {
                        d.push(v);
                    }
                }
                std::array::from_fn(|s| jackknife_t(point[s], &left_out[s], self.level))
            }
            IntervalMethod::PercentileBootstrap => {
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
                std::array::from_fn(|s| percentile(point[s], &mut draws[s], self.level, n_units))
            }
        }
    }
}

/// The two-sided Student-t quantile t(df; (1 + level)/2).
pub fn t_quantile(level: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(t) => t.inverse_cdf(0.5 + level / 2.0),
        Err(_) => f64::INFINITY,
    }
}

fn jackknife_t(point: f64, left_out: &[f64], level: f64) -> Estimate {
    let n = left_out.len();
    if point.is_infinite() {
        return Estimate::exact(point, level, n);
    }
    if n < 2 || left_out.iter().any(|v| !v.is_finite()) || !point.is_finite() {
        // No spread can be estimated: the interval says so instead of pretending to be exact.
        let nan = point.is_nan();
        let (lower, upper) = if nan { (f64::NAN, f64::NAN) } else { (f64::NEG_INFINITY, f64::INFINITY) };
        return Estimate { point, ci: ConfidenceInterval { level, lower, upper }, standard_error: f64::NAN, n };
    }
    let m = n as f64;
    let mean = left_out.iter().sum::<f64>() / m;
    let se = ((m - 1.0) / m * left_out.iter().map(|v| (v - mean).powi(2)).sum::<f64>()).sqrt();
    let half = t_quantile(level, m - 1.0) * se;
    Estimate {
        point,
        ci: ConfidenceInterval { level, lower: point - half, upper: point + half },
        standard_error: se,
        n,
    }
}

fn percentile(point: f64, draws: &mut [f64], level: f64, n: usize) -> Estimate {
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

    fn normal_draws(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect()
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Fisher & Yates' table: t(7; 0.975) = 2.365, t(31; 0.975) = 2.040, t(1000; 0.975) = 1.962.
        assert!((t_quantile(0.95, 7.0) - 2.364624).abs() < 1e-5);
        assert!((t_quantile(0.95, 31.0) - 2.039513).abs() < 1e-5);
        assert!((t_quantile(0.95, 1000.0) - 1.962339).abs() < 1e-5);
    }

    #[test]
    fn the_jackknife_interval_of_a_mean_is_the_textbook_t_interval() {
        let values = normal_draws(8, 5);
        let m = values.iter().sum::<f64>() / 8.0;
        let s = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 7.0).sqrt();
        let j = Intervals { method: IntervalMethod::JackknifeT, resamples: 0, level: 0.95, seed: 0 };
        let [est] = j.estimate(8, |idx| [mean_of(&values, idx)]);
        assert!((est.standard_error - s / 8f64.sqrt()).abs() < 1e-12);
        assert!((est.ci.upper - (m + 2.364624 * s / 8f64.sqrt())).abs() < 1e-5);
        assert!((est.ci.lower - (m - 2.364624 * s / 8f64.sqrt())).abs() < 1e-5);
    }

    #[test]
    fn the_jackknife_t_interval_covers_a_normal_mean_at_n_8() {
        // 4000 samples of 8 standard normals: coverage 0.95 ± 0.0034 (one binomial SE).
        let j = Intervals { method: IntervalMethod::JackknifeT, resamples: 0, level: 0.95, seed: 0 };
        let covered = (0..4000)
            .filter(|&rep| {
                let values = normal_draws(8, 100 + rep);
                let [est] = j.estimate(8, |idx| [mean_of(&values, idx)]);
                est.ci.contains(0.0)
            })
            .count();
        let coverage = covered as f64 / 4000.0;
        assert!((coverage - 0.95).abs() < 0.015, "coverage {coverage}");
    }

    #[test]
    fn percentile_interval_of_a_normal_mean_has_the_textbook_width() {
        // 400 standard normal draws: the 95 % interval of the mean is about ±1.96/20.
        let values = normal_draws(400, 7);
        let b = Intervals { method: IntervalMethod::PercentileBootstrap, resamples: 4000, level: 0.95, seed: 1 };
        let [est] = b.estimate(values.len(), |idx| [mean_of(&values, idx)]);
        let half = (est.ci.upper - est.ci.lower) / 2.0;
        assert!((half - 1.96 / 20.0).abs() < 0.012, "half width {half}");
        assert!((est.standard_error - 0.05).abs() < 0.006);
        assert!(est.ci.contains(est.point));
    }

    #[test]
    fn same_seed_same_interval() {
        let values: Vec<f64> = (0..50).map(|i| (i as f64).sin()).collect();
        for method in [IntervalMethod::JackknifeT, IntervalMethod::PercentileBootstrap] {
            let b = Intervals { method, resamples: 500, level: 0.9, seed: 3 };
            let a = b.estimate(50, |idx| [mean_of(&values, idx)]);
            let c = b.estimate(50, |idx| [mean_of(&values, idx)]);
            assert_eq!(a, c);
        }
    }

    #[test]
    fn one_unit_gives_an_unbounded_interval_not_an_exact_one() {
        let j = Intervals { method: IntervalMethod::JackknifeT, resamples: 0, level: 0.95, seed: 0 };
        let [est] = j.estimate(1, |idx| [mean_of(&[0.3], idx)]);
        assert_eq!((est.ci.lower, est.ci.upper), (f64::NEG_INFINITY, f64::INFINITY));
    }
}
