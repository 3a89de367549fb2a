//! The exact posterior of a linear-Gaussian task under a Gaussian-mixture prior, as an oracle
//! plugin computes it.

use upbench_sdk::{PluginError, TaskSpec};
use upbench_tch::bridge::tch_device;
use upbench_tch::tch::{self, Kind, Tensor};

fn fail(e: tch::TchError) -> PluginError {
    PluginError::failed(e)
}

/// One prior component's share of the posterior (Kalman-gain form).
struct Component {
    log_weight: f64,
    prior_mean: Tensor,
    measured_mean: Tensor,
    gain: Tensor,
    evidence_cholesky: Tensor,
    cholesky: Tensor,
}

/// p(x | y) for Y = A·X + σ·W and X ~ Σ_c w_c·N(m_c, Σ_c): with S_c = A·Σ_c·Aᵀ + σ²·I and
/// G_c = Σ_c·Aᵀ·S_c⁻¹, p(x | y) = Σ_c w_c(y)·N(μ_c(y), P_c) where μ_c(y) = m_c + G_c·(y − A·m_c),
/// P_c = Σ_c − G_c·A·Σ_c and w_c(y) ∝ w_c·N(y; A·m_c, S_c). One component: the Gaussian case.
pub struct ExactPosterior {
    components: Vec<Component>,
    signal_dim: i64,
}

impl ExactPosterior {
    /// Computes the posterior of an exact task on its device, in float64.
    pub fn from_task(task: &TaskSpec) -> Result<Self, PluginError> {
        let prior = task.prior.as_ref().into_option().ok_or_else(|| {
            PluginError::UnsupportedTask(
                format!("task '{}' has no Gaussian-mixture prior: this oracle needs an exact task", task.name).into(),
            )
        })?;
        let (d, m) = (task.signal_dim as i64, task.measurement_dim as i64);
        if task.operator.len() as i64 != m * d
            || prior.weights.len() != prior.components.len()
            || prior.weights.is_empty()
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
        let operator = on(&task.operator, &[m, d])?;
        let mut components = Vec::with_capacity(prior.components.len());
        for (weight, c) in prior.weights.iter().zip(prior.components.iter()) {
            if c.covariance.len() as i64 != d * d || c.mean.len() as i64 != d || weight.is_nan() || *weight <= 0.0 {
                return Err(PluginError::UnsupportedTask(
                    "a prior component has the wrong size or a non-positive weight".into(),
                ));
            }
            let cov = on(&c.covariance, &[d, d])?;
            let prior_mean = on(&c.mean, &[d])?;
            let a_cov = operator.f_matmul(&cov).map_err(fail)?; // A·Σ_c, m × d
            let s = a_cov.f_matmul(&operator.tr()).map_err(fail)?
                + Tensor::eye(m, (Kind::Double, device)) * task.noise_std.powi(2);
            let evidence_cholesky = s.f_linalg_cholesky(false).map_err(fail)?;
            let gain_t = a_cov.f_cholesky_solve(&evidence_cholesky, false).map_err(fail)?; // S⁻¹·A·Σ_c = G_cᵀ
            let post = &cov - gain_t.tr().f_matmul(&a_cov).map_err(fail)?;
            let post = (&post + post.tr()) * 0.5;
            let cholesky = post.f_linalg_cholesky(false).map_err(|e| {
                PluginError::Failed(format!("posterior covariance is not positive definite: {e}").into())
            })?;
            components.push(Component {
                log_weight: weight.ln(),
                measured_mean: operator.f_matmul(&prior_mean).map_err(fail)?,
                prior_mean,
                gain: gain_t.tr().contiguous(),
                evidence_cholesky,
                cholesky,
            });
        }
        Ok(ExactPosterior { components, signal_dim: d })
    }

    /// d, the signal dimension.
    pub fn signal_dim(&self) -> i64 {
        self.signal_dim
    }

    /// Component means μ_c(y) `[n, C, d]` and log posterior weights ln w_c(y) `[n, C]`.
    fn components_at(&self, y: &Tensor) -> Result<(Tensor, Tensor), PluginError> {
        let y = y.f_to_kind(Kind::Double).map_err(fail)?;
        let mut means = Vec::with_capacity(self.components.len());
        let mut log_w = Vec::with_capacity(self.components.len());
        for c in &self.components {
            let innovation = &y - &c.measured_mean; // [n, m]
            means.push(innovation.f_matmul(&c.gain.tr()).map_err(fail)? + &c.prior_mean);
            let white = Tensor::f_linalg_solve_triangular(&c.evidence_cholesky, &innovation.tr(), false, true, false)
                .map_err(fail)?;
            let quad = white.square().sum_dim_intlist(0, false, Kind::Double); // [n]
            let log_det = c.evidence_cholesky.diagonal(0, 0, 1).log().sum(Kind::Double) * 2.0;
            log_w.push(quad * -0.5 - log_det * 0.5 + c.log_weight);
        }
        let log_w = Tensor::f_stack(&log_w, 1).map_err(fail)?.f_log_softmax(1, Kind::Double).map_err(fail)?;
        Ok((Tensor::f_stack(&means, 1).map_err(fail)?, log_w))
    }

    /// Posterior means E[X | y] for measurements `y` (`[n, m]`): `[n, d]`, float64.
    pub fn mean(&self, y: &Tensor) -> Result<Tensor, PluginError> {
        let (means, log_w) = self.components_at(y)?;
        Ok((means * log_w.exp().unsqueeze(-1)).sum_dim_intlist(1, false, Kind::Double))
    }

    /// `k` independent exact posterior draws per measurement: `[n, k, d]`, from libtorch's
    /// generator on the task's device (seed it first).
    pub fn draws(&self, y: &Tensor, k: i64) -> Result<Tensor, PluginError> {
        let (means, log_w) = self.components_at(y)?;
        let n = means.size()[0];
        let z = Tensor::f_randn([n, k, self.signal_dim], (Kind::Double, means.device())).map_err(fail)?;
        if self.components.len() == 1 {
            return Ok(means.select(1, 0).unsqueeze(1) + z.f_matmul(&self.components[0].cholesky.tr()).map_err(fail)?);
        }
        let chosen = log_w.exp().f_multinomial(k, true).map_err(fail)?; // [n, k]
        let mut out = Tensor::zeros([n, k, self.signal_dim], (Kind::Double, means.device()));
        for (i, c) in self.components.iter().enumerate() {
            let sample = means.select(1, i as i64).unsqueeze(1) + z.f_matmul(&c.cholesky.tr()).map_err(fail)?;
            let here = chosen.eq(i as i64).unsqueeze(-1);
            out = out.where_self(&here.logical_not(), &sample);
        }
        Ok(out)
    }
}
