//! [`ExactTask`]: a linear-Gaussian task with a Gaussian or Gaussian-mixture prior and its
//! closed-form posterior, in float64.

use std::ops::Range;

use tch::{Device, Kind, Tensor};
use upbench_sdk::{Extensions, GaussianPrior, MixturePrior, TaskKind, TaskSpec};

use super::{PriorConfig, TaskConfig, TaskError};
use crate::estimate::Truth;
use crate::seed::{derive_seed, seed_torch};

/// One prior component N(m_c, Σ_c) with weight w_c, and its posterior pieces in information form:
/// P_c = (Σ_c⁻¹ + AᵀA/σ²)⁻¹, μ_c(y) = P_c·Σ_c⁻¹·m_c + P_c·Aᵀ·y/σ².
struct Component {
    weight: f64,
    mean: Vec<f64>,
    cov: Vec<f64>,
    prior_chol: Tensor,
    posterior_cov: Tensor,
    posterior_chol: Tensor,
    mean_offset: Tensor,
    mean_gain: Tensor,
    log_det_posterior: f64,
    log_det_prior: f64,
}

/// A built exact task. The posterior is computed in information form (per component, weights by
/// the Woodbury identity), independently of the Kalman-gain form the oracle plugins use, so that
/// the two derivations check each other.
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
    operator_rows: Vec<f64>,
    operator: Tensor,
    components: Vec<Component>,
}

/// One draw of a task's data on a device: what the model sees and what the judge knows.
pub struct TaskSamples {
    /// Ground truths x `[n, d]`.
    pub signals: Tensor,
    /// Measurements y `[n, m]`.
    pub measurements: Tensor,
    /// Exact posterior means `[n, d]`.
    pub posterior_mean: Tensor,
    /// Exact posterior covariances: `[d, d]` for a Gaussian prior (the same for every y), else
    /// `[n, d, d]`.
    pub posterior_cov: Tensor,
    component_means: Tensor,
    log_weights: Tensor,
    component_chols: Vec<Tensor>,
    component_log_dets: Vec<f64>,
    seed: u64,
}

/// A contiguous range of observations with K exact posterior draws each, made on demand so that
/// memory stays bounded by the chunk, not by n·K·d.
pub struct ObservationChunk {
    /// Indices of the observations.
    pub range: Range<usize>,
    /// Their measurements `[c, m]` (contiguous).
    pub measurements: Tensor,
    /// ln p(x′ | y) of every posterior draw `[c, K]`, for Monte-Carlo posterior entropies.
    pub draw_log_density: Tensor,
    posterior_mean: Tensor,
    posterior_cov: Tensor,
    posterior_draws: Tensor,
}

impl ObservationChunk {
    /// The view the estimators take.
    pub fn truth(&self) -> Truth<'_> {
        Truth {
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
        let device = self.signals.device();
        let d = self.signals.size()[1];
        let means = self.component_means.f_narrow(0, start, len)?; // [c, C, d]
        let log_w = self.log_weights.f_narrow(0, start, len)?; // [c, C]
        let mut draws = Vec::with_capacity(range.len());
        for (row, i) in range.clone().enumerate() {
            seed_torch(derive_seed(self.seed, &["posterior-draws", &i.to_string()]));
            let z = Tensor::f_randn([k as i64, d], (Kind::Double, device))?;
            let row = row as i64;
            if self.component_chols.len() == 1 {
                draws.push(means.get(row).get(0).unsqueeze(0) + z.f_matmul(&self.component_chols[0].tr())?);
                continue;
            }
            let chosen = log_w.get(row).exp().f_multinomial(k as i64, true)?; // [K]
            let mut x = Tensor::zeros([k as i64, d], (Kind::Double, device));
            for (c, chol) in self.component_chols.iter().enumerate() {
                let sample = means.get(row).get(c as i64).unsqueeze(0) + z.f_matmul(&chol.tr())?;
                x = x.where_self(&chosen.eq(c as i64).logical_not().unsqueeze(-1), &sample);
            }
            draws.push(x);
        }
        let posterior_draws = Tensor::f_stack(&draws, 0)?; // [c, K, d]
        let draw_log_density = self.log_density(&posterior_draws, &means, &log_w)?;
        let posterior_cov = if self.posterior_cov.dim() == 3 {
            self.posterior_cov.f_narrow(0, start, len)?
        } else {
            self.posterior_cov.shallow_clone()
        };
        Ok(ObservationChunk {
            measurements: self.measurements.f_narrow(0, start, len)?.f_contiguous()?,
            posterior_mean: self.posterior_mean.f_narrow(0, start, len)?,
            posterior_cov,
            posterior_draws,
            draw_log_density,
            range,
        })
    }

    /// ln p(x | y) = logsumexp_c [ln w_c(y) + ln N(x; μ_c(y), P_c)] for points `[c, K, d]`.
    fn log_density(&self, x: &Tensor, means: &Tensor, log_w: &Tensor) -> Result<Tensor, TaskError> {
        let d = x.size()[2] as f64;
        let mut terms = Vec::with_capacity(self.component_chols.len());
        for (c, (chol, log_det)) in self.component_chols.iter().zip(&self.component_log_dets).enumerate() {
            let diff = x - means.select(1, c as i64).unsqueeze(1); // [c, K, d]
            let white = Tensor::f_linalg_solve_triangular(chol, &diff.transpose(1, 2), false, true, false)?; // [c, d, K]
            let quad = white.square().sum_dim_intlist(1, false, Kind::Double); // [c, K]
            let log_n = (quad + d * (2.0 * std::f64::consts::PI).ln() + *log_det) * -0.5;
            terms.push(log_n + log_w.select(1, c as i64).unsqueeze(1));
        }
        Ok(Tensor::f_stack(&terms, 0)?.f_logsumexp([0].as_slice(), false)?)
    }
}

fn matrix(values: &[f64], rows: usize, cols: usize) -> Tensor {
    Tensor::from_slice(values).reshape([rows as i64, cols as i64])
}

fn log_det_from_chol(chol: &Tensor) -> f64 {
    2.0 * chol.diagonal(0, 0, 1).log().sum(Kind::Double).double_value(&[])
}

impl ExactTask {
    /// Builds the task; `seed` fixes the inpainting mask and the mixture's mean direction.
    pub fn build(config: &TaskConfig, seed: u64) -> Result<Self, TaskError> {
        let _no_grad = tch::no_grad_guard();
        let (d, prior, operator_cfg) = config.resolve()?;
        let (operator_rows, m) = operator_cfg.matrix(d, seed)?;
        let noise_std = operator_cfg.noise_std();
        let operator = matrix(&operator_rows, m, d);
        let ata = operator.tr().f_matmul(&operator)? / (noise_std * noise_std);
        let mut components = Vec::new();
        for super::prior::PriorComponent { weight, mean, covariance: cov } in
            prior.components(d, derive_seed(seed, &["mixture"]))?
        {
            let prior_chol = matrix(&cov, d, d).f_linalg_cholesky(false).map_err(|e| {
                TaskError::Invalid(format!("task '{}': prior covariance is not positive definite ({e})", config.name))
            })?;
            let prior_precision = prior_chol.f_cholesky_inverse(false)?;
            let precision = &prior_precision + &ata;
            let precision = (&precision + precision.tr()) * 0.5;
            let precision_chol = precision.f_linalg_cholesky(false)?;
            let posterior_cov = precision_chol.f_cholesky_inverse(false)?;
            let posterior_cov = (&posterior_cov + posterior_cov.tr()) * 0.5;
            let posterior_chol = posterior_cov.f_linalg_cholesky(false)?;
            let mean_gain = posterior_cov.f_matmul(&operator.tr())? / (noise_std * noise_std);
            let mean_offset = posterior_cov.f_matmul(&prior_precision)?.f_matmul(&Tensor::from_slice(&mean))?;
            components.push(Component {
                weight,
                log_det_posterior: -log_det_from_chol(&precision_chol),
                log_det_prior: log_det_from_chol(&prior_chol),
                mean,
                cov,
                prior_chol,
                posterior_cov,
                posterior_chol,
                mean_offset,
                mean_gain,
            });
        }
        Ok(ExactTask {
            name: config.name.clone(),
            kind: operator_cfg.kind(),
            prior,
            dim: d,
            measurement_dim: m,
            noise_std,
            operator_rows,
            operator,
            components,
        })
    }

    /// Whether the prior (hence the posterior) is Gaussian.
    pub fn is_gaussian(&self) -> bool {
        self.components.len() == 1
    }

    /// N(X|Y) = |Σ|^(1/d) exactly for a Gaussian prior (`theory.md`: the geometric mean of the
    /// posterior covariance's eigenvalues, the same for every y); `None` for a mixture, whose
    /// N(X|Y) is a Monte-Carlo estimate from posterior draws.
    pub fn exact_inherent_uncertainty(&self) -> Option<f64> {
        self.is_gaussian().then(|| (self.components[0].log_det_posterior / self.dim as f64).exp())
    }

    /// Mean prior variance tr(Cov X)/d: the "peak²" of the exact tasks' PSNR.
    pub fn signal_power(&self) -> f64 {
        let d = self.dim;
        let mean: Vec<f64> =
            (0..d).map(|i| self.components.iter().map(|c| c.weight * c.mean[i]).sum::<f64>()).collect();
        (0..d)
            .map(|i| {
                self.components.iter().map(|c| c.weight * (c.cov[i * d + i] + c.mean[i] * c.mean[i])).sum::<f64>()
                    - mean[i] * mean[i]
            })
            .sum::<f64>()
            / d as f64
    }

    /// The posterior covariance of the first component (CPU, float64): for a Gaussian prior, the
    /// posterior covariance.
    pub fn posterior_covariance(&self) -> &Tensor {
        &self.components[0].posterior_cov
    }

    /// What a plugin is told about the task.
    pub fn spec(&self, device: upbench_sdk::Device) -> TaskSpec {
        let prior = MixturePrior {
            weights: self.components.iter().map(|c| c.weight).collect(),
            components: self
                .components
                .iter()
                .map(|c| GaussianPrior { mean: c.mean.clone().into(), covariance: c.cov.clone().into() })
                .collect(),
        };
        TaskSpec {
            name: self.name.as_str().into(),
            kind: self.kind.as_str().into(),
            signal_dim: self.dim as u64,
            measurement_dim: self.measurement_dim as u64,
            operator: self.operator_rows.clone().into(),
            noise_std: self.noise_std,
            prior: Some(prior).into(),
            device,
            image: None.into(),
            extensions: Extensions::new(),
        }
    }

    /// Draws n ground truths, their measurements and the exact posterior (component weights and
    /// means, mean, covariance) on `device`, from libtorch's generator seeded with `seed`;
    /// posterior draws come per chunk ([`TaskSamples::chunk`]).
    pub fn sample(&self, n: usize, seed: u64, device: Device) -> Result<TaskSamples, TaskError> {
        let _no_grad = tch::no_grad_guard();
        let (n, d, m) = (n as i64, self.dim as i64, self.measurement_dim as i64);
        let opts = (Kind::Double, device);
        seed_torch(seed);
        let weights =
            Tensor::from_slice(&self.components.iter().map(|c| c.weight).collect::<Vec<_>>()).to_device(device);
        let chosen = weights.f_multinomial(n, true)?; // [n]
        let z = Tensor::f_randn([n, d], opts)?;
        let mut signals = Tensor::zeros([n, d], opts);
        for (i, c) in self.components.iter().enumerate() {
            let x = z.f_matmul(&c.prior_chol.to_device(device).tr())? + Tensor::from_slice(&c.mean).to_device(device);
            signals = signals.where_self(&chosen.eq(i as i64).logical_not().unsqueeze(-1), &x);
        }
        let noise = Tensor::f_randn([n, m], opts)? * self.noise_std;
        let measurements = signals.f_matmul(&self.operator.to_device(device).tr())? + noise;

        // Component means, and log evidences ln N(y; A·m_c, S_c) by the Woodbury identity:
        // S_c⁻¹ = I/σ² − A·P_c·Aᵀ/σ⁴ and ln|S_c| = ln|Σ_c| − ln|P_c| + m·ln σ².
        let s2 = self.noise_std * self.noise_std;
        let operator = self.operator.to_device(device);
        let mut means = Vec::new();
        let mut log_w = Vec::new();
        for c in &self.components {
            let prior_mean = Tensor::from_slice(&c.mean).to_device(device);
            means.push(measurements.f_matmul(&c.mean_gain.to_device(device).tr())? + c.mean_offset.to_device(device));
            let r = &measurements - prior_mean.f_matmul(&operator.tr())?;
            let at_r = r.f_matmul(&operator)?; // [n, d]
            let quad = r.square().sum_dim_intlist(-1, false, Kind::Double) / s2
                - (at_r.f_matmul(&c.posterior_cov.to_device(device))? * &at_r).sum_dim_intlist(-1, false, Kind::Double)
                    / (s2 * s2);
            let log_det_s = c.log_det_prior - c.log_det_posterior + m as f64 * s2.ln();
            log_w.push(quad * -0.5 - 0.5 * log_det_s + c.weight.ln());
        }
        let component_means = Tensor::f_stack(&means, 1)?; // [n, C, d]
        let log_weights = Tensor::f_stack(&log_w, 1)?.f_log_softmax(1, Kind::Double)?; // [n, C]
        let w = log_weights.exp().unsqueeze(-1);
        let posterior_mean = (&component_means * &w).sum_dim_intlist(1, false, Kind::Double);
        let posterior_cov = if self.is_gaussian() {
            self.components[0].posterior_cov.to_device(device)
        } else {
            // Σ_c w_c·(P_c + μ_c·μ_cᵀ) − μ·μᵀ
            let mut second = Tensor::zeros([n, d, d], opts);
            for (i, c) in self.components.iter().enumerate() {
                let mu = component_means.select(1, i as i64);
                let outer = mu.unsqueeze(2) * mu.unsqueeze(1) + c.posterior_cov.to_device(device).unsqueeze(0);
                second += outer * w.select(1, i as i64).unsqueeze(-1);
            }
            let cov = second - posterior_mean.unsqueeze(2) * posterior_mean.unsqueeze(1);
            (&cov + cov.transpose(1, 2)) * 0.5
        };
        Ok(TaskSamples {
            signals,
            measurements,
            posterior_mean,
            posterior_cov,
            component_means,
            log_weights,
            component_chols: self.components.iter().map(|c| c.posterior_chol.to_device(device)).collect(),
            component_log_dets: self.components.iter().map(|c| c.log_det_posterior).collect(),
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
            assert!((task.exact_inherent_uncertainty().unwrap() - want).abs() < 1e-14);
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
            (task.exact_inherent_uncertainty().unwrap() / mean_log.exp() - 1.0).abs() < 1e-9,
            "{} vs {}",
            task.exact_inherent_uncertainty().unwrap(),
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
        assert!((task.exact_inherent_uncertainty().unwrap() - want).abs() < 1e-12);
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
        let cov = matrix(&task.components[0].cov, 12, 12);
        let a = &task.operator;
        let s = a.matmul(&cov).matmul(&a.tr())
            + Tensor::eye(task.measurement_dim as i64, (Kind::Double, Device::Cpu)) * 0.04;
        let gain = cov.matmul(&a.tr()).matmul(&s.inverse());
        let post = &cov - gain.matmul(a).matmul(&cov);
        let diff = (&post - &task.components[0].posterior_cov).abs().max().double_value(&[]);
        assert!(diff < 1e-10, "max difference {diff}");
        let gdiff = (gain - &task.components[0].mean_gain).abs().max().double_value(&[]);
        assert!(gdiff < 1e-10);
    }

    #[test]
    fn samples_have_the_posterior_moments() {
        let task = ExactTask::build(
            &config(4, PriorConfig::Ar1 { rho: 0.5, variance: 1.0 }, OperatorConfig::Denoising { noise_std: 0.7 }),
            0,
        )
        .unwrap();
        let _rng = crate::seed::torch_rng_lock();
        let s = task.sample(3, 1, Device::Cpu).unwrap();
        let c = s.chunk(0..3, 20_000).unwrap();
        let dev = &c.posterior_draws - c.posterior_mean.unsqueeze(1);
        let emp = dev.transpose(1, 2).matmul(&dev) / 20_000.0;
        let err = (emp - task.posterior_covariance().unsqueeze(0)).abs().max().double_value(&[]);
        assert!(err < 0.03, "covariance error {err}");
        let again = task.sample(3, 1, Device::Cpu).unwrap();
        assert!(again.measurements.equal(&s.measurements), "same seed, same data");
        let second = again.chunk(1..3, 20_000).unwrap();
        assert!(second.posterior_draws.equal(&c.posterior_draws.narrow(0, 1, 2)), "draws do not depend on chunking");
    }

    fn mixture(d: usize, separation: f64, operator: OperatorConfig) -> ExactTask {
        let prior = PriorConfig::GaussianMixture {
            components: 2,
            separation,
            base: Box::new(PriorConfig::Ar1 { rho: 0.5, variance: 1.0 }),
        };
        ExactTask::build(&config(d, prior, operator), 4).unwrap()
    }

    #[test]
    fn mixture_posterior_draws_have_the_closed_form_moments_and_density() {
        let task = mixture(3, 3.0, OperatorConfig::Inpainting { noise_std: 0.3, observed_fraction: 0.34 });
        assert!(!task.is_gaussian() && task.exact_inherent_uncertainty().is_none());
        let _rng = crate::seed::torch_rng_lock();
        let s = task.sample(4, 2, Device::Cpu).unwrap();
        let c = s.chunk(0..4, 40_000).unwrap();
        let mean = c.posterior_draws.mean_dim(1, false, Kind::Double);
        let err = (&mean - &c.posterior_mean).abs().max().double_value(&[]);
        assert!(err < 0.03, "mean error {err}");
        let dev = &c.posterior_draws - mean.unsqueeze(1);
        let emp = dev.transpose(1, 2).matmul(&dev) / 40_000.0;
        let err = (emp - &c.posterior_cov).abs().max().double_value(&[]);
        assert!(err < 0.05, "covariance error {err}");
        // The density integrates to one: E_p[1/p] over a box is its volume, so check instead
        // that −E ln p (the entropy) lies below the Gaussian entropy of the same covariance.
        let h = -c.draw_log_density.mean_dim(1, false, Kind::Double);
        let (_, log_det) = Tensor::linalg_slogdet(&c.posterior_cov);
        let h_gauss = (log_det + 3.0 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln()) * 0.5;
        let gap = Vec::<f64>::try_from(h_gauss - h).unwrap();
        assert!(gap.iter().all(|g| *g > -0.01), "Gaussian entropy must bound the mixture's: {gap:?}");
    }

    #[test]
    fn a_one_component_mixture_is_the_gaussian_task() {
        let op = OperatorConfig::Denoising { noise_std: 0.4 };
        let single = ExactTask::build(
            &config(
                5,
                PriorConfig::GaussianMixture {
                    components: 1,
                    separation: 2.0,
                    base: Box::new(PriorConfig::Ar1 { rho: 0.5, variance: 1.0 }),
                },
                op.clone(),
            ),
            0,
        )
        .unwrap();
        let plain = ExactTask::build(&config(5, PriorConfig::Ar1 { rho: 0.5, variance: 1.0 }, op), 0).unwrap();
        assert_eq!(single.exact_inherent_uncertainty(), plain.exact_inherent_uncertainty());
    }

    #[test]
    fn mixture_entropy_monte_carlo_matches_the_gaussian_closed_form_for_one_component() {
        let task = ExactTask::build(
            &config(4, PriorConfig::Ar1 { rho: 0.3, variance: 1.0 }, OperatorConfig::Denoising { noise_std: 0.5 }),
            0,
        )
        .unwrap();
        let _rng = crate::seed::torch_rng_lock();
        let s = task.sample(8, 3, Device::Cpu).unwrap();
        let c = s.chunk(0..8, 20_000).unwrap();
        let h = -c.draw_log_density.mean(Kind::Double).double_value(&[]);
        let exact_n = task.exact_inherent_uncertainty().unwrap();
        let h_exact = 2.0 * ((exact_n).ln() + (2.0 * std::f64::consts::PI * std::f64::consts::E).ln());
        assert!((h - h_exact).abs() < 0.02, "{h} vs {h_exact}");
    }
}
