//! Is a sampler's spread honest? Simulation-based calibration (Talts et al. 2018) of K samples
//! per observation against the ground truth: the rank of the truth among the samples, per
//! coordinate ([`CalibrationStats`]), and what the ranks say ([`Calibration`]).
//!
//! For a true posterior sampler the truth is one more draw from the law the samples come from,
//! so its rank r = #{k : s_k < x} is uniform on {0, …, K}, and the central interval between the
//! order statistics s₍ₐ₎ and s₍K+1−a₎ covers it with probability exactly (K + 1 − 2a)/(K + 1).
//! That finite-K level is the *nominal* coverage each measured coverage is compared with; a is
//! the smallest count of samples left out on each side that keeps it at or above the asked level
//! (at least 1, so a K too small for a level gives a lower nominal, stated as such).
//!
//! Dependence: the coordinates of one observation are dependent (a posterior covariance, or
//! neighbouring pixels), the observations are independent. So every interval is over
//! observations — each observation's covered fraction of coordinates is one unit, the interval a
//! Wilson score interval on the effective number of trials ([`wilson`]) — and the
//! uniformity test uses one coordinate per observation (drawn from a seeded stream), which makes
//! its ranks independent; the pooled histogram of every coordinate is reported for reading, not
//! tested. Ties (8-bit images, copied observed pixels) are broken uniformly at random, as SBC does.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use tch::{Kind, Tensor};

use super::{mean_of, ConfidenceInterval, Estimate, EstimateError, Intervals};

/// The central-interval levels whose coverage is reported.
pub const LEVELS: [f64; 3] = [0.5, 0.8, 0.9];

/// Ranks of the truth among a sampler's K samples, accumulated over batches of observations.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationStats {
    /// K.
    samples: usize,
    /// Coordinates ranked, every observation's summed (the independent trials' upper bound).
    coordinates: usize,
    /// Ranks 0..=K of every coordinate of every observation, counted.
    histogram: Vec<u64>,
    /// Per observation, the fraction of its coordinates inside each level's central interval.
    covered: Vec<[f64; LEVELS.len()]>,
    /// Per observation, the rank of one coordinate (the uniformity test's independent ranks).
    thinned: Vec<usize>,
}

impl CalibrationStats {
    /// The ranks of `truth` (`[n, …]`) among `samples` (`[n, K, …]`, the same trailing shape),
    /// ties broken and thinning coordinates drawn from `seed`. Errors when the shapes disagree
    /// or K < 2 (one sample has no spread to calibrate).
    pub fn of(samples: &Tensor, truth: &Tensor, seed: u64) -> Result<CalibrationStats, EstimateError> {
        let shape = samples.size();
        let n = truth.size().first().copied().unwrap_or(0);
        if shape.len() < 2 || shape[0] != n || shape[2..] != truth.size()[1..] {
            return Err(EstimateError::Shape(format!(
                "samples {shape:?} and ground truth {:?} do not match for calibration",
                truth.size()
            )));
        }
        let k = shape[1] as usize;
        if k < 2 {
            return Err(EstimateError::Shape(format!("calibration needs K ≥ 2 samples per observation, got {k}")));
        }
        let (n, coordinates) = (n as usize, truth.numel() / (n.max(1) as usize));
        if coordinates == 0 {
            return Err(EstimateError::Shape("calibration needs at least one coordinate per observation".into()));
        }
        let samples = samples.to_kind(Kind::Double).reshape([n as i64, k as i64, -1]);
        let truth = truth.to_kind(Kind::Double).reshape([n as i64, 1, -1]);
        let numeric = |e: tch::TchError| EstimateError::Numeric(e.to_string());
        let count = |t: Result<Tensor, tch::TchError>| -> Result<Vec<i64>, EstimateError> {
            let counts = t.and_then(|t| t.f_sum_dim_intlist(1, false, Kind::Int64)).map_err(numeric)?;
            Vec::<i64>::try_from(counts.to_device(tch::Device::Cpu).reshape([-1])).map_err(numeric)
        };
        let below = count(samples.f_lt_tensor(&truth))?;
        let equal = count(samples.f_eq_tensor(&truth))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut stats = CalibrationStats::empty(k, n * coordinates);
        for obs in 0..n {
            let mut inside = [0usize; LEVELS.len()];
            let ranks: Vec<usize> = (obs * coordinates..(obs + 1) * coordinates)
                .map(|i| (below[i] + rng.random_range(0..=equal[i])) as usize)
                .collect();
            for &rank in &ranks {
                stats.histogram[rank] += 1;
                for (level, count) in inside.iter_mut().enumerate() {
                    let a = left_out(k, LEVELS[level]);
                    *count += usize::from(rank >= a && rank <= k - a);
                }
            }
            stats.covered.push(inside.map(|c| c as f64 / coordinates as f64));
            stats.thinned.push(ranks[rng.random_range(0..coordinates)]);
        }
        Ok(stats)
    }

    fn empty(samples: usize, coordinates: usize) -> CalibrationStats {
        CalibrationStats {
            samples,
            coordinates,
            histogram: vec![0; samples + 1],
            covered: Vec::new(),
            thinned: Vec::new(),
        }
    }

    /// The ranks of one image's `truth` (`[C, H, W]`) among a sampler's `samples` of it
    /// (`[K, C, H, W]`) over its evaluation region: every channel of the pixels `border` or more
    /// from the edges and, for inpainting, only the `hidden` ones (`[1, H, W]`; observed pixels
    /// are copied, and their ties would rank anywhere). One image is one observation.
    pub fn of_image(
        samples: &Tensor,
        truth: &Tensor,
        (border, hidden): (i64, Option<&Tensor>),
        seed: u64,
    ) -> Result<CalibrationStats, EstimateError> {
        let numeric = |e: tch::TchError| EstimateError::Numeric(e.to_string());
        let (h, w) = match truth.size()[..] {
            [_, h, w] => (h, w),
            _ => (0, 0),
        };
        if samples.dim() != 4 || h <= 2 * border || w <= 2 * border {
            return Err(EstimateError::Shape(format!(
                "samples {:?} and ground truth {:?} with border {border}: no region to calibrate on",
                samples.size(),
                truth.size()
            )));
        }
        let crop = |x: &Tensor| -> Result<Tensor, tch::TchError> {
            let d = x.dim() as i64;
            x.f_narrow(d - 2, border, h - 2 * border)?.f_narrow(d - 1, border, w - 2 * border)
        };
        let (samples, truth) = (crop(samples).map_err(numeric)?, crop(truth).map_err(numeric)?);
        let k = samples.size()[0];
        let (samples, truth) = match hidden {
            None => (samples.reshape([1, k, -1]), truth.reshape([1, -1])),
            Some(hidden) => {
                let mask = crop(hidden).and_then(|m| m.f_ne(0)).map_err(numeric)?.expand_as(&truth);
                let inside = |x: &Tensor| x.f_masked_select(&mask.to_device(x.device())).map_err(numeric);
                let kept = (0..k).map(|i| inside(&samples.get(i))).collect::<Result<Vec<_>, _>>()?;
                (Tensor::stack(&kept, 0).unsqueeze(0), inside(&truth)?.unsqueeze(0))
            }
        };
        CalibrationStats::of(&samples, &truth, seed)
    }

    /// Appends more observations of the same K (their coordinates may differ in number, as
    /// images' do).
    pub fn extend(&mut self, other: CalibrationStats) {
        debug_assert_eq!(self.samples, other.samples);
        self.coordinates += other.coordinates;
        self.histogram.iter_mut().zip(&other.histogram).for_each(|(a, b)| *a += b);
        self.covered.extend(other.covered);
        self.thinned.extend(other.thinned);
    }

    /// What the ranks say: coverage at each level with intervals over observations, the pooled
    /// histogram, and the uniformity test on the thinned ranks.
    pub fn summary(&self, intervals: &Intervals) -> Calibration {
        let n = self.covered.len();
        let coverage = LEVELS
            .iter()
            .enumerate()
            .map(|(level, &asked)| {
                let values: Vec<f64> = self.covered.iter().map(|c| c[level]).collect();
                let [estimate] = intervals.estimate(n, |idx| [mean_of(&values, idx)]);
                let estimate = wilson(estimate, intervals.level, self.coordinates);
                Coverage { level: asked, nominal: nominal(self.samples, asked), estimate }
            })
            .collect();
        Calibration {
            samples: self.samples,
            observations: n,
            coordinates: (self.coordinates as f64 / n.max(1) as f64).round() as usize,
            rank_histogram: self.histogram.clone(),
            coverage,
            uniformity: uniformity(&self.thinned, self.samples),
        }
    }
}

/// A coverage `estimate` (a mean of per-observation fractions, with its standard error over
/// observations) given a Wilson score interval at `level` on its effective number of
/// independent trials n_eff = p̂(1 − p̂)/se², at most `trials` (every coordinate independent) and
/// at least the observations. The design-effect Wilson interval (Korn & Graubard 1998) stays
/// inside [0, 1] and does not collapse to a point when every observation is covered (p̂ = 1,
/// se = 0), where the Student-t interval around the mean would.
fn wilson(estimate: Estimate, level: f64, trials: usize) -> Estimate {
    let (p, se, n) = (estimate.point, estimate.standard_error, estimate.n);
    let floor = n.max(1) as f64;
    let n_eff = if se > 0.0 { (p * (1.0 - p) / (se * se)).clamp(floor, trials.max(1) as f64) } else { floor };
    let z = Normal::new(0.0, 1.0).map_or(f64::NAN, |normal| normal.inverse_cdf(0.5 + level / 2.0));
    let (z2, centre) = (z * z, p + z * z / (2.0 * n_eff));
    let half = z * (p * (1.0 - p) / n_eff + z2 / (4.0 * n_eff * n_eff)).sqrt();
    let scale = 1.0 + z2 / n_eff;
    // Within [0, 1] in exact arithmetic; the clamp removes rounding (1 + 2e-16).
    let (lower, upper) = (((centre - half) / scale).max(0.0), ((centre + half) / scale).min(1.0));
    let ci = ConfidenceInterval { level, lower, upper };
    Estimate { ci, ..estimate }
}

/// Samples left out on each side of the central interval for `level` among `k`: the smallest
/// a ≥ 1 whose interval [s₍ₐ₎, s₍K+1−a₎] still has nominal coverage ≥ `level` (1 when none does).
fn left_out(k: usize, level: f64) -> usize {
    // The 1e-9 keeps exact cases exact: (1 − 0.9)·100/2 is 4.999… in floating point.
    (((k + 1) as f64 * (1.0 - level) / 2.0 + 1e-9).floor() as usize).max(1)
}

/// The exact coverage of the central interval for `level` among `k` samples, for a calibrated
/// sampler: (K + 1 − 2a)/(K + 1).
pub fn nominal(k: usize, level: f64) -> f64 {
    let a = left_out(k, level);
    (k + 1).saturating_sub(2 * a) as f64 / (k + 1) as f64
}

/// Where one image's truth (`[C, H, W]`) falls outside the central `level` interval of a
/// sampler's `samples` of it (`[K, C, H, W]`, K ≥ 2): per pixel (`[H, W]`, double), the share of
/// its channels outside — the coverage map of a sample grid. The interval and the rank are those
/// of [`CalibrationStats`] (outside when r < a or r > K − a); a truth tied with some samples has
/// each rank of its tie equally likely, as when the ranks break ties at random, so a channel
/// counts the probability that it lands outside. Computed on the samples' device.
pub fn outside_interval(samples: &Tensor, truth: &Tensor, level: f64) -> Result<Tensor, EstimateError> {
    let shape = samples.size();
    if shape.len() != 4 || shape[1..] != truth.size()[..] || shape[0] < 2 {
        return Err(EstimateError::Shape(format!(
            "samples {shape:?} (K ≥ 2) and ground truth {:?} do not match for a coverage map",
            truth.size()
        )));
    }
    let numeric = |e: tch::TchError| EstimateError::Numeric(e.to_string());
    let k = shape[0];
    let a = left_out(k as usize, level) as i64;
    let truth = truth.to_device(samples.device());
    let count = |t: Result<Tensor, tch::TchError>| t.and_then(|t| t.f_sum_dim_intlist(0, false, Kind::Double));
    // the ranks a tie-broken truth can have: below ..= below + equal
    let below = count(samples.f_lt_tensor(&truth)).map_err(numeric)?;
    let equal = count(samples.f_eq_tensor(&truth)).map_err(numeric)?;
    let highest = &below + &equal;
    let low_side = (highest.clamp_max((a - 1) as f64) - &below + 1.0).clamp_min(0.0);
    let high_side = (&highest - below.clamp_min((k - a + 1) as f64) + 1.0).clamp_min(0.0);
    Ok(((low_side + high_side) / (equal + 1.0)).mean_dim(0, false, Kind::Double))
}

/// Pearson's χ² test of uniform ranks on {0, …, K}, with the ranks grouped into bins that each
/// expect at least five of them (at most 20 bins; fewer than 10 ranks: no test).
fn uniformity(ranks: &[usize], k: usize) -> Uniformity {
    let n = ranks.len();
    let bins = (n / 5).clamp(2, 20).min(k + 1);
    if n < 10 {
        return Uniformity { ranks: n, bins, statistic: f64::NAN, p_value: f64::NAN };
    }
    // Bin b holds the ranks r with ⌊r·bins/(K+1)⌋ = b; its probability is its share of ranks.
    let bin_of = |r: usize| r * bins / (k + 1);
    let mut observed = vec![0usize; bins];
    ranks.iter().for_each(|&r| observed[bin_of(r)] += 1);
    let mut width = vec![0usize; bins];
    (0..=k).for_each(|r| width[bin_of(r)] += 1);
    let statistic: f64 = observed
        .iter()
        .zip(&width)
        .map(|(&o, &w)| {
            let expected = n as f64 * w as f64 / (k + 1) as f64;
            (o as f64 - expected).powi(2) / expected
        })
        .sum();
    let p_value = ChiSquared::new((bins - 1) as f64).map_or(f64::NAN, |chi2| chi2.sf(statistic));
    Uniformity { ranks: n, bins, statistic, p_value }
}

/// What the ranks of the truth say about a sampler's spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// K, samples per observation.
    pub samples: usize,
    /// n, observations (the independent units of every interval).
    pub observations: usize,
    /// Coordinates ranked per observation: d, or the pixel values (every channel) of an image's
    /// evaluation region, their mean over the images, rounded, when the images differ in size.
    pub coordinates: usize,
    /// How often the truth had each rank 0..=K among the samples, every coordinate pooled (for
    /// reading: uniform for a calibrated sampler, ∪-shaped when the spread is too small,
    /// ∩-shaped when too large, lopsided when biased).
    pub rank_histogram: Vec<u64>,
    /// Coverage of the samples' central intervals, per level in [`LEVELS`].
    pub coverage: Vec<Coverage>,
    /// The uniformity test on one coordinate per observation.
    pub uniformity: Uniformity,
}

/// How often a level's central interval held the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The level asked for (0.5, 0.8, 0.9).
    #[serde(with = "crate::float")]
    pub level: f64,
    /// What a calibrated sampler's interval covers with K samples: (K + 1 − 2a)/(K + 1).
    #[serde(with = "crate::float")]
    pub nominal: f64,
    /// The measured coverage: mean over observations of the fraction of coordinates covered.
    pub estimate: Estimate,
}

/// Pearson's χ² test of uniform ranks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uniformity {
    /// Ranks tested (one per observation).
    pub ranks: usize,
    /// Bins the ranks were grouped into.
    pub bins: usize,
    /// The χ² statistic (NaN: too few ranks to test).
    #[serde(with = "crate::float")]
    pub statistic: f64,
    /// Its p-value with bins − 1 degrees of freedom (NaN: not tested).
    #[serde(with = "crate::float")]
    pub p_value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::IntervalMethod;

    fn intervals() -> Intervals {
        Intervals { method: IntervalMethod::JackknifeT, resamples: 0, level: 0.95, seed: 1 }
    }

    #[test]
    fn nominal_coverage_is_exact_for_finite_k() {
        // K = 8: the 90 % interval cannot be had; [min, max] covers 7/9.
        assert_eq!(nominal(8, 0.9), 7.0 / 9.0);
        assert_eq!(nominal(8, 0.5), 5.0 / 9.0);
        // K = 99: a = 5 for 90 %, 90/100 exactly.
        assert_eq!(nominal(99, 0.9), 0.9);
        assert_eq!(nominal(99, 0.5), 0.5);
    }

    #[test]
    fn the_coverage_map_marks_ranks_outside_the_interval() {
        let cpu = (Kind::Double, tch::Device::Cpu);
        // K = 9, 50 %: a = 2, the truth is inside for ranks 2..=7. Samples 1, …, 9 everywhere.
        let samples = Tensor::arange_start(1, 10, cpu).view([9, 1, 1, 1]).expand([9, 2, 1, 4], false);
        // pixel by pixel (channel 0 / channel 1): ranks 0 / 9 (both outside), 2 / 7 (both inside),
        // 1 / 5 (one of two outside), and a tie with sample 2 (rank 1 or 2: half outside) / 8
        let truth = Tensor::from_slice(&[0.5, 2.5, 1.5, 2.0, 9.5, 7.5, 5.5, 8.5]).view([2, 1, 4]);
        let map = outside_interval(&samples, &truth, 0.5).unwrap();
        assert_eq!(map.size(), [1, 4]);
        assert_eq!(Vec::<f64>::try_from(map.flatten(0, -1)).unwrap(), [1.0, 0.0, 0.5, 0.75]);
        // K = 9 at 90 %: a = 1, only ranks 0 and 9 are outside
        let map = outside_interval(&samples, &truth, 0.9).unwrap();
        assert_eq!(Vec::<f64>::try_from(map.flatten(0, -1)).unwrap(), [1.0, 0.0, 0.0, 0.0]);
        // a truth tied with every sample ranks anywhere in 0..=K: 2 of 10 ranks outside
        let flat = Tensor::ones([9, 1, 1, 1], cpu);
        let map = outside_interval(&flat, &Tensor::ones([1, 1, 1], cpu), 0.9).unwrap();
        assert!((map.double_value(&[0, 0]) - 0.2).abs() < 1e-12);
        assert!(outside_interval(&samples.narrow(0, 0, 1), &truth, 0.9).is_err());
        assert!(outside_interval(&samples, &truth.narrow(2, 0, 2), 0.9).is_err());
    }

    #[test]
    fn draws_from_the_law_of_the_truth_are_calibrated_and_narrow_ones_are_not() {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(7);
        let (n, k, d) = (400, 39, 6);
        let truth = Tensor::randn([n, d], (Kind::Double, tch::Device::Cpu));
        let honest = Tensor::randn([n, k, d], (Kind::Double, tch::Device::Cpu));
        let summary = CalibrationStats::of(&honest, &truth, 3).unwrap().summary(&intervals());
        assert_eq!(summary.rank_histogram.iter().sum::<u64>(), (n * d) as u64);
        for c in &summary.coverage {
            assert!(c.estimate.ci.lower <= c.nominal && c.nominal <= c.estimate.ci.upper, "{c:?}");
        }
        assert!(summary.uniformity.p_value > 0.001, "{:?}", summary.uniformity);
        let narrow = &honest * 0.5;
        let summary = CalibrationStats::of(&narrow, &truth, 3).unwrap().summary(&intervals());
        for c in &summary.coverage {
            assert!(c.estimate.ci.upper < c.nominal, "{c:?}");
        }
        assert!(summary.uniformity.p_value < 1e-6, "{:?}", summary.uniformity);
        // ∪-shaped: the extreme ranks are the commonest.
        let h = &summary.rank_histogram;
        assert!(h[0] > 3 * h[k as usize / 2] && h[k as usize] > 3 * h[k as usize / 2], "{h:?}");
    }

    #[test]
    fn a_coverage_of_every_observation_keeps_an_interval() {
        // d = 1, all 32 observations covered: the mean's standard error is 0, yet 32 of 32
        // is no proof of a coverage above 0.9 (Wilson: lower end 32/(32 + 1.96²) = 0.893).
        let all = Estimate {
            point: 1.0,
            ci: ConfidenceInterval { level: 0.95, lower: 1.0, upper: 1.0 },
            standard_error: 0.0,
            n: 32,
        };
        let widened = wilson(all, 0.95, 32);
        assert!((widened.ci.lower - 32.0 / (32.0 + 1.959964f64.powi(2))).abs() < 1e-6, "{widened:?}");
        assert_eq!(widened.ci.upper, 1.0);
        // Inside (0, 1) with n_eff = n it is the binomial Wilson interval: 16 of 32.
        let half = Estimate { point: 0.5, standard_error: (0.25f64 / 32.0).sqrt(), ..all };
        let ci = wilson(half, 0.95, 32).ci;
        // (p + z²/2n ± z·√(p(1 − p)/n + z²/4n²))/(1 + z²/n) with z = 1.959964: [0.33631, 0.66369].
        assert!((ci.lower - 0.33631).abs() < 1e-5 && (ci.upper - 0.66369).abs() < 1e-5, "{ci:?}");
    }

    #[test]
    fn ties_are_broken_at_random_and_shapes_are_checked() {
        // Every sample equals the truth: ranks spread uniformly, not piled on 0.
        let truth = Tensor::zeros([200, 4], (Kind::Double, tch::Device::Cpu));
        let samples = Tensor::zeros([200, 9, 4], (Kind::Double, tch::Device::Cpu));
        let stats = CalibrationStats::of(&samples, &truth, 5).unwrap();
        assert!(stats.histogram.iter().all(|&c| c > 40), "{:?}", stats.histogram);
        let one = Tensor::zeros([200, 1, 4], (Kind::Double, tch::Device::Cpu));
        assert!(CalibrationStats::of(&one, &truth, 5).is_err());
        let wrong = Tensor::zeros([200, 9, 5], (Kind::Double, tch::Device::Cpu));
        assert!(CalibrationStats::of(&wrong, &truth, 5).is_err());
    }

    #[test]
    fn an_image_is_ranked_on_its_evaluation_region_only() {
        let cpu = (Kind::Float, tch::Device::Cpu);
        // K = 3 samples of a 2-channel 6×6 image: 0.1, 0.2 and 0.3 everywhere; the truth is 0.25
        // (rank 2) in the left half and 0.05 (rank 0) in the right half.
        let samples = Tensor::from_slice(&[0.1f32, 0.2, 0.3]).view([3, 1, 1, 1]).expand([3, 2, 6, 6], false);
        let left = Tensor::ones([6, 3], cpu);
        let truth = (Tensor::cat(&[&left * 0.25, &left * 0.05], 1)).unsqueeze(0).expand([2, 6, 6], false);
        // border 1: 4×4 pixels × 2 channels, half of each rank
        let stats = CalibrationStats::of_image(&samples, &truth, (1, None), 3).unwrap();
        assert_eq!(stats.histogram, vec![16, 0, 16, 0]);
        assert_eq!((stats.coordinates, stats.covered.len()), (32, 1));
        // K = 3, 50 %: a = 1, the interval [s₍₁₎, s₍₃₎] holds rank 2 only
        assert_eq!(stats.covered[0][0], 0.5);
        // hidden: only the left half's top row inside the border (columns 1, 2): rank 2 only
        let hidden = Tensor::zeros([1, 6, 6], cpu);
        let _ = hidden.narrow(1, 1, 1).narrow(2, 0, 3).fill_(1.0);
        let stats = CalibrationStats::of_image(&samples, &truth, (1, Some(&hidden)), 3).unwrap();
        assert_eq!(stats.histogram, vec![0, 0, 4, 0]);
        // two images of different sizes make one set of observations
        let mut both = CalibrationStats::of_image(&samples, &truth, (1, None), 3).unwrap();
        both.extend(stats);
        assert_eq!((both.coordinates, both.covered.len()), (36, 2));
        assert_eq!(both.summary(&intervals()).coordinates, 18);
        assert!(CalibrationStats::of_image(&samples, &truth, (3, None), 3).is_err());
    }
}
