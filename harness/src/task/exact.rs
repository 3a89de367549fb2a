//! [`ExactTask`]: a linear-Gaussian task with its closed-form posterior, in float64.

use tch::{Device, Kind, Tensor};
use upbench_sdk::{GaussianPrior, TaskKind, TaskSpec};

use std::ops::Range;

use super::{PriorConfig, TaskConfig, TaskError};
use crate::estimate::Truth;
use crate::seed::{derive_seed, seed_torch};

/// A built exact task. The posterior is computed in information form,
/// Σ = (Σx⁻¹ + AᵀA/σ²)⁻¹ and μ_y = Σ·Aᵀ·y/σ², independently of the Kalman-gain form the oracle
/// plugins use, so that the two derivations check each other.
pub struct ExactTask {
    /// The task's name in the suite.
    pub name: String,
    /// Denoising, inpainting or super-resolution.
    pub kind: TaskKind,
    /// The prior, for labels.
    pub prior: PriorConfig,
    /// d.
    pub dim: usize,
    /// m.
    pub measurement_dim: usize,
    /// σ.
    pub noise_std: f64,
    prior_cov: Vec<f64>,
    operator_rows: Vec<f64>,
    prior_chol: Tensor,
    operator: Tensor,
    posterior_cov: Tensor,
    posterior_chol: Tensor,
    mean_gain: Tensor,
    log_det_posterior: f64,
}

/// One draw of a task's data on a device: what the model sees and what the judge knows.
pub struct TaskSamples {
    /// Ground truths x `[n, d]`.
    pub signals: Tensor,
    /// Measurements y `[n, m]`.
    pub measurements: Tensor,
    /// Exact posterior means `[n, d]`.
    pub posterior_mean: Tensor,
    /// Posterior covariance `[d, d]` on the device.
    pub posterior_cov: Tensor,
    posterior_chol: Tensor,
    seed: u64,
}

/// A contiguous range of observations with K exact posterior draws each, made on demand so that
/// memory stays bounded by the chunk, not by n·K·d.
pub struct ObservationChunk {
    /// Indices of the observations.
    pub range: Range<usize>,
    /// Their measurements `[c, m]` (contiguous).
    pub measurements: Tensor,
    signals: Tensor,
    posterior_mean: Tensor,
    posterior_cov: Tensor,
    posterior_draws: Tensor,
}

impl ObservationChunk {
    /// The view the estimators take.
    pub fn truth(&self) -> Truth<'_> {
        Truth {
            signals: &self.signals,
            posterior_mean: &self.posterior_mean,
            posterior_cov: &self.posterior_cov,
            posterior_draws: &self.posterior_draws,
        }
    }
}

impl TaskSamples {
    /// Number of observations n.
    pub fn len(&self) -> usize {
        self.signals.size()[0] as usize
    }

    /// Whether there are no observations.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Observations `range` with `k` posterior draws each. Observation i's draws come from its
    /// own seeded stream, so they do not depend on how the observations are chunked.
    pub fn chunk(&self, range: Range<usize>, k: usize) -> Result<ObservationChunk, TaskError> {
        let _no_grad = tch::no_grad_guard();
        let (start, len) = (range.start as i64, range.len() as i64);
        let posterior_mean = self.posterior_mean.f_narrow(0, start, len)?;
        let d = self.posterior_cov.size()[0];
        let chol_t = self.posterior_chol.tr();
        let mut deviations = Vec::with_capacity(range.len());
        for i in range.clone() {
            seed_torch(derive_seed(self.seed, &["posterior-draws", &i.to_string()]));
            deviations.push(
                Tensor::f_randn([1, k as i64, d], (Kind::Double, self.posterior_cov.device()))?.f_matmul(&chol_t)?,
            );
        }
        let posterior_draws = posterior_mean.unsqueeze(1) + Tensor::f_cat(&deviations, 0)?;
        Ok(ObservationChunk {
            measurements: self.measurements.f_narrow(0, start, len)?.f_contiguous()?,
            signals: self.signals.f_narrow(0, start, len)?,
            posterior_mean,
            posterior_cov: self.posterior_cov.shallow_clone(),
            posterior_draws,
            range,
        })
    }
}

fn matrix(values: &[f64], rows: usize, cols: usize) -> Tensor {
    Tensor::from_slice(values).reshape([rows as i64, cols as i64])
}

impl ExactTask {
    /// Builds the task; `seed` fixes the inpainting mask.
    pub fn build(config: &TaskConfig, seed: u64) -> Result<Self, TaskError> {
        let _no_grad = tch::no_grad_guard();
        let (d, prior, operator_cfg) = config.resolve()?;
        let prior_cov = prior.covariance(d)?;
        let (operator_rows, m) = operator_cfg.matrix(d, seed)?;
        let noise_std = operator_cfg.noise_std();

        let cov = matrix(&prior_cov, d, d);
        let prior_chol = cov.f_linalg_cholesky(false).map_err(|e| {
            TaskError::Invalid(format!("task '{}': prior covariance is not positive definite ({e})", config.name))
        })?;
        let operator = matrix(&operator_rows, m, d);
        let precision =
            prior_chol.f_cholesky_inverse(false)? + operator.tr().f_matmul(&operator)? / (noise_std * noise_std);
        let precision = (&precision + precision.tr()) * 0.5;
        let precision_chol = precision.f_linalg_cholesky(false)?;
        let posterior_cov = precision_chol.f_cholesky_inverse(false)?;
        let posterior_cov = (&posterior_cov + posterior_cov.tr()) * 0.5;
        let posterior_chol = posterior_cov.f_linalg_cholesky(false)?;
        let mean_gain = posterior_cov.f_matmul(&operator.tr())? / (noise_std * noise_std);
        let log_det_posterior = -2.0 * precision_chol.diagonal(0, 0, 1).log().sum(Kind::Double).double_value(&[]);

        Ok(ExactTask {
            name: config.name.clone(),
            kind: operator_cfg.kind(),
            prior,
            dim: d,
            measurement_dim: m,
            noise_std,
            prior_cov,
            operator_rows,
            prior_chol,
            operator,
            posterior_cov,
            posterior_chol,
            mean_gain,
            log_det_posterior,
        })
    }

    /// N(X|Y) = |Σ|^(1/d), the inherent uncertainty (`theory.md`: geometric mean of the
    /// posterior covariance's eigenvalues; the same for every y here).
    pub fn inherent_uncertainty(&self) -> f64 {
        (self.log_det_posterior / self.dim as f64).exp()
    }

    /// N(X_G|Y): equal to N(X|Y) because the posterior is Gaussian, so the optimal band is the
    /// bound itself.
    pub fn gaussian_inherent_uncertainty(&self) -> f64 {
        self.inherent_uncertainty()
    }

    /// Mean prior variance tr(Σx)/d: the "peak²" of the exact tasks' PSNR.
    pub fn signal_power(&self) -> f64 {
        (0..self.dim).map(|i| self.prior_cov[i * self.dim + i]).sum::<f64>() / self.dim as f64
    }

    /// Σ, the posterior covariance (CPU, float64).
    pub fn posterior_covariance(&self) -> &Tensor {
        &self.posterior_cov
    }

    /// ln|Σ|, the posterior covariance's log-determinant.
    pub fn log_det_posterior(&self) -> f64 {
        self.log_det_posterior
    }

    /// What a plugin is told about the task.
    pub fn spec(&self, device: upbench_sdk::Device) -> TaskSpec {
        TaskSpec {
            name: self.name.as_str().into(),
            kind: self.kind.as_str().into(),
            signal_dim: self.dim as u64,
            measurement_dim: self.measurement_dim as u64,
            operator: self.operator_rows.clone().into(),
            noise_std: self.noise_std,
            prior: Some(GaussianPrior { mean: vec![0.0; self.dim].into(), covariance: self.prior_cov.clone().into() })
                .into(),
            device,
        }
    }

    /// Draws n ground truths, their measurements and exact posterior means on `device`, from
    /// libtorch's generator seeded with `seed`; posterior draws come per chunk
    /// ([`TaskSamples::chunk`]).
    pub fn sample(&self, n: usize, seed: u64, device: Device) -> Result<TaskSamples, TaskError> {
        let _no_grad = tch::no_grad_guard();
        let (n, d, m) = (n as i64, self.dim as i64, self.measurement_dim as i64);
        let opts = (Kind::Double, device);
        seed_torch(seed);
        let signals = Tensor::f_randn([n, d], opts)?.f_matmul(&self.prior_chol.to_device(device).tr())?;
        let noise = Tensor::f_randn([n, m], opts)? * self.noise_std;
        let measurements = signals.f_matmul(&self.operator.to_device(device).tr())? + noise;
        let posterior_mean = measurements.f_matmul(&self.mean_gain.to_device(device).tr())?;
        Ok(TaskSamples {
            signals,
            measurements,
            posterior_mean,
            posterior_cov: self.posterior_cov.to_device(device),
            posterior_chol: self.posterior_chol.to_device(device),
            seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{OperatorConfig, Preset};

    fn config(dim: usize, prior: PriorConfig, operator: OperatorConfig) -> TaskConfig {
        TaskConfig { name: "t".into(), preset: None, dim: Some(dim), prior: Some(prior), operator: Some(operator) }
    }

    #[test]
    fn example1_inherent_uncertainty_is_sigma2_over_1_plus_sigma2() {
        for sigma in [0.5, 1.0, 3.0] {
            let cfg = TaskConfig {
                name: "ex1".into(),
                preset: Some(Preset::Example1),
                dim: None,
                prior: None,
                operator: Some(OperatorConfig::Denoising { noise_std: sigma }),
            };
            let task = ExactTask::build(&cfg, 0).unwrap();
            let want = sigma * sigma / (1.0 + sigma * sigma);
            assert!((task.inherent_uncertainty() - want).abs() < 1e-14);
        }
    }

    #[test]
    fn power_law_denoising_at_d_1024_matches_the_fourier_closed_form() {
        // Circulant prior with spectrum λ_k: the posterior is circulant with λ_k·σ²/(λ_k + σ²).
        let (d, sigma, beta) = (1024usize, 0.3, 2.0);
        let task = ExactTask::build(
            &config(d, PriorConfig::PowerLaw { beta, variance: 1.0 }, OperatorConfig::Denoising { noise_std: sigma }),
            0,
        )
        .unwrap();
        let spectrum: Vec<f64> = (0..d).map(|k| (k.min(d - k).max(1) as f64 / d as f64).powf(-beta)).collect();
        let scale = d as f64 / spectrum.iter().sum::<f64>();
        let s2 = sigma * sigma;
        let mean_log = spectrum.iter().map(|l| (l * scale * s2 / (l * scale + s2)).ln()).sum::<f64>() / d as f64;
        assert!(
            (task.inherent_uncertainty() / mean_log.exp() - 1.0).abs() < 1e-9,
            "{} vs {}",
            task.inherent_uncertainty(),
            mean_log.exp()
        );
    }

    #[test]
    fn white_inpainting_posterior_is_known_per_coordinate() {
        // Observed coordinates have variance σ²/(1+σ²), unobserved ones keep the prior's 1.
        let (d, sigma) = (20, 0.5);
        let task = ExactTask::build(
            &config(
                d,
                PriorConfig::Identity { variance: 1.0 },
                OperatorConfig::Inpainting { noise_std: sigma, observed_fraction: 0.4 },
            ),
            3,
        )
        .unwrap();
        let observed = 8.0;
        let want = (observed * (sigma * sigma / (1.0 + sigma * sigma)).ln() / d as f64).exp();
        assert!((task.inherent_uncertainty() - want).abs() < 1e-12);
    }

    #[test]
    fn information_form_matches_kalman_form() {
        let task = ExactTask::build(
            &config(
                12,
                PriorConfig::Ar1 { rho: 0.8, variance: 1.3 },
                OperatorConfig::SuperResolution { noise_std: 0.2, factor: 3, blur_std: 1.0 },
            ),
            0,
        )
        .unwrap();
        let cov = matrix(&task.prior_cov, 12, 12);
        let a = &task.operator;
        let s = a.matmul(&cov).matmul(&a.tr())
            + Tensor::eye(task.measurement_dim as i64, (Kind::Double, Device::Cpu)) * 0.04;
        let gain = cov.matmul(&a.tr()).matmul(&s.inverse());
        let post = &cov - gain.matmul(a).matmul(&cov);
        let diff = (&post - &task.posterior_cov).abs().max().double_value(&[]);
        assert!(diff < 1e-10, "max difference {diff}");
        let gdiff = (gain - &task.mean_gain).abs().max().double_value(&[]);
        assert!(gdiff < 1e-10);
    }

    #[test]
    fn samples_have_the_posterior_moments() {
        let task = ExactTask::build(
            &config(4, PriorConfig::Ar1 { rho: 0.5, variance: 1.0 }, OperatorConfig::Denoising { noise_std: 0.7 }),
            0,
        )
        .unwrap();
        let s = task.sample(3, 1, Device::Cpu).unwrap();
        let c = s.chunk(0..3, 20_000).unwrap();
        let dev = &c.posterior_draws - c.posterior_mean.unsqueeze(1);
        let emp = dev.transpose(1, 2).matmul(&dev) / 20_000.0;
        let err = (emp - task.posterior_cov.unsqueeze(0)).abs().max().double_value(&[]);
        assert!(err < 0.03, "covariance error {err}");
        let again = task.sample(3, 1, Device::Cpu).unwrap();
        assert!(again.measurements.equal(&s.measurements), "same seed, same data");
        let second = again.chunk(1..3, 20_000).unwrap();
        assert!(second.posterior_draws.equal(&c.posterior_draws.narrow(0, 1, 2)), "draws do not depend on chunking");
    }
}
