//! The inherent uncertainty N(X|Y) of an image task, estimated: real images have no known
//! posterior, so upbench uses the LMMSE error entropy power of a stationary Gaussian model of
//! images fitted on a training set, in closed form on the task's p × p patches
//! (`image_kit::FourierPosterior::patch_log_entropy_power`). If the model's covariance were the
//! images' own, this would bound N(X|Y) from above (`docs/protocol.md`), so a model measured
//! below η(P)·N̂ is not proof of a wrong estimate, and the judge does not invalidate it.

use std::path::Path;

use image_kit::{FourierPosterior, StationaryPrior};

use super::task::{Degradation, ImageTaskConfig};
use crate::task::TaskError;

/// An estimate of N(X|Y) and the words that go with it in every output.
#[derive(Debug, Clone, PartialEq)]
pub struct InherentEstimate {
    /// N̂(X|Y) per dimension.
    pub value: f64,
    /// How it was obtained.
    pub label: String,
}

/// Side of the periodic HR grid the closed form is computed on.
const GRID: i64 = 256;

/// The phases modulo `scale` of the patch origins `border + p·i`.
fn phases(scale: i64, border: i64, patch: i64) -> Vec<(i64, i64)> {
    let mut one: Vec<i64> = (0..scale).map(|i| (border + patch * i).rem_euclid(scale)).collect();
    one.sort_unstable();
    one.dedup();
    one.iter().flat_map(|&a| one.iter().map(move |&b| (a, b))).collect()
}

/// Fits the model once per task; [`StationaryGaussianEstimate::for_patch`] gives N̂ per patch side.
pub struct StationaryGaussianEstimate {
    training: String,
    posterior: FourierPosterior,
    scale: i64,
    border: i64,
}

impl StationaryGaussianEstimate {
    /// `None` when the task asks for no estimate or has no closed form (inpainting).
    pub fn new(
        config: &ImageTaskConfig,
        channels: usize,
        data_dir: &Path,
        device: tch::Device,
    ) -> Result<Option<StationaryGaussianEstimate>, TaskError> {
        let Some(training) = config.training_set() else { return Ok(None) };
        let scale = config.degradation.scale() as i64;
        let rounding = match config.degradation {
            Degradation::SuperResolution { .. } => 1.0 / (12.0 * 255.0 * 255.0),
            Degradation::Denoising { .. } => 0.0,
            Degradation::Inpainting { .. } => return Ok(None),
        };
        let noise_var = (config.degradation.noise_std() / 255.0).powi(2) + rounding;
        let prior = StationaryPrior::fit_named(&training, data_dir, channels)
            .map_err(|e| TaskError::Invalid(format!("image task '{}': inherent uncertainty: {e}", config.name)))?;
        let lr = if GRID % scale == 0 { GRID / scale } else { 64 };
        let _no_grad = tch::no_grad_guard();
        let posterior = FourierPosterior::new(&prior, scale, noise_var, (lr, lr), device);
        let border = if scale > 1 { scale } else { 0 };
        Ok(Some(StationaryGaussianEstimate { training, posterior, scale, border }))
    }

    /// N̂(X|Y) on p × p patches.
    pub fn for_patch(&self, patch: usize) -> InherentEstimate {
        let _no_grad = tch::no_grad_guard();
        let p = patch as i64;
        let log_n = self.posterior.patch_log_entropy_power(p, &phases(self.scale, self.border, p));
        InherentEstimate {
            value: log_n.exp(),
            label: format!(
                "estimate: LMMSE error entropy power of a stationary Gaussian image model fitted on {} (closed form on {patch}×{patch} patches; an upper estimate if the model's covariance is right)",
                self.training
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_origins_visit_the_phases_the_grid_visits() {
        assert_eq!(phases(4, 4, 4), vec![(0, 0)]);
        assert_eq!(phases(4, 4, 9).len(), 16);
        assert_eq!(phases(4, 4, 2), vec![(0, 0), (0, 2), (2, 0), (2, 2)]);
        assert_eq!(phases(1, 0, 9), vec![(0, 0)]);
    }
}
