//! Gaussian priors N(0, Σx) for exact tasks: white, AR(1)-correlated, and a 1/f^β power
//! spectrum (stationary, image-like).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::TaskError;

fn one() -> f64 {
    1.0
}

/// One Gaussian component of a prior: weight, mean and row-major covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorComponent {
    /// Mixture weight.
    pub weight: f64,
    /// Mean, d values.
    pub mean: Vec<f64>,
    /// Covariance, d × d, row-major.
    pub covariance: Vec<f64>,
}

/// A prior covariance family, as written in suite files (`prior = { kind = "ar1", rho = 0.9 }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PriorConfig {
    /// Σx = v·I.
    Identity {
        /// Per-coordinate variance v.
        #[serde(default = "one")]
        variance: f64,
    },
    /// Σx_ij = v·ρ^|i−j|.
    Ar1 {
        /// Correlation of neighbours, in (−1, 1).
        rho: f64,
        /// Per-coordinate variance v.
        #[serde(default = "one")]
        variance: f64,
    },
    /// Equal-weight mixture of `components` copies of `base` (which must be Gaussian), their
    /// means `separation` base standard deviations apart along a seeded random unit direction:
    /// a non-Gaussian prior whose posterior is still known in closed form.
    GaussianMixture {
        /// Number of components, ≥ 1.
        components: usize,
        /// Distance between neighbouring means, in units of the base's per-coordinate standard
        /// deviation.
        separation: f64,
        /// The components' common covariance family.
        base: Box<PriorConfig>,
    },
    /// Circulant Σx with eigenvalues ∝ 1/f^β over the DFT frequencies f = min(k, d−k)/d (the
    /// zero frequency taking the value of the lowest non-zero one), scaled to mean variance v.
    PowerLaw {
        /// Spectral slope β ≥ 0 (natural images: about 2).
        beta: f64,
        /// Mean per-coordinate variance v.
        #[serde(default = "one")]
        variance: f64,
    },
}

impl PriorConfig {
    /// A short label for tables, e.g. `ar1(ρ=0.9)`.
    pub fn label(&self) -> String {
        match self {
            PriorConfig::Identity { .. } => "white".into(),
            PriorConfig::Ar1 { rho, .. } => format!("ar1(ρ={rho})"),
            PriorConfig::PowerLaw { beta, .. } => format!("1/f^{beta}"),
            PriorConfig::GaussianMixture { components, separation, base } => {
                format!("{components}×{} mixture, separation {separation}", base.label())
            }
        }
    }

    /// The mixture components; one zero-mean component for a Gaussian prior. `seed` picks the
    /// mixture's direction.
    pub fn components(&self, d: usize, seed: u64) -> Result<Vec<PriorComponent>, TaskError> {
        let PriorConfig::GaussianMixture { components, separation, base } = self else {
            return Ok(vec![PriorComponent { weight: 1.0, mean: vec![0.0; d], covariance: self.covariance(d)? }]);
        };
        if matches!(**base, PriorConfig::GaussianMixture { .. }) {
            return Err(TaskError::Invalid("a mixture's base must be a Gaussian prior, not another mixture".into()));
        }
        if *components == 0 || !(separation.is_finite() && *separation >= 0.0) {
            return Err(TaskError::Invalid(format!(
                "a mixture needs ≥ 1 component and separation ≥ 0, got {components} and {separation}"
            )));
        }
        let cov = base.covariance(d)?;
        let std = ((0..d).map(|i| cov[i * d + i]).sum::<f64>() / d as f64).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut direction: Vec<f64> = (0..d)
            .map(|_| {
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect();
        let norm = direction.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        direction.iter_mut().for_each(|v| *v /= norm);
        let centre = (*components as f64 - 1.0) / 2.0;
        Ok((0..*components)
            .map(|c| {
                let offset = (c as f64 - centre) * separation * std;
                PriorComponent {
                    weight: 1.0 / *components as f64,
                    mean: direction.iter().map(|u| u * offset).collect(),
                    covariance: cov.clone(),
                }
            })
            .collect())
    }

    /// The covariance, row-major `d × d`.
    pub fn covariance(&self, d: usize) -> Result<Vec<f64>, TaskError> {
        let mut cov = vec![0.0; d * d];
        match *self {
            PriorConfig::GaussianMixture { .. } => {
                return Err(TaskError::Invalid("a mixture prior has no single covariance; use components()".into()))
            }
            PriorConfig::Identity { variance } => {
                check_variance(variance)?;
                for i in 0..d {
                    cov[i * d + i] = variance;
                }
            }
            PriorConfig::Ar1 { rho, variance } => {
                check_variance(variance)?;
                if !(rho > -1.0 && rho < 1.0) {
                    return Err(TaskError::Invalid(format!("ar1 prior needs -1 < rho < 1, got {rho}")));
                }
                for i in 0..d {
                    for j in 0..d {
                        cov[i * d + j] = variance * rho.powi((i as i32 - j as i32).abs());
                    }
                }
            }
            PriorConfig::PowerLaw { beta, variance } => {
                check_variance(variance)?;
                if !(beta >= 0.0 && beta.is_finite()) {
                    return Err(TaskError::Invalid(format!("power-law prior needs beta ≥ 0, got {beta}")));
                }
                let spectrum: Vec<f64> = (0..d)
                    .map(|k| {
                        let f = k.min(d - k).max(1) as f64 / d as f64;
                        f.powf(-beta)
                    })
                    .collect();
                let scale = variance * d as f64 / spectrum.iter().sum::<f64>();
                // Σ_ij = (1/d)·Σ_k λ_k·cos(2πk(i−j)/d), a function of (i − j) mod d.
                let row: Vec<f64> = (0..d)
                    .map(|lag| {
                        spectrum
                            .iter()
                            .enumerate()
                            .map(|(k, l)| l * (std::f64::consts::TAU * (k * lag) as f64 / d as f64).cos())
                            .sum::<f64>()
                            * scale
                            / d as f64
                    })
                    .collect();
                for i in 0..d {
                    for j in 0..d {
                        cov[i * d + j] = row[(i + d - j) % d];
                    }
                }
            }
        }
        Ok(cov)
    }
}

fn check_variance(v: f64) -> Result<(), TaskError> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(TaskError::Invalid(format!("prior variance must be positive, got {v}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_law_is_symmetric_with_the_requested_mean_variance() {
        let d = 32;
        let cov = PriorConfig::PowerLaw { beta: 2.0, variance: 2.5 }.covariance(d).unwrap();
        for i in 0..d {
            for j in 0..d {
                assert!((cov[i * d + j] - cov[j * d + i]).abs() < 1e-12);
            }
        }
        let mean_var = (0..d).map(|i| cov[i * d + i]).sum::<f64>() / d as f64;
        assert!((mean_var - 2.5).abs() < 1e-12);
        // neighbours are strongly correlated for β = 2
        assert!(cov[1] / cov[0] > 0.5);
    }

    #[test]
    fn ar1_rejects_rho_outside_unit_interval() {
        assert!(PriorConfig::Ar1 { rho: 1.0, variance: 1.0 }.covariance(3).is_err());
        assert_eq!(PriorConfig::Ar1 { rho: 0.5, variance: 2.0 }.covariance(3).unwrap()[2], 0.5);
    }
}
