//! Per-image quality measures the super-resolution literature reads (issue [13]): NIQE and
//! BRISQUE (no reference) and ST-LPIPS with AlexNet (full reference), each reproducing one
//! independent reference implementation to its arithmetic (`docs/metrics.md`).
//!
//! They sit beside the theory's perception index P, which is a divergence between output laws
//! and needs many samples; these score one image (against its ground truth for ST-LPIPS). All
//! three read their parameters from files the caller names (the shared models directory) and
//! check them before any image is scored: a missing file, a wrong shape or dtype, or a
//! non-finite value is a [`QualityError`] naming the file.

mod brisque;
mod niqe;
mod script;
mod stlpips;

use std::path::{Path, PathBuf};

pub use crate::raster::Image8;
pub use brisque::Brisque;
pub use niqe::Niqe;
pub use script::{ScriptedMetric, ScriptedMetricSpec};
pub use stlpips::StLpips;

/// Whether a measure needs the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reference {
    /// No-reference ("blind"): scores the image alone.
    None,
    /// Full-reference: scores the image against the ground truth.
    Full,
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    /// Lower scores are better (NIQE, BRISQUE, LPIPS-type distances).
    Lower,
    /// Higher scores are better.
    Higher,
}

/// A per-image quality measure.
pub trait QualityMeasure: Send + Sync {
    /// Short name, as a column header: `niqe`, `brisque`, `stlpips-alex`, or a suite's own.
    fn name(&self) -> &str;
    /// Whether [`QualityMeasure::score`] needs the ground truth.
    fn reference(&self) -> Reference;
    /// Which way is better.
    fn better(&self) -> Better;
    /// The convention and reference implementation followed, for the run's manifest (one line:
    /// colour conversion, crop, arithmetic, parameter file).
    fn convention(&self) -> String;
    /// The score of an 8-bit grey or RGB `image`; `reference` is the ground truth of the same
    /// size for a full-reference measure and is ignored by a no-reference one.
    fn score(&self, image: &Image8, reference: Option<&Image8>) -> Result<f64, QualityError>;
}

/// The built-in measures, by the names a suite's `[metrics] measures` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltIn {
    /// [`Niqe`].
    Niqe,
    /// [`Brisque`].
    Brisque,
    /// [`StLpips`].
    StLpips,
}

impl BuiltIn {
    /// Every built-in measure, in the tables' column order.
    pub const ALL: [BuiltIn; 3] = [BuiltIn::Niqe, BuiltIn::Brisque, BuiltIn::StLpips];

    /// The measure a suite names: `niqe`, `brisque`, `st-lpips` (or its column name
    /// `stlpips-alex`).
    pub fn parse(name: &str) -> Option<BuiltIn> {
        match name {
            "niqe" => Some(BuiltIn::Niqe),
            "brisque" => Some(BuiltIn::Brisque),
            "st-lpips" | "stlpips" | "stlpips-alex" => Some(BuiltIn::StLpips),
            _ => None,
        }
    }

    /// The name a suite uses for it.
    pub fn suite_name(self) -> &'static str {
        match self {
            BuiltIn::Niqe => "niqe",
            BuiltIn::Brisque => "brisque",
            BuiltIn::StLpips => "st-lpips",
        }
    }

    /// Its [`QualityMeasure::name`], as records and columns show it.
    pub fn name(self) -> &'static str {
        match self {
            BuiltIn::Niqe => "niqe",
            BuiltIn::Brisque => "brisque",
            BuiltIn::StLpips => "stlpips-alex",
        }
    }

    /// Its parameter file in the models directory.
    pub fn file(self) -> &'static str {
        match self {
            BuiltIn::Niqe => Niqe::FILE,
            BuiltIn::Brisque => Brisque::FILE,
            BuiltIn::StLpips => StLpips::FILE,
        }
    }
}

/// Why a quality measure could not be set up or computed.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// A parameter file is missing or unreadable.
    #[error("{path}: cannot read quality-metric parameters: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O or decoder error.
        reason: String,
    },
    /// A parameter file holds the wrong tensors: a missing name, a wrong shape or dtype, or a
    /// non-finite value.
    #[error("{path}: bad quality-metric parameter `{name}`: {reason}")]
    Parameter {
        /// The file.
        path: PathBuf,
        /// The tensor or field.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The image cannot be scored (too small, wrong channel count, sizes that differ).
    #[error("{metric}: {reason}")]
    Image {
        /// The measure.
        metric: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A suite's own metric file does not have the SHA-256 the suite pins.
    #[error("{path}: SHA-256 is {found}, but the suite pins {expected} (a different file; if it is the one you want, pin its checksum)")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The pinned checksum.
        expected: String,
        /// The file's.
        found: String,
    },
    /// A suite's own metric file cannot be loaded as TorchScript, or its module does not follow
    /// the calling convention.
    #[error("{path}: {reason}")]
    Module {
        /// The file.
        path: PathBuf,
        /// What libtorch said, or what the module did wrong.
        reason: String,
    },
    /// A suite's own metric failed on one image.
    #[error("{metric}: {reason}")]
    Scripted {
        /// The metric's name.
        metric: String,
        /// What libtorch said, or what the module returned.
        reason: String,
    },
    /// A libtorch operation or the fit failed.
    #[error("{metric}: numerical failure: {reason}")]
    Numeric {
        /// The measure.
        metric: &'static str,
        /// The failure.
        reason: String,
    },
}

/// Checks that an image has 1 or 3 channels and the data length its header claims.
fn check_image(metric: &'static str, image: &Image8) -> Result<(), QualityError> {
    if image.channels != 1 && image.channels != 3 {
        return Err(QualityError::Image { metric, reason: format!("{} channels; expected 1 or 3", image.channels) });
    }
    if image.data.len() != image.height * image.width * image.channels {
        return Err(QualityError::Image {
            metric,
            reason: format!(
                "{} values for a {}×{}×{} image",
                image.data.len(),
                image.height,
                image.width,
                image.channels
            ),
        });
    }
    Ok(())
}

/// Reads every tensor of a safetensors file, with errors naming the file.
fn read_safetensors(path: &Path) -> Result<Vec<(String, tch::Tensor)>, QualityError> {
    if !path.is_file() {
        return Err(QualityError::Read { path: path.into(), reason: "no such file".into() });
    }
    tch::Tensor::read_safetensors(path).map_err(|e| QualityError::Read { path: path.into(), reason: e.to_string() })
}

/// The tensor `name` of `tensors`, checked for dtype, shape and finiteness.
fn take_tensor(
    path: &Path,
    tensors: &[(String, tch::Tensor)],
    name: &str,
    kind: tch::Kind,
    shape: &[i64],
) -> Result<tch::Tensor, QualityError> {
    let bad = |reason: String| QualityError::Parameter { path: path.into(), name: name.into(), reason };
    let t = tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t).ok_or_else(|| bad("missing".into()))?;
    if t.kind() != kind {
        return Err(bad(format!("dtype {:?}, expected {kind:?}", t.kind())));
    }
    if t.size() != shape {
        return Err(bad(format!("shape {:?}, expected {shape:?}", t.size())));
    }
    let finite = t.isfinite().all().int64_value(&[]) == 1;
    if !finite {
        return Err(bad("non-finite values".into()));
    }
    Ok(t.shallow_clone())
}

/// numpy's pairwise summation (`@TYPE@_pairwise_sum`: eight accumulators up to 128 values,
/// halves split at a multiple of 8 above), which `np.sum`/`np.mean` use on a contiguous array.
/// Reproduced because on flat image areas the reference scores depend on the last bit of sums.
fn pairwise_sum<T>(a: &[T]) -> T
where
    T: Copy + std::ops::Add<Output = T> + Default,
{
    let n = a.len();
    if n < 8 {
        // numpy starts from -0.0 here; adding -0.0 changes no sum but that of nothing
        let mut res = T::default();
        for &v in a {
            res = res + v;
        }
        res
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] = r[j] + a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res = res + a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// Γ(x) for x > 0 (statrs' Lanczos approximation, ≈ 1e-15 relative).
fn gamma(x: f64) -> f64 {
    statrs::function::gamma::gamma(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_matches_plain_sums_of_exact_values() {
        // integers are summed exactly in any order
        for n in [0usize, 1, 7, 8, 9, 127, 128, 129, 300, 1000] {
            let v: Vec<f64> = (0..n).map(|i| (i % 17) as f64).collect();
            assert_eq!(pairwise_sum(&v), v.iter().sum::<f64>(), "n = {n}");
        }
        // the order shows on values that round: 1 + 8 × 2⁻⁵³ sequentially stays 1, pairwise
        // the small terms meet first
        let mut v = vec![1.0f64];
        v.extend(std::iter::repeat_n(f64::EPSILON / 2.0, 15));
        assert_eq!(v.iter().sum::<f64>(), 1.0);
        assert!(pairwise_sum(&v) > 1.0);
    }

    #[test]
    fn gamma_known_values() {
        assert!((gamma(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-14);
        assert!((gamma(5.0) - 24.0).abs() < 1e-12);
    }
}
