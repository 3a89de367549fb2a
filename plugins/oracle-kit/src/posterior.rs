//! The exact posterior of a linear-Gaussian task, as an oracle plugin computes it.

use tch::{Kind, Tensor};
use upbench_sdk::{PluginError, TaskSpec};

use crate::bridge::tch_device;

/// p(x | y) = N(μ_y, Σ) for Y = A·X + σ·W, X ~ N(m, Σx): with S = A·Σx·Aᵀ + σ²·I and gain
/// G = Σx·Aᵀ·S⁻¹, μ_y = m + G·(y − A·m) and Σ = Σx − G·A·Σx, the same for every y.
pub struct GaussianPosterior {
    gain: Tensor,
    prior_mean: Tensor,
    operator: Tensor,
    cholesky: Tensor,
    signal_dim: i64,
}

fn fail(e: tch::TchError) -> PluginError {
    PluginError::failed(e)
}

impl GaussianPosterior {
    /// Computes the posterior of an exact task on its device, in float64.
    pub fn from_task(task: &TaskSpec) -> Result<Self, PluginError> {
        let prior = task.prior.as_ref().into_option().ok_or_else(|| {
            PluginError::UnsupportedTask(
                format!("task '{}' has no Gaussian prior: this oracle needs an exact task", task.name).into(),
            )
        })?;
        let (d, m) = (task.signal_dim as i64, task.measurement_dim as i64);
        if prior.covariance.len() as i64 != d * d || prior.mean.len() as i64 != d || task.operator.len() as i64 != m * d
        {
            return Err(PluginError::UnsupportedTask(
                "prior or operator sizes disagree with the task's dimensions".into(),
            ));
        }
        if task.noise_std <= 0.0 {
            return Err(PluginError::UnsupportedTask("noise_std must be positive for a proper posterior".into()));
        }
        let device = tch_device(task.device);
        let on = |v: &[f64], shape: &[i64]| -> Result<Tensor, PluginError> {
            Tensor::from_slice(v).f_reshape(shape).and_then(|t| t.f_to_device(device)).map_err(fail)
        };
        let cov = on(&prior.covariance, &[d, d])?;
        let prior_mean = on(&prior.mean, &[d])?;
        let operator = on(&task.operator, &[m, d])?;

        let a_cov = operator.f_matmul(&cov).map_err(fail)?; // A·Σx, m × d
        let s = a_cov.f_matmul(&operator.tr()).map_err(fail)?
            + Tensor::eye(m, (Kind::Double, device)) * task.noise_std.powi(2);
        let s_chol = s.f_linalg_cholesky(false).map_err(fail)?;
        let gain_t = a_cov.f_cholesky_solve(&s_chol, false).map_err(fail)?; // S⁻¹·A·Σx = Gᵀ
        let post = &cov - gain_t.tr().f_matmul(&a_cov).map_err(fail)?;
        let post = (&post + post.tr()) * 0.5;
        let cholesky = post
            .f_linalg_cholesky(false)
            .map_err(|e| PluginError::Failed(format!("posterior covariance is not positive definite: {e}").into()))?;
        Ok(GaussianPosterior { gain: gain_t.tr().contiguous(), prior_mean, operator, cholesky, signal_dim: d })
    }

    /// d, the signal dimension.
    pub fn signal_dim(&self) -> i64 {
        self.signal_dim
    }

    /// Posterior means for measurements `y` (`[n, m]`): `[n, d]`, float64.
    pub fn mean(&self, y: &Tensor) -> Result<Tensor, PluginError> {
        let y = y.f_to_kind(Kind::Double).map_err(fail)?;
        let innovation = y - self.operator.f_matmul(&self.prior_mean).map_err(fail)?;
        Ok(innovation.f_matmul(&self.gain.tr()).map_err(fail)? + &self.prior_mean)
    }

    /// `k` independent zero-mean posterior deviations per measurement: `[n, k, d]`, drawn from
    /// libtorch's generator on the task's device (seed it first).
    pub fn deviations(&self, n: i64, k: i64) -> Result<Tensor, PluginError> {
        let z = Tensor::f_randn([n, k, self.signal_dim], (Kind::Double, self.cholesky.device())).map_err(fail)?;
        z.f_matmul(&self.cholesky.tr()).map_err(fail)
    }
}
