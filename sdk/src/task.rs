//! What a plugin is asked to solve: the [`TaskSpec`] handed to its constructor.

use std::fmt;
use std::str::FromStr;

use abi_stable::{
    std_types::{ROption, RString, RVec},
    StableAbi,
};

use crate::{Device, Extensions, ParamValue};

/// The restoration problems upbench poses.
///
/// It crosses the boundary as a string ([`TaskKind::as_str`]) so that later SDK versions can add
/// kinds without a layout change; plugins compare with [`TaskSpec::kind`]. Exact kinds are vector
/// problems with a known prior ([`TaskSpec::prior`]); image kinds are real photographs
/// ([`TaskSpec::image`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Exact: Y = X + σW.
    Denoising,
    /// Exact: a subset of the coordinates observed, plus noise.
    Inpainting,
    /// Exact: blur, then decimation, plus noise.
    SuperResolution,
    /// Image: Y = X + σW on 8-bit photographs scaled to [0, 1].
    ImageDenoising,
    /// Image: pixels hidden by a mask (passed with the measurement), the rest observed.
    ImageInpainting,
    /// Image: MATLAB-style bicubic downsampling by [`ImageTaskSpec::scale`], 8-bit rounded.
    ImageSuperResolution,
}

impl TaskKind {
    /// Every kind this SDK version knows.
    pub const ALL: [TaskKind; 6] = [
        TaskKind::Denoising,
        TaskKind::Inpainting,
        TaskKind::SuperResolution,
        TaskKind::ImageDenoising,
        TaskKind::ImageInpainting,
        TaskKind::ImageSuperResolution,
    ];

    /// The exact (synthetic, closed-form) kinds.
    pub const EXACT: [TaskKind; 3] = [TaskKind::Denoising, TaskKind::Inpainting, TaskKind::SuperResolution];

    /// The image kinds.
    pub const IMAGE: [TaskKind; 3] =
        [TaskKind::ImageDenoising, TaskKind::ImageInpainting, TaskKind::ImageSuperResolution];

    /// The name that crosses the boundary.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Denoising => "denoising",
            TaskKind::Inpainting => "inpainting",
            TaskKind::SuperResolution => "super-resolution",
            TaskKind::ImageDenoising => "image-denoising",
            TaskKind::ImageInpainting => "image-inpainting",
            TaskKind::ImageSuperResolution => "image-super-resolution",
        }
    }

    /// Whether this is an image kind.
    pub fn is_image(self) -> bool {
        TaskKind::IMAGE.contains(&self)
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = TaskKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown task kind '{s}' (known: {})", known.join(", "))
        })
    }
}

/// A Gaussian N(mean, covariance) over the signal: one component of a [`MixturePrior`].
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct GaussianPrior {
    /// Mean, `signal_dim` values.
    pub mean: RVec<f64>,
    /// Covariance, `signal_dim × signal_dim`, row-major.
    pub covariance: RVec<f64>,
}

/// The signal prior of an exact task, Σ_c w_c·N(m_c, Σ_c), given so that oracle plugins can
/// compute the true posterior (a Gaussian mixture too, for the linear-Gaussian operators).
/// A Gaussian prior is the one-component case.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct MixturePrior {
    /// w_c, positive, summing to one.
    pub weights: RVec<f64>,
    /// The components, as many as weights.
    pub components: RVec<GaussianPrior>,
}

impl MixturePrior {
    /// The one-component mixture N(mean, covariance).
    pub fn gaussian(mean: Vec<f64>, covariance: Vec<f64>) -> Self {
        MixturePrior {
            weights: vec![1.0].into(),
            components: vec![GaussianPrior { mean: mean.into(), covariance: covariance.into() }].into(),
        }
    }

    /// The single component, when the prior is Gaussian.
    pub fn as_gaussian(&self) -> Option<&GaussianPrior> {
        match self.components.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

/// The layout of an image task's tensors.
///
/// Measurements arrive as `[n, C, h, w]` (float32, 8-bit values divided by 255; noisy ones may
/// leave [0, 1]). For [`TaskKind::ImageInpainting`] one more channel follows the colours: the
/// mask, 1 where the pixel is observed and 0 where it is hidden (hidden pixels read 0). A model
/// returns `[n, K, C, h·scale, w·scale]` on the measurements' device, in the same units.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct ImageTaskSpec {
    /// C: 3 for RGB, 1 for grey.
    pub channels: u32,
    /// The super-resolution factor; 1 for denoising and inpainting.
    pub scale: u32,
    /// Fields added by later 1.x SDK versions (none in 1.0): the extension point.
    pub extensions: Extensions,
}

impl ImageTaskSpec {
    /// The layout of `channels`-channel images restored ×`scale`.
    pub fn new(channels: u32, scale: u32) -> Self {
        ImageTaskSpec { channels, scale, extensions: Extensions::new() }
    }
}

/// One benchmark task as a plugin sees it: Y = A·X + σ·W with W standard normal.
///
/// For image tasks the sizes vary from image to image: `signal_dim` and `measurement_dim` are 0,
/// `operator` is empty and [`TaskSpec::image`] gives the layout.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct TaskSpec {
    /// The task's name in the suite, for messages.
    pub name: RString,
    /// A [`TaskKind`] name.
    pub kind: RString,
    /// d: the dimension of X.
    pub signal_dim: u64,
    /// m: the dimension of Y.
    pub measurement_dim: u64,
    /// A, `measurement_dim × signal_dim`, row-major.
    pub operator: RVec<f64>,
    /// σ, the standard deviation of the additive white Gaussian noise (for images, in units of
    /// the [0, 1] pixel scale: σ = 25 grey levels is 25/255).
    pub noise_std: f64,
    /// The signal prior, when the task is exact (synthetic): a Gaussian or a Gaussian mixture.
    pub prior: ROption<MixturePrior>,
    /// Where measurements will live and where samples must be returned.
    pub device: Device,
    /// The tensor layout, for image tasks.
    pub image: ROption<ImageTaskSpec>,
    /// Fields added by later 1.x SDK versions (none in 1.0): the extension point.
    pub extensions: Extensions,
}

/// The [`TaskSpec::extensions`] entry (SDK 1.3) naming the run's directory of pretrained weights
/// and other model files: an absolute path, as text.
pub const MODELS_DIR_EXTENSION: &str = "models_dir";

/// The [`TaskSpec::extensions`] entry (SDK 1.3) naming the run's data directory (registered image
/// sets, which plugins may train or fit on): an absolute path, as text.
pub const DATA_DIR_EXTENSION: &str = "data_dir";

impl TaskSpec {
    /// The task kind, if this SDK version knows it.
    pub fn kind(&self) -> Option<TaskKind> {
        self.kind.parse().ok()
    }

    /// The run's models directory ([`MODELS_DIR_EXTENSION`]); `None` from a harness older than
    /// 1.3, or when the run has none. Relative weight names are meant to be looked up here.
    pub fn models_dir(&self) -> Option<&str> {
        self.text_extension(MODELS_DIR_EXTENSION)
    }

    /// The run's data directory ([`DATA_DIR_EXTENSION`]); `None` from a harness older than 1.3.
    pub fn data_dir(&self) -> Option<&str> {
        self.text_extension(DATA_DIR_EXTENSION)
    }

    /// This spec with the run's directories as extensions (what the harness sends from 1.3 on):
    /// plugins find files through the task they are given, not through the process environment.
    pub fn with_directories(mut self, models_dir: Option<&str>, data_dir: Option<&str>) -> TaskSpec {
        for (name, dir) in [(MODELS_DIR_EXTENSION, models_dir), (DATA_DIR_EXTENSION, data_dir)] {
            if let Some(dir) = dir {
                self.extensions = self.extensions.with(name, ParamValue::Text(dir.into()));
            }
        }
        self
    }

    fn text_extension(&self, name: &str) -> Option<&str> {
        match self.extensions.get(name) {
            Some(ParamValue::Text(text)) => Some(text.as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing;
    use crate::TaskKind;

    #[test]
    fn the_run_directories_travel_as_extensions_and_are_absent_from_older_harnesses() {
        let plain = testing::standard_task(TaskKind::ImageSuperResolution);
        assert_eq!((plain.models_dir(), plain.data_dir()), (None, None));
        let told = plain.clone().with_directories(Some("/m"), Some("/d"));
        assert_eq!((told.models_dir(), told.data_dir()), (Some("/m"), Some("/d")));
        let again = told.with_directories(Some("/m2"), None);
        assert_eq!((again.models_dir(), again.data_dir()), (Some("/m2"), Some("/d")));
        assert_eq!(again.extensions.names().collect::<Vec<_>>(), ["data_dir", "models_dir"]);
    }
}
