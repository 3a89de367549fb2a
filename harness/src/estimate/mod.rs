//! Stage 4: estimate uncertainty, perception and distortion from samples.
//!
//! Input: a model's samples x̂ `[n, K, d]` for n observations, and what the task knows about the
//! truth (the ground-truth x, the exact posterior and K independent posterior draws x' per y).
//! Output: per-observation statistics ([`ObservationStats`]); aggregation over y and confidence
//! intervals happen in [`crate::judge`], with [`Bootstrap`].
//!
//! Errors are E = X̂ − X' with X' drawn from p(x | y) independently of X̂, which is exactly the
//! conditional law of X̂ − X given Y = y (`theory.md`, "Setting": X and X̂ are independent given Y).

mod bootstrap;
#[allow(clippy::module_inception)]
mod estimate;
pub mod gaussian;
pub mod special;

pub use bootstrap::{mean_of, Bootstrap};
pub use estimate::{ConfidenceInterval, Estimate};
pub use gaussian::Shrinkage;

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

/// Which estimator, with its settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EstimatorConfig {
    /// Covariance regularisation.
    pub shrinkage: Shrinkage,
    /// Apply the finite-sample bias corrections of [`gaussian`].
    pub bias_correction: bool,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig { shrinkage: Shrinkage::Auto, bias_correction: true }
    }
}

/// What the task knows about the truth for the observations a model was run on.
pub struct Truth<'a> {
    /// Ground-truth signals `[n, d]`.
    pub signals: &'a Tensor,
    /// Exact posterior means `[n, d]`.
    pub posterior_mean: &'a Tensor,
    /// Exact posterior covariance `[d, d]` (the same for every y in a linear-Gaussian task).
    pub posterior_cov: &'a Tensor,
    /// Independent posterior draws `[n, K, d]`.
    pub posterior_draws: &'a Tensor,
}

/// Per-observation statistics of one model configuration on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationStats {
    /// (1/d)·ln|Σ̂_E,y| per y: the log entropy power of the error under the Gaussian estimator,
    /// so that U = exp(mean over y) (`theory.md`: the average over y is inside the exponent).
    pub log_uncertainty: Vec<f64>,
    /// D_½(p(x|y) ‖ q̂(x̂|y)) per y, in nats; +∞ for a deterministic model.
    pub perception: Vec<f64>,
    /// (1/d)·mean over samples of ‖x̂ − x‖² per y, against the ground truth x.
    pub mse: Vec<f64>,
    /// Whether covariance shrinkage was used (then the estimates are biased).
    pub shrinkage_used: bool,
    /// K, the samples per observation the statistics rest on.
    pub samples_per_observation: i64,
    /// d.
    pub dim: i64,
}

fn to_vec(t: &Tensor) -> Result<Vec<f64>, EstimateError> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).to_device(tch::Device::Cpu).flatten(0, -1))
        .map_err(|e| EstimateError::Numeric(e.to_string()))
}

impl ObservationStats {
    /// Appends the statistics of the next chunk of observations.
    pub fn extend(&mut self, next: ObservationStats) {
        self.log_uncertainty.extend(next.log_uncertainty);
        self.perception.extend(next.perception);
        self.mse.extend(next.mse);
        self.shrinkage_used |= next.shrinkage_used;
    }
}

/// Computes [`ObservationStats`] with the Gaussian estimator. `samples` is `[n, K, d]` for a
/// sampler, `[n, 1, d]` for a deterministic model (`deterministic = true`: P = +∞, and the
/// error law is that of x̂ − X' over the K posterior draws).
pub fn gaussian_stats(
    config: &EstimatorConfig,
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
    let errors = samples - truth.posterior_draws;
    let shrink = config.shrinkage.applies(k, d);
    let (_, err_cov) = gaussian::fit(&errors, shrink)?;
    let mut log_u = gaussian::log_det(&err_cov)?;
    if config.bias_correction && !shrink {
        log_u -= gaussian::wishart_log_det_bias(d, k);
    }
    let log_uncertainty = to_vec(&(log_u / d as f64))?;

    let perception = if deterministic {
        vec![f64::INFINITY; n as usize]
    } else {
        let (q_mean, q_cov) = gaussian::fit(samples, config.shrinkage.applies(k_model, d))?;
        let mut p = gaussian::d_half(truth.posterior_mean, truth.posterior_cov, &q_mean, &q_cov)?;
        if config.bias_correction && !config.shrinkage.applies(k_model, d) {
            p -= gaussian::d_half_bias(truth.posterior_cov, &q_cov, k_model)?;
        }
        to_vec(&p.nan_to_num(f64::NAN, Some(f64::INFINITY), Some(f64::NEG_INFINITY)))?
    };

    let sq = (samples - truth.signals.unsqueeze(1)).square();
    let mse = to_vec(&sq.mean_dim([1, 2].as_slice(), false, Kind::Double))?;
    Ok(ObservationStats {
        log_uncertainty,
        perception,
        mse,
        shrinkage_used: shrink,
        samples_per_observation: k,
        dim: d,
    })
}
