//! [`Estimator`]: the one abstraction over the two estimators of U and P, chosen once per run
//! by [`EstimatorConfig::estimator`]. Exact tasks ([`super::observation_stats`]) and image tasks
//! ([`super::images::image_stats`]) call it and never ask which one it is.
//!
//! - [`Gaussian`]: fitted Gaussians and closed forms, finite-sample corrections; exact for
//!   Gaussian laws, an upper bound on entropy otherwise ([`super::gaussian`]).
//! - [`Knn`]: Kozachenko–Leonenko entropy and the Póczos–Schneider Rényi divergence; any law,
//!   biased at high d ([`super::knn`], `docs/estimators.md`).

use tch::Tensor;

use super::patches::{ImagePatches, GREY_LEVEL_VARIANCE, MIN_POINTS_PER_DIMENSION};
use super::{gaussian, knn, special, to_vec, EstimateError, EstimatorConfig, EstimatorKind, Shrinkage, Truth};

/// Log entropy powers ln N(Z | Y = y) of samples `[n, K, d]`, one per observation.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntropyPowers {
    /// ln N per observation.
    pub per_observation: Vec<f64>,
    /// Whether covariance shrinkage was used (Gaussian estimator).
    pub shrinkage_used: bool,
    /// Points with a zero k-th neighbour distance (k-NN estimator).
    pub ties: usize,
}

/// Divergences per observation (nats), with the points that tied.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergences {
    /// D per observation.
    pub per_observation: Vec<f64>,
    /// Points with a zero k-th neighbour distance (k-NN estimator).
    pub ties: usize,
}

/// U and P of one image from a subset of its grid positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageCore {
    /// ln U.
    pub log_uncertainty: f64,
    /// P, nats.
    pub perception: f64,
    /// Whether a covariance was shrunk or had its eigenvalues floored.
    pub regularised: bool,
    /// Zero k-th neighbour distances.
    pub ties: usize,
}

/// An estimator of the entropy power of errors (U) and of the divergence between the true and
/// the model's laws (P).
pub trait Estimator {
    /// Which one it is, for the records.
    fn kind(&self) -> EstimatorKind;

    /// ln N(Z | Y = y) for every observation of `x` `[n, K, d]`.
    fn log_entropy_powers(&self, x: &Tensor) -> Result<LogEntropyPowers, EstimateError>;

    /// P per observation on an exact task: D(p(x|y) ‖ q(x̂|y)) between the exact posterior
    /// (`truth`, with its independent draws `draws` `[n, K, d]`) and a sampler's `samples`
    /// `[n, K', d]`.
    fn posterior_divergences(
        &self,
        truth: &Truth<'_>,
        draws: &Tensor,
        samples: &Tensor,
    ) -> Result<Divergences, EstimateError>;

    /// Whether `points` per observation are enough to estimate from (the convergence
    /// diagnostic's subsamples below it are left out).
    fn estimates_from(&self, points: i64) -> bool;

    /// The points an image's divergence compares, from its 8-bit truth patches `[L, d]` and its
    /// restored patches `[K, L, d]`: (truth, restored), as this estimator needs them.
    fn image_points(&self, truth: Tensor, restored: &Tensor) -> (Tensor, Tensor);

    /// U and P of one image from the first `count` grid positions of `patches`' order.
    fn image_core(&self, patches: &ImagePatches, count: i64) -> Result<ImageCore, EstimateError>;

    /// Whether `count` grid positions of `patches` are estimated the way all of them are (a
    /// subsample that would need another regulariser is left out of the diagnostic).
    fn image_subsample_fits(&self, patches: &ImagePatches, count: i64) -> bool;

    /// The fewest grid positions per image whose estimates are trusted in dimension `dim`.
    fn min_positions_per_image(&self, dim: i64) -> Option<i64>;
}

impl EstimatorConfig {
    /// The configured estimator: the one place the choice is made.
    pub fn estimator(&self) -> Box<dyn Estimator> {
        match self.kind {
            EstimatorKind::Gaussian => {
                Box::new(Gaussian { shrinkage: self.shrinkage, bias_correction: self.bias_correction })
            }
            EstimatorKind::Knn => Box::new(Knn { config: self.knn }),
        }
    }
}

/// The Gaussian estimator with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    /// Covariance regularisation.
    pub shrinkage: Shrinkage,
    /// Apply the finite-sample corrections of [`gaussian`].
    pub bias_correction: bool,
}

impl Gaussian {
    /// The regulariser of a fit to `points` in dimension `d` on an image, decided once at the full
    /// sample size so that the convergence subsamples use the same estimator.
    fn image_shrinkage(&self, points: i64, d: i64) -> Shrinkage {
        if self.shrinkage.applies_below(points, d, MIN_POINTS_PER_DIMENSION) {
            Shrinkage::LedoitWolf
        } else {
            Shrinkage::None
        }
    }

    /// ln N of error patches `[points, d]` as [`Estimator::log_entropy_powers`] computes it, but
    /// with the covariance's eigenvalues floored at [`GREY_LEVEL_VARIANCE`] where it
    /// is rank-deficient; the flag says whether the floor was used.
    fn image_log_entropy_power(&self, e: &Tensor) -> Result<(LogEntropyPowers, bool), EstimateError> {
        let (k, d) = (e.size()[0], e.size()[1]);
        let shrink = self.shrinkage.applies(k, d);
        let (_, cov) = gaussian::fit(&e.unsqueeze(0), shrink)?;
        let (cov, floored) = gaussian::floor_eigenvalues(&cov, GREY_LEVEL_VARIANCE)?;
        let mut log_det = gaussian::log_det(&cov)?.double_value(&[0]);
        if self.bias_correction && !shrink && !floored {
            log_det -= gaussian::wishart_log_det_bias(d, k);
        }
        let powers = LogEntropyPowers { per_observation: vec![log_det / d as f64], shrinkage_used: shrink, ties: 0 };
        Ok((powers, floored))
    }
}

impl Estimator for Gaussian {
    fn kind(&self) -> EstimatorKind {
        EstimatorKind::Gaussian
    }

    /// (1/d)·ln|Σ̂|, Wishart-corrected unless shrunk.
    fn log_entropy_powers(&self, x: &Tensor) -> Result<LogEntropyPowers, EstimateError> {
        let (_, k, d) = x.size3().map_err(|e| EstimateError::Shape(e.to_string()))?;
        let shrink = self.shrinkage.applies(k, d);
        let (_, cov) = gaussian::fit(x, shrink)?;
        let mut log_det = gaussian::log_det(&cov)?;
        if self.bias_correction && !shrink {
            log_det -= gaussian::wishart_log_det_bias(d, k);
        }
        Ok(LogEntropyPowers { per_observation: to_vec(&(log_det / d as f64))?, shrinkage_used: shrink, ties: 0 })
    }

    /// D_½ between the exact posterior and the samples' fitted Gaussian, bias-corrected unless
    /// shrunk; the draws are not needed.
    fn posterior_divergences(
        &self,
        truth: &Truth<'_>,
        _draws: &Tensor,
        samples: &Tensor,
    ) -> Result<Divergences, EstimateError> {
        let (_, k_model, d) = samples.size3().map_err(|e| EstimateError::Shape(e.to_string()))?;
        let shrink_q = self.shrinkage.applies(k_model, d);
        let p = if self.bias_correction && !shrink_q {
            gaussian::d_half_corrected(truth.posterior_mean, truth.posterior_cov, samples)?
        } else {
            let (q_mean, q_cov) = gaussian::fit(samples, shrink_q)?;
            gaussian::d_half(truth.posterior_mean, truth.posterior_cov, &q_mean, &q_cov)?
        };
        let per_observation = to_vec(&p.nan_to_num(f64::NAN, Some(f64::INFINITY), Some(f64::NEG_INFINITY)))?;
        Ok(Divergences { per_observation, ties: 0 })
    }

    fn estimates_from(&self, points: i64) -> bool {
        points >= 2
    }

    fn image_points(&self, truth: Tensor, restored: &Tensor) -> (Tensor, Tensor) {
        (truth, restored.shallow_clone())
    }

    /// U from the error patches (floored where rank-deficient); P as D_½ between Gaussians fitted
    /// to the truth's and the restored patches, both floored.
    fn image_core(&self, patches: &ImagePatches, count: i64) -> Result<ImageCore, EstimateError> {
        let (k, d, positions) = (patches.samples(), patches.dim(), patches.positions);
        let errors = Gaussian { shrinkage: self.image_shrinkage(k * positions, d), ..*self };
        let (shrink_truth, shrink_restored) =
            (self.image_shrinkage(positions, d), self.image_shrinkage(k * positions, d));
        let (t, r) = patches.first(count);
        let e = (&r - t.unsqueeze(0)).flatten(0, 1);
        let r = r.flatten(0, 1);
        let (u, floored_errors) = errors.image_log_entropy_power(&e)?;
        let (shrunk_t, shrunk_r) = (shrink_truth.applies(count, d), shrink_restored.applies(r.size()[0], d));
        let (mt, ct) = gaussian::fit(&t.unsqueeze(0), shrunk_t)?;
        let (mr, cr) = gaussian::fit(&r.unsqueeze(0), shrunk_r)?;
        let (ct, floored_t) = gaussian::floor_eigenvalues(&ct, GREY_LEVEL_VARIANCE)?;
        let (cr, floored_r) = gaussian::floor_eigenvalues(&cr, GREY_LEVEL_VARIANCE)?;
        let perception = gaussian::d_half(&mt, &ct, &mr, &cr)?.double_value(&[0]);
        let regularised = u.shrinkage_used || floored_errors || shrunk_t || shrunk_r || floored_t || floored_r;
        Ok(ImageCore { log_uncertainty: u.per_observation[0], perception, regularised, ties: u.ties })
    }

    /// A subsample fits when it would not be shrunk where the full sample is not.
    fn image_subsample_fits(&self, patches: &ImagePatches, count: i64) -> bool {
        let (k, d, positions) = (patches.samples(), patches.dim(), patches.positions);
        let enough = |points: i64, full: Shrinkage| {
            full == Shrinkage::LedoitWolf || !Shrinkage::Auto.applies_below(points, d, MIN_POINTS_PER_DIMENSION)
        };
        enough(count, self.image_shrinkage(positions, d)) && enough(count * k, self.image_shrinkage(k * positions, d))
    }

    /// 2·d: below it no covariance estimate is trustworthy (`docs/protocol.md` §4).
    fn min_positions_per_image(&self, dim: i64) -> Option<i64> {
        Some(MIN_POINTS_PER_DIMENSION * dim)
    }
}

/// The k-NN estimators with their settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knn {
    /// k, α, the memory bound and the bias correction.
    pub config: knn::KnnConfig,
}

impl Estimator for Knn {
    fn kind(&self) -> EstimatorKind {
        EstimatorKind::Knn
    }

    /// (2/d)·ĥ − ln(2πe) with the Kozachenko–Leonenko ĥ, per observation.
    fn log_entropy_powers(&self, x: &Tensor) -> Result<LogEntropyPowers, EstimateError> {
        let (n, _, d) = x.size3().map_err(|e| EstimateError::Shape(e.to_string()))?;
        let (mut per_observation, mut ties) = (Vec::with_capacity(n as usize), 0);
        for y in 0..n {
            let h = knn::kl_entropy(&x.get(y), &self.config)?;
            ties += h.ties;
            per_observation.push(special::log_entropy_power(h.nats, d as usize));
        }
        Ok(LogEntropyPowers { per_observation, shrinkage_used: false, ties })
    }

    /// The Rényi divergence between the posterior's draws and the samples, per observation.
    fn posterior_divergences(
        &self,
        _truth: &Truth<'_>,
        draws: &Tensor,
        samples: &Tensor,
    ) -> Result<Divergences, EstimateError> {
        let n = samples.size()[0];
        let (mut per_observation, mut ties) = (Vec::with_capacity(n as usize), 0);
        for y in 0..n {
            let p = knn::renyi_divergence(&draws.get(y), &samples.get(y), &self.config)?;
            ties += p.ties;
            per_observation.push(p.nats);
        }
        Ok(Divergences { per_observation, ties })
    }

    fn estimates_from(&self, points: i64) -> bool {
        points >= 2 && points > self.config.k as i64
    }

    /// 8-bit ground truths tie (flat and saturated areas): each value is spread over its grey
    /// level, and the restored patches the divergence compares with are smoothed by the same
    /// grey-level noise, so that both laws meet one kernel.
    fn image_points(&self, truth: Tensor, restored: &Tensor) -> (Tensor, Tensor) {
        (knn::dequantize(&truth, 1.0 / 255.0), knn::dequantize(restored, 1.0 / 255.0))
    }

    fn image_core(&self, patches: &ImagePatches, count: i64) -> Result<ImageCore, EstimateError> {
        let (t, r) = patches.first(count);
        let e = (&r - t.unsqueeze(0)).flatten(0, 1);
        let u = self.log_entropy_powers(&e.unsqueeze(0))?;
        // The k-NN estimator needs two *independent* samples. A restored patch is a function of
        // the truth patch at its position, so it would be its truth patch's nearest neighbour
        // (ν ≪ ρ); raised to the power d that drove the Rényi estimate to minus a hundred nats
        // on 9×9 patches. The truth's law is sampled at one half of the positions and the
        // restored law at the other half, as many points each (the estimator's (n − 1)/m
        // correction assumes full-dimensional densities, which patches are not, so m ≈ n keeps
        // it out of play).
        let half = count / 2;
        let t = t.narrow(0, 0, half);
        let compared = patches.compared_at(half, count - half);
        let available = compared.size()[0];
        let pick = Tensor::randperm(available, (tch::Kind::Int64, compared.device())).narrow(0, 0, half.min(available));
        let compared = compared.index_select(0, &pick);
        let p = knn::renyi_divergence(&t, &compared, &self.config)?;
        Ok(ImageCore {
            log_uncertainty: u.per_observation[0],
            perception: p.nats,
            regularised: u.shrinkage_used,
            ties: u.ties + p.ties,
        })
    }

    fn image_subsample_fits(&self, _patches: &ImagePatches, _count: i64) -> bool {
        true
    }

    fn min_positions_per_image(&self, _dim: i64) -> Option<i64> {
        None
    }
}
