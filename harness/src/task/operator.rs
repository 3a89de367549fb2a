//! Measurement operators A of exact tasks (Y = A·X + σ·W): denoising, inpainting and
//! blur + decimation.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use upbench_sdk::TaskKind;

use super::TaskError;

fn half() -> f64 {
    0.5
}
fn two() -> usize {
    2
}
fn one() -> f64 {
    1.0
}

/// An operator family with its noise level, as written in suite files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OperatorConfig {
    /// A = I.
    Denoising {
        /// σ > 0.
        noise_std: f64,
    },
    /// A keeps a seeded random subset of round(f·d) coordinates (at least one).
    Inpainting {
        /// σ > 0.
        noise_std: f64,
        /// f ∈ (0, 1].
        #[serde(default = "half")]
        observed_fraction: f64,
    },
    /// A = D·B: circular Gaussian blur B of width `blur_std` samples, then keeping every
    /// `factor`-th coordinate (D).
    SuperResolution {
        /// σ > 0.
        noise_std: f64,
        /// Decimation factor ≥ 1.
        #[serde(default = "two")]
        factor: usize,
        /// Blur standard deviation in samples (0 = no blur).
        #[serde(default = "one")]
        blur_std: f64,
    },
}

impl OperatorConfig {
    /// The task kind this operator poses.
    pub fn kind(&self) -> TaskKind {
        match self {
            OperatorConfig::Denoising { .. } => TaskKind::Denoising,
            OperatorConfig::Inpainting { .. } => TaskKind::Inpainting,
            OperatorConfig::SuperResolution { .. } => TaskKind::SuperResolution,
        }
    }

    /// σ.
    pub fn noise_std(&self) -> f64 {
        match *self {
            OperatorConfig::Denoising { noise_std }
            | OperatorConfig::Inpainting { noise_std, .. }
            | OperatorConfig::SuperResolution { noise_std, .. } => noise_std,
        }
    }

    /// A, row-major `m × d`, and m. `seed` picks the inpainting mask.
    pub fn matrix(&self, d: usize, seed: u64) -> Result<(Vec<f64>, usize), TaskError> {
        let sigma = self.noise_std();
        if !(sigma > 0.0 && sigma.is_finite()) {
            return Err(TaskError::Invalid(format!(
                "noise_std must be positive (an exact task needs a proper posterior), got {sigma}"
            )));
        }
        match *self {
            OperatorConfig::Denoising { .. } => Ok((selection(d, &(0..d).collect::<Vec<_>>()), d)),
            OperatorConfig::Inpainting { observed_fraction, .. } => {
                if !(observed_fraction > 0.0 && observed_fraction <= 1.0) {
                    return Err(TaskError::Invalid(format!(
                        "observed_fraction must be in (0, 1], got {observed_fraction}"
                    )));
                }
                let m = ((observed_fraction * d as f64).round() as usize).clamp(1, d);
                let mut coords: Vec<usize> = (0..d).collect();
                coords.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
                let mut kept = coords[..m].to_vec();
                kept.sort_unstable();
                Ok((selection(d, &kept), m))
            }
            OperatorConfig::SuperResolution { factor, blur_std, .. } => {
                if factor == 0 {
                    return Err(TaskError::Invalid("factor must be at least 1".into()));
                }
                if !(blur_std >= 0.0 && blur_std.is_finite()) {
                    return Err(TaskError::Invalid(format!("blur_std must be ≥ 0, got {blur_std}")));
                }
                let kernel = circular_gaussian(d, blur_std);
                let rows: Vec<usize> = (0..d).step_by(factor).collect();
                let mut a = vec![0.0; rows.len() * d];
                for (r, &i) in rows.iter().enumerate() {
                    for j in 0..d {
                        a[r * d + j] = kernel[(j + d - i) % d];
                    }
                }
                Ok((a, rows.len()))
            }
        }
    }
}

fn selection(d: usize, kept: &[usize]) -> Vec<f64> {
    let mut a = vec![0.0; kept.len() * d];
    for (r, &c) in kept.iter().enumerate() {
        a[r * d + c] = 1.0;
    }
    a
}

/// Weights w[lag] of a circular Gaussian kernel summing to one.
fn circular_gaussian(d: usize, std: f64) -> Vec<f64> {
    if std == 0.0 {
        let mut w = vec![0.0; d];
        w[0] = 1.0;
        return w;
    }
    let w: Vec<f64> = (0..d)
        .map(|lag| {
            let dist = lag.min(d - lag) as f64;
            (-dist * dist / (2.0 * std * std)).exp()
        })
        .collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|v| v / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inpainting_keeps_the_requested_fraction_reproducibly() {
        let op = OperatorConfig::Inpainting { noise_std: 0.1, observed_fraction: 0.25 };
        let (a, m) = op.matrix(16, 9).unwrap();
        assert_eq!(m, 4);
        assert_eq!(a.iter().sum::<f64>(), 4.0);
        assert_eq!(op.matrix(16, 9).unwrap().0, a);
    }

    #[test]
    fn super_resolution_rows_are_normalised_blurs() {
        let (a, m) =
            OperatorConfig::SuperResolution { noise_std: 0.1, factor: 4, blur_std: 1.5 }.matrix(16, 0).unwrap();
        assert_eq!(m, 4);
        for r in 0..m {
            assert!((a[r * 16..(r + 1) * 16].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn zero_noise_is_rejected() {
        assert!(OperatorConfig::Denoising { noise_std: 0.0 }.matrix(4, 0).is_err());
    }
}
