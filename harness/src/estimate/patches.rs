//! The patches of one image as the estimators see them ([`ImagePatches`]), and the constants
//! both the estimators and the per-image statistics ([`super::images`]) use: its own file so that
//! the estimators (`estimator.rs`) and the statistics that call them (`images.rs`) do not import
//! each other.

use tch::Tensor;

/// The variance of one grey level's rounding, (1/255)²/12: the floor under the eigenvalues of a
/// rank-deficient patch covariance (a grey image stored as three equal channels, flat areas).
/// The ground truth is known only to that precision, so no direction of it has less variance.
pub const GREY_LEVEL_VARIANCE: f64 = 1.0 / (255.0 * 255.0 * 12.0);

/// With `shrinkage = "auto"`, patch covariances fitted to fewer than this many points per
/// dimension are shrunk (Ledoit–Wolf, flagged); from it on they are the sample covariance,
/// Wishart-corrected. An image task compares models whose estimates rest on very different point
/// counts (one sample per image from a deterministic model, K from a sampler): the Wishart
/// correction is unbiased at every count for Gaussian errors, shrinkage is biased by an amount
/// that depends on the count, so shrinking only where the sample covariance is unusable keeps
/// those models on one estimator. (Exact tasks shrink below 10·d samples per observation: there
/// every configuration has the same K.)
pub const MIN_POINTS_PER_DIMENSION: i64 = 2;

/// One image's patches, ready for an [`super::Estimator`]: the truth's `[L, d]` and the restored
/// `[K, L, d]` at the L grid positions kept, the points the divergence compares (as the
/// estimator wants them, [`super::Estimator::image_points`]) and a seeded order of the positions, whose
/// first `count` make a subsample.
pub struct ImagePatches {
    pub(super) truth: Tensor,
    pub(super) restored: Tensor,
    pub(super) compared: Tensor,
    pub(super) order: Tensor,
    /// Grid positions used (at most L: a cap on points keeps a seeded subset).
    pub positions: i64,
}

impl ImagePatches {
    /// K, the restored samples per position.
    pub fn samples(&self) -> i64 {
        self.restored.size()[0]
    }

    /// d.
    pub fn dim(&self) -> i64 {
        self.truth.size()[1]
    }

    /// The truth's `[count, d]` and the restored `[K, count, d]` patches at the first `count`
    /// positions of the order.
    pub fn first(&self, count: i64) -> (Tensor, Tensor) {
        let keep = self.order.narrow(0, 0, count);
        (self.truth.index_select(0, &keep), self.restored.index_select(1, &keep))
    }

    /// The compared restored points at positions `start .. start + len` of the order, `[K·len, d]`.
    pub fn compared_at(&self, start: i64, len: i64) -> Tensor {
        self.compared.index_select(1, &self.order.narrow(0, start, len)).flatten(0, 1)
    }
}
