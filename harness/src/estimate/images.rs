//! Per-image statistics of a model on an image task (`docs/protocol.md`).
//!
//! The sample unit is a p × p × C patch on a non-overlapping grid inside the image's evaluation
//! region (the image less a `border` for super-resolution; the patches wholly inside the hole for
//! inpainting). Per image:
//! - U: the entropy power of the error patches x̂ − x over every sample and grid position;
//! - P: D_½ between the law of the ground truth's patches and the law of the restored patches
//!   (the image's patch statistics; a deterministic model has a finite P here);
//! - MSE over the pixels the patches cover.
//!
//! The convergence diagnostic subsamples the grid positions (¼ and ½, seeded) instead of the
//! samples, so that deterministic models get one too.

use tch::{Kind, Tensor};

pub use super::patches::{ImagePatches, GREY_LEVEL_VARIANCE, MIN_POINTS_PER_DIMENSION};
use super::{EstimateError, Estimator, SubsampleStats};

/// Where on an image the patches are taken.
pub struct Region<'a> {
    /// Pixels left out on every side (the SR scale, as for PSNR).
    pub border: i64,
    /// Hidden pixels `[1, H, W]` (inpainting): only patches wholly inside count.
    pub hidden: Option<&'a Tensor>,
}

/// One image's statistics for one patch size.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageStats {
    /// ln U.
    pub log_uncertainty: f64,
    /// P, nats.
    pub perception: f64,
    /// MSE on the [0, 1] scale over the covered pixels.
    pub mse: f64,
    /// Error patches the estimates rest on (samples × grid positions).
    pub points: i64,
    /// Grid positions: the patches the truth's law (and a deterministic model's) is fitted on.
    pub positions: i64,
    /// Whether a covariance was regularised: shrunk, or its eigenvalues floored at
    /// [`GREY_LEVEL_VARIANCE`] (rank-deficient: a grey image, flat areas).
    pub shrinkage_used: bool,
    /// Zero k-th neighbour distances.
    pub ties: usize,
    /// The same from ¼ and ½ of the grid positions.
    pub subsamples: Vec<SubsampleStats>,
}

fn shape_err(e: tch::TchError) -> EstimateError {
    EstimateError::Shape(e.to_string())
}

/// `[N, C, H, W]` → `[N, L, C·p·p]` patches on the grid of stride p, and the grid positions kept.
fn grid_patches(x: &Tensor, p: i64, region: &Region<'_>) -> Result<Tensor, EstimateError> {
    let b = region.border;
    let (h, w) = (x.size()[2], x.size()[3]);
    if h - 2 * b < p || w - 2 * b < p {
        return Err(EstimateError::Shape(format!("a {h}×{w} image has no {p}×{p} patch inside a {b}-pixel border")));
    }
    let inner = x.narrow(2, b, h - 2 * b).narrow(3, b, w - 2 * b);
    inner.f_im2col([p, p], [1, 1], [0, 0], [p, p]).map_err(shape_err).map(|t| t.transpose(1, 2))
}

/// Grid positions whose patch lies wholly in the hole (all, without a hole).
fn kept_positions(shape: &[i64], p: i64, region: &Region<'_>) -> Result<Option<Tensor>, EstimateError> {
    let Some(hidden) = region.hidden else { return Ok(None) };
    let m = grid_patches(&hidden.to_kind(Kind::Float).unsqueeze(0), p, region)?; // [1, L, p·p]
    let inside = m.min_dim(-1, false).0.squeeze_dim(0).gt(0.5);
    let idx = inside.nonzero().squeeze_dim(1);
    if idx.size()[0] == 0 {
        return Err(EstimateError::Shape(format!(
            "no {p}×{p} patch lies wholly inside the hole of a {}×{} image; use a larger mask or a smaller patch",
            shape[2], shape[3]
        )));
    }
    Ok(Some(idx))
}

/// The statistics of `restored` `[K, C, H, W]` against `truth` `[C, H, W]` for patch side `p`,
/// from at most `max_points` error patches (a seeded subset of the grid positions; all by
/// default). `seed` drives the dequantisation of the 8-bit ground truth (k-NN only) and the
/// subsampling.
pub fn image_stats(
    estimator: &dyn Estimator,
    restored: &Tensor,
    truth: &Tensor,
    p: i64,
    region: &Region<'_>,
    max_points: Option<i64>,
    seed: u64,
) -> Result<ImageStats, EstimateError> {
    let _no_grad = tch::no_grad_guard();
    let restored = restored.to_kind(Kind::Double);
    let truth = truth.to_kind(Kind::Double).unsqueeze(0);
    let mut truth_patches = grid_patches(&truth, p, region)?.squeeze_dim(0); // [L, d]
    let mut restored_patches = grid_patches(&restored, p, region)?; // [K, L, d]
    if let Some(idx) = kept_positions(&restored.size(), p, region)? {
        let idx = idx.to_device(truth_patches.device());
        truth_patches = truth_patches.index_select(0, &idx);
        restored_patches = restored_patches.index_select(1, &idx);
    }
    let errors = &restored_patches - truth_patches.unsqueeze(0);
    let mse = errors.square().mean(Kind::Double).double_value(&[]);
    crate::seed::seed_torch(seed);
    let (truth_patches, compared) = estimator.image_points(truth_patches, &restored_patches);
    let order = Tensor::randperm(truth_patches.size()[0], (Kind::Int64, truth_patches.device()));
    let k = restored.size()[0];
    // A cap on K·positions keeps the k-NN searches affordable: a seeded subset of positions.
    let positions = max_points.map_or(truth_patches.size()[0], |cap| truth_patches.size()[0].min((cap / k).max(2)));
    let patches = ImagePatches { truth: truth_patches, restored: restored_patches, compared, order, positions };
    let full = estimator.image_core(&patches, positions)?;
    let mut subsamples = Vec::new();
    for fraction in [4, 2] {
        let count = positions / fraction;
        if !estimator.estimates_from(count) || !estimator.image_subsample_fits(&patches, count) {
            continue;
        }
        let sub = estimator.image_core(&patches, count)?;
        subsamples.push(SubsampleStats {
            samples_per_observation: count * k,
            log_uncertainty: vec![sub.log_uncertainty],
            perception: vec![sub.perception],
        });
    }
    Ok(ImageStats {
        log_uncertainty: full.log_uncertainty,
        perception: full.perception,
        mse,
        points: positions * k,
        positions,
        shrinkage_used: full.regularised,
        ties: full.ties,
        subsamples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::{gaussian, EstimatorConfig};

    /// A smooth 8-bit image `[C, 32, 32]` and a restoration of it with some error.
    fn pair(grey: bool, constant: bool) -> (Tensor, Tensor) {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(4);
        let base = if constant {
            Tensor::full([1, 32, 32], 0.5, (Kind::Double, tch::Device::Cpu))
        } else {
            (Tensor::rand([1, 32, 32], (Kind::Double, tch::Device::Cpu)) * 255.0).round() / 255.0
        };
        let truth = if grey { base.repeat([3, 1, 1]) } else { base.repeat([3, 1, 1]).rand_like() };
        let noise = Tensor::randn([2, 1, 32, 32], (Kind::Double, tch::Device::Cpu)) * 0.02;
        let noise = if grey { noise.repeat([1, 3, 1, 1]) } else { noise.repeat([1, 3, 1, 1]).randn_like() * 0.02 };
        (&truth.unsqueeze(0) + noise, truth)
    }

    #[test]
    fn grey_and_constant_images_are_estimated_with_the_floor_flagged() {
        let config = EstimatorConfig::default();
        let region = Region { border: 0, hidden: None };
        for (grey, constant) in [(true, false), (true, true), (false, false)] {
            let (restored, truth) = pair(grey, constant);
            let stats = image_stats(config.estimator().as_ref(), &restored, &truth, 4, &region, None, 1)
                .unwrap_or_else(|e| panic!("grey {grey}, constant {constant}: {e}"));
            assert!(stats.log_uncertainty.is_finite() && stats.perception.is_finite(), "{stats:?}");
            if grey {
                // The unfloored error covariance is singular: its log-determinant is −∞ (or
                // numerically hopeless), which is what failed the configuration before the floor.
                let e = (&restored - truth.unsqueeze(0)).flatten(0, 1).unsqueeze(0);
                let patches = grid_patches(&e, 4, &region).unwrap().flatten(0, 1).unsqueeze(0);
                let (_, cov) = gaussian::fit(&patches, false).unwrap();
                let smallest = cov.linalg_eigvalsh("L").min().double_value(&[]);
                assert!(smallest < 1e-12, "smallest eigenvalue {smallest}");
            }
            // Three equal channels: the error covariance has rank d/3, so the floor is used; the
            // colour image's 128 error patches in d = 48 need neither floor nor shrinkage, but
            // its 64 truth patches are shrunk for P, so it is flagged too.
            assert!(stats.shrinkage_used, "grey {grey}, constant {constant}");
        }
    }

    /// A 64×64 colour truth and `k` restorations with colour- and space-correlated Gaussian
    /// noise, the same law for every `k`.
    fn correlated_noise(k: i64) -> (Tensor, Tensor) {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(11);
        let opts = (Kind::Double, tch::Device::Cpu);
        let truth = (Tensor::rand([3, 64, 64], opts) * 255.0).round() / 255.0;
        let shared = Tensor::randn([k, 1, 65, 65], opts);
        let own = Tensor::randn([k, 3, 65, 65], opts) * 0.4;
        let white = shared + own;
        // Neighbouring pixels share noise: each pixel's white noise plus its lower and (half of)
        // its right neighbour's, per channel.
        let smooth = white.narrow(2, 0, 64).narrow(3, 0, 64)
            + white.narrow(2, 1, 64).narrow(3, 0, 64)
            + white.narrow(2, 0, 64).narrow(3, 1, 64) * 0.5;
        (&truth.unsqueeze(0) + smooth * 0.01, truth)
    }

    /// One sample per image (a deterministic model) and many (a sampler) must meet one estimator:
    /// with the same error law, U is the same whatever number of points it rests on. Shrinking the
    /// smaller counts (Ledoit–Wolf below 10·d, as exact tasks do) put the one-sample estimate
    /// 42 % above the many-sample one here (ln U −9.16 against −9.51).
    #[test]
    fn the_uncertainty_does_not_depend_on_the_number_of_samples() {
        let config = EstimatorConfig::default();
        let region = Region { border: 0, hidden: None };
        let log_u = |k: i64| {
            let (restored, truth) = correlated_noise(k);
            let stats = image_stats(config.estimator().as_ref(), &restored, &truth, 4, &region, None, 1).unwrap();
            (stats.log_uncertainty, stats.shrinkage_used)
        };
        let (reference, shrunk) = log_u(64); // 16,384 points in d = 48
        assert!(!shrunk);
        for k in [1, 2, 8] {
            let (value, _) = log_u(k);
            assert!((value - reference).abs() < 0.03, "ln U at K = {k}: {value}, at K = 64: {reference}");
        }
    }

    #[test]
    fn an_image_too_small_for_its_patches_is_an_error_not_a_number() {
        let (restored, truth) = pair(false, false);
        let region = Region { border: 15, hidden: None };
        let err = image_stats(EstimatorConfig::default().estimator().as_ref(), &restored, &truth, 4, &region, None, 1)
            .unwrap_err();
        assert!(err.to_string().contains("has no 4×4 patch inside a 15-pixel border"), "{err}");
    }
}
