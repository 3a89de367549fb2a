//! A failure recorded while the rest of the run went on: [`Failure`] and its [`Stage`].

use serde::{Deserialize, Serialize};

/// Where in the pipeline something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Loading a plugin library.
    Load,
    /// Building a task.
    Task,
    /// Resolving parameters or constructing a model.
    Configure,
    /// Running `restore`.
    Run,
    /// Estimating.
    Estimate,
    /// Writing a figure or report file.
    Report,
}

/// A failure recorded while the rest of the run went on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The stage.
    pub stage: Stage,
    /// The plugin (with its path) or task concerned.
    pub subject: String,
    /// The task, when the failure is specific to one.
    pub task: Option<String>,
    /// The full error message.
    pub message: String,
}
