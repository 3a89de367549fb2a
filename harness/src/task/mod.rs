//! Stage 2: build the benchmark tasks a suite names.
//!
//! An exact task is a linear-Gaussian problem Y = A·X + σ·W, X ~ N(0, Σx) ([`PriorConfig`],
//! [`OperatorConfig`]) whose posterior is known in closed form, so every quantity the harness
//! reports can be checked: [`ExactTask`] holds it, [`ExactTask::sample`] draws observations and
//! ground truths on the run's device, and [`TaskSamples::chunk`] exact posterior draws.

mod exact;
pub mod images;
mod inherent;
mod operator;
mod prior;

pub use exact::{ExactTask, ObservationChunk, TaskSamples};
pub use inherent::InherentUncertainty;
pub use operator::OperatorConfig;
pub use prior::{PriorComponent, PriorConfig};

use serde::{Deserialize, Serialize};

/// Why a task could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task's settings are out of range or inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// A libtorch operation failed.
    #[error("numerical failure while building the task: {0}")]
    Numeric(String),
}

impl From<tch::TchError> for TaskError {
    fn from(e: tch::TchError) -> Self {
        TaskError::Numeric(e.to_string())
    }
}

/// Ready-made tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// The paper's Example 1: scalar denoising, X ~ N(0, 1), Y = X + W, W ~ N(0, σ²)
    /// (σ = 1 unless an operator is given), N(X|Y) = σ²/(1 + σ²).
    #[serde(rename = "example-1")]
    Example1,
}

/// One `[[task]]` of a suite file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Unique name within the suite.
    pub name: String,
    /// A ready-made task; `dim`, `prior` and `operator` then default to the preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// d, the signal dimension (1 to a few thousand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// The prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<PriorConfig>,
    /// The operator and its noise level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorConfig>,
}

/// Largest supported d: the harness holds d × d matrices and K × d samples per observation.
pub const MAX_DIM: usize = 4096;

impl TaskConfig {
    /// Dimension, prior and operator, with the preset's defaults filled in.
    pub fn resolve(&self) -> Result<(usize, PriorConfig, OperatorConfig), TaskError> {
        let (dim, prior, operator) = match self.preset {
            Some(Preset::Example1) => (
                Some(self.dim.unwrap_or(1)),
                Some(self.prior.clone().unwrap_or(PriorConfig::Identity { variance: 1.0 })),
                Some(self.operator.clone().unwrap_or(OperatorConfig::Denoising { noise_std: 1.0 })),
            ),
            None => (self.dim, self.prior.clone(), self.operator.clone()),
        };
        let missing = |what: &str| TaskError::Invalid(format!("task '{}' needs `{what}` (or a `preset`)", self.name));
        let dim = dim.ok_or_else(|| missing("dim"))?;
        if dim == 0 || dim > MAX_DIM {
            return Err(TaskError::Invalid(format!(
                "task '{}': dim must be between 1 and {MAX_DIM}, got {dim}",
                self.name
            )));
        }
        Ok((dim, prior.ok_or_else(|| missing("prior"))?, operator.ok_or_else(|| missing("operator"))?))
    }
}
