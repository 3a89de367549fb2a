//! What a plugin is asked to solve: the [`TaskSpec`] handed to its constructor.

use std::fmt;
use std::str::FromStr;

use abi_stable::{
    std_types::{ROption, RString, RVec},
    StableAbi,
};

use crate::Device;

/// The restoration problems upbench poses.
///
/// It crosses the boundary as a string ([`TaskKind::as_str`]) so that later SDK versions can add
/// kinds without a layout change; plugins compare with [`TaskSpec::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Y = X + σW.
    Denoising,
    /// A subset of the coordinates observed, plus noise.
    Inpainting,
    /// Blur, then decimation, plus noise.
    SuperResolution,
}

impl TaskKind {
    /// Every kind this SDK version knows.
    pub const ALL: [TaskKind; 3] = [TaskKind::Denoising, TaskKind::Inpainting, TaskKind::SuperResolution];

    /// The name that crosses the boundary.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Denoising => "denoising",
            TaskKind::Inpainting => "inpainting",
            TaskKind::SuperResolution => "super-resolution",
        }
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
        TaskKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown task kind '{s}' (known: denoising, inpainting, super-resolution)"))
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

/// One benchmark task as a plugin sees it: Y = A·X + σ·W with W standard normal.
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
    /// σ, the standard deviation of the additive white Gaussian noise.
    pub noise_std: f64,
    /// The signal prior, when the task is exact (synthetic): a Gaussian or a Gaussian mixture.
    pub prior: ROption<MixturePrior>,
    /// Where measurements will live and where samples must be returned.
    pub device: Device,
}

impl TaskSpec {
    /// The task kind, if this SDK version knows it.
    pub fn kind(&self) -> Option<TaskKind> {
        self.kind.parse().ok()
    }
}
