//! Stage 4: estimate uncertainty, perception and distortion from samples.
//!
//! Input: a model's samples x̂ `[n, K, d]` for n observations, and what the task knows about the
//! truth (the ground-truth x, the exact posterior and K independent posterior draws x' per y).
//! Output: per-observation statistics ([`ObservationStats`]); aggregation over y and confidence
//! intervals happen in [`crate::judge`], with [`Intervals`].
//!
//! Errors are E = X̂ − X' with X' drawn from p(x | y) independently of X̂, which is exactly the
//! conditional law of X̂ − X given Y = y (`theory.md`, "Setting": X and X̂ are independent given Y).
//!
//! Two estimators behind one [`Estimator`] trait, chosen once by [`EstimatorConfig::estimator`]:
//! [`Gaussian`] (fitted Gaussians, closed forms, finite-sample corrections; exact for Gaussian
//! laws, an upper bound on entropy otherwise) and [`Knn`] (Kozachenko–Leonenko entropy,
//! Póczos–Schneider divergence; any law, biased at high d: `docs/estimators.md`). Both also report their values from K/4 and K/2 samples
//! ([`SubsampleStats`]) for the convergence diagnostic.

pub mod calibration;
#[allow(clippy::module_inception)]
mod estimate;
mod estimator;
pub mod fidelity;
pub mod gaussian;
pub mod images;
mod intervals;
pub mod knn;
mod patches;
pub mod quality;
pub mod special;

pub use estimate::{ConfidenceInterval, Estimate};
pub use estimator::{Divergences, Estimator, Gaussian, ImageCore, Knn, LogEntropyPowers};
pub use gaussian::Shrinkage;
pub use intervals::{mean_of, t_quantile, IntervalMethod, Intervals};
pub use knn::KnnConfig;

use tch::{Kind, Tensor};

/// Why an estimate could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// A libtorch operation failed (e.g. a factorisation of a singular matrix).
    #[error("numerical failure in the estimator: {0}")]
    Numeric(String),
    /// Inputs of the wrong shape.
    #[error("estimator input has the wrong shape: {0}")]
    Shape(String),
}

/// Which estimator computes U and P.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstimatorKind {
    /// Fitted Gaussians and closed forms ([`gaussian`]): exact for Gaussian laws, an upper bound
    /// on entropy otherwise.
    #[default]
    Gaussian,
    /// k-nearest-neighbour estimators ([`knn`]): consistent for any law, biased at high d.
    Knn,
}

impl std::fmt::Display for EstimatorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EstimatorKind::Gaussian => "gaussian",
            EstimatorKind::Knn => "knn",
        })
    }
}

fn default_shrinkage() -> Shrinkage {
    Shrinkage::Auto
}
fn yes() -> bool {
    true
}

/// Which estimator, with its settings: the suite's `[estimator]` section.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimatorConfig {
    /// The estimator.
    #[serde(default)]
    pub kind: EstimatorKind,
    /// Covariance regularisation (Gaussian estimator).
    #[serde(default = "default_shrinkage")]
    pub shrinkage: Shrinkage,
    /// Apply the finite-sample bias corrections of [`gaussian`] (Gaussian estimator).
    #[serde(default = "yes")]
    pub bias_correction: bool,
    /// k, α and the memory bound (k-NN estimator).
    #[serde(default)]
    pub knn: KnnConfig,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig {
            kind: EstimatorKind::Gaussian,
            shrinkage: Shrinkage::Auto,
            bias_correction: true,
            knn: KnnConfig::default(),
        }
    }
}

/// What the task knows about the truth for the observations a model was run on.
pub struct Truth<'a> {
    /// Exact posterior means `[n, d]`.
    pub posterior_mean: &'a Tensor,
    /// Exact posterior covariance `[d, d]` (the same for every y in a linear-Gaussian task).
    pub posterior_cov: &'a Tensor,
    /// Independent posterior draws `[n, K, d]`.
    pub posterior_draws: &'a Tensor,
}

/// U and P per observation from the first K/4 and K/2 samples, for the convergence diagnostic.
#[derive(Debug, Clone, PartialEq)]
pub struct SubsampleStats {
    /// Samples per observation used.
    pub samples_per_observation: i64,
    /// As [`ObservationStats::log_uncertainty`].
    pub log_uncertainty: Vec<f64>,
    /// As [`ObservationStats::perception`].
    pub perception: Vec<f64>,
}

/// Per-observation statistics of one model configuration on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationStats {
    /// ln N(X̂ − X | Y = y) per y, the log entropy power of the error (for the Gaussian estimator
    /// (1/d)·ln|Σ̂_E,y|), so that U = exp(mean over y) (`theory.md`: the average over y is inside
    /// the exponent).
    pub log_uncertainty: Vec<f64>,
    /// D_½(p(x|y) ‖ q̂(x̂|y)) per y, in nats (D_α for the k-NN estimator's α); +∞ for a
    /// deterministic model.
    pub perception: Vec<f64>,
    /// (1/d)·E‖X̂ − X‖² per y. Exact tasks: over the K pairs of a sample x̂ₖ and an exact
    /// posterior draw x′ₖ (a deterministic model's one x̂ against every draw), an unbiased
    /// estimate of E[‖X̂ − X‖² | y] with far less noise than the one ground truth x gives; image
    /// tasks: against the ground truth, the only one there is.
    pub mse: Vec<f64>,
    /// Whether covariance shrinkage was used (then the estimates are biased).
    pub shrinkage_used: bool,
    /// Points whose k-th neighbour distance was zero (k-NN estimator).
    pub ties: usize,
    /// The same statistics from the first K/4 and K/2 samples (where those are ≥ 2).
    pub subsamples: Vec<SubsampleStats>,
    /// K, the samples per observation the statistics rest on.
    pub samples_per_observation: i64,
    /// d.
    pub dim: i64,
}

impl ObservationStats {
    /// Appends the statistics of the next chunk of observations.
    pub fn extend(&mut self, next: ObservationStats) {
        self.log_uncertainty.extend(next.log_uncertainty);
        self.perception.extend(next.perception);
        self.mse.extend(next.mse);
        self.shrinkage_used |= next.shrinkage_used;
        self.ties += next.ties;
        for (mine, theirs) in self.subsamples.iter_mut().zip(next.subsamples) {
            mine.log_uncertainty.extend(theirs.log_uncertainty);
            mine.perception.extend(theirs.perception);
        }
    }
}

fn to_vec(t: &Tensor) -> Result<Vec<f64>, EstimateError> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).to_device(tch::Device::Cpu).flatten(0, -1))
        .map_err(|e| EstimateError::Numeric(e.to_string()))
}

/// ln N(Z | Y = y) for every observation of `x` (`[n, K, d]`) with the configured estimator
/// ([`Estimator::log_entropy_powers`]).
pub fn log_entropy_powers(config: &EstimatorConfig, x: &Tensor) -> Result<LogEntropyPowers, EstimateError> {
    config.estimator().log_entropy_powers(x)
}

/// Computes [`ObservationStats`] with `estimator`. `samples` is `[n, K, d]` for a sampler,
/// `[n, 1, d]` for a deterministic model (`deterministic = true`: P = +∞, and the error law is
/// that of x̂ − X' over the K posterior draws).
pub fn observation_stats(
    estimator: &dyn Estimator,
    samples: &Tensor,
    deterministic: bool,
    truth: &Truth<'_>,
) -> Result<ObservationStats, EstimateError> {
    let (n, k_model, d) = samples.size3().map_err(|e| EstimateError::Shape(e.to_string()))?;
    let (n_t, k, d_t) = truth.posterior_draws.size3().map_err(|e| EstimateError::Shape(e.to_string()))?;
    if (n, d) != (n_t, d_t) || !(k_model == k || k_model == 1) {
        return Err(EstimateError::Shape(format!(
            "samples are {:?}, posterior draws {:?}",
            samples.size(),
            truth.posterior_draws.size()
        )));
    }
    let _no_grad = tch::no_grad_guard();
    // U from the errors x̂ − x′, P from the posterior against the samples (+∞ for a
    // deterministic model); ln N, P and the points that tied.
    let core = |samples: &Tensor, draws: &Tensor| -> Result<(LogEntropyPowers, Vec<f64>, usize), EstimateError> {
        let errors = estimator.log_entropy_powers(&(samples - draws))?;
        let (perception, ties) = if deterministic {
            (vec![f64::INFINITY; n as usize], 0)
        } else {
            let p = estimator.posterior_divergences(truth, draws, samples)?;
            (p.per_observation, p.ties)
        };
        let ties = errors.ties + ties;
        Ok((errors, perception, ties))
    };
    let (full, perception, ties) = core(samples, truth.posterior_draws)?;
    let mut subsamples = Vec::new();
    for fraction in [4, 2] {
        let sub_k = k / fraction;
        if !estimator.estimates_from(sub_k) {
            continue;
        }
        let sub_samples = samples.narrow(1, 0, sub_k.min(k_model));
        let (sub, sub_perception, _) = core(&sub_samples, &truth.posterior_draws.narrow(1, 0, sub_k))?;
        subsamples.push(SubsampleStats {
            samples_per_observation: sub_k,
            log_uncertainty: sub.per_observation,
            perception: sub_perception,
        });
    }
    // Against the posterior draws, as U: X′ given y has the law of X given y.
    let sq = (samples - truth.posterior_draws).square();
    let mse = to_vec(&sq.mean_dim([1, 2].as_slice(), false, Kind::Double))?;
    Ok(ObservationStats {
        log_uncertainty: full.per_observation,
        perception,
        mse,
        shrinkage_used: full.shrinkage_used,
        ties,
        subsamples,
        samples_per_observation: k,
        dim: d,
    })
}
