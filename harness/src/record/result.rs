//! What one configuration measured on one task: [`ConfigResult`], its per-image
//! [`ImageScore`]s, and a task's empirical [`Frontier`].

use serde::{Deserialize, Serialize};

use crate::estimate::Estimate;
use crate::judge::calibration::JudgedCalibration;
use crate::judge::Judgement;
use crate::record::{QualityMean, QualityScore};

/// One plugin configuration measured on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigResult {
    /// Task name.
    pub task: String,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub plugin_version: String,
    /// Table label, e.g. `gamma-optimal(gamma=0.5)`.
    pub label: String,
    /// Every parameter value, as text.
    pub params: Vec<(String, String)>,
    /// Whether the model is a sampler.
    pub stochastic: bool,
    /// 1 = closest to the bound among this task's valid results.
    pub rank: usize,
    /// Uncertainty, perception, distortion and verdicts.
    #[serde(flatten)]
    pub judgement: Judgement,
    /// 10·log10(signal_power / MSE), dB (images: all channels, over the patches' pixels).
    #[serde(with = "crate::float")]
    pub psnr_db: f64,
    /// Images: PSNR of the luma, 8-bit, border cropped (the SR literature's), mean over images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_y_db: Option<Estimate>,
    /// Images: SSIM of the luma, same conventions, mean over images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssim: Option<Estimate>,
    /// N̂ of the task's frontier (the least [`Judgement::implied_inherent`] of its valid
    /// results) over this result's: 1 for the model that proves the tightest bound on N(X|Y).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::float::option")]
    pub efficiency: Option<f64>,
    /// How fast `restore` ran (schema 2: `throughput_samples_per_sec`, samples per second
    /// alone); `None` for samples judged from files, or when timing failed (in `failures`).
    #[serde(default, alias = "throughput_samples_per_sec", deserialize_with = "crate::run::timing_of_any_schema")]
    pub timing: Option<crate::run::Timing>,
    /// Images: PNGs of ground truth, measurement, a sample, the sample mean, the per-pixel
    /// standard deviation and the error, one per image with a grid, relative to the run directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_grids: Vec<String>,
    /// Image tasks: each image's scores, in the set's order (`images.csv`, the page's "Per
    /// image" section, `upbench compare`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageScore>,
    /// Image tasks: each quality metric's mean over the images (NIQE, BRISQUE, ST-LPIPS on each
    /// image's first sample), with its interval; absent when none was computed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<QualityMean>,
    /// Stochastic configurations: whether their spread is honest (the truth's ranks among the
    /// samples, coverage of their central intervals, the verdict); absent for deterministic ones
    /// and from results written before issue [16].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<JudgedCalibration>,
}

/// One image's scores for one configuration on one patch side of an image task. The task's
/// PSNR-Y and SSIM are the means of these; its ln U and P the means of theirs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScore {
    /// The image's file name in the set.
    pub image: String,
    /// PSNR of the luma, dB (8-bit, border cropped; a grey image on its grey values), mean over
    /// the samples.
    #[serde(with = "crate::float")]
    pub psnr_y_db: f64,
    /// SSIM of the luma, same conventions, mean over the samples.
    #[serde(with = "crate::float")]
    pub ssim: f64,
    /// U from this image's error patches; `None` when the image was left out of this patch
    /// side (the failure says why).
    #[serde(default, with = "crate::float::option")]
    pub uncertainty: Option<f64>,
    /// P from this image's patches, nats; `None` as for `uncertainty`.
    #[serde(default, with = "crate::float::option")]
    pub perception_nats: Option<f64>,
    /// The quality metrics' scores of this image's first sample (a metric that could not score
    /// it is absent; the failure says why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<QualityScore>,
}

/// The empirical frontier of a task: every measured model proves N(X|Y) ≤ U / η(P; d)
/// (Theorem 3 applied to it); the least such bound over a task's valid results, and which
/// configuration gives it. On the plane, η(P; d)·N̂ is the frontier curve: no configuration
/// measured lies below it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frontier {
    /// The task (a patch side's name for image tasks).
    pub task: String,
    /// N̂ = U / η(P; d) of the configuration below, with its interval.
    pub inherent: Estimate,
    /// The configuration that proves it.
    pub label: String,
}
