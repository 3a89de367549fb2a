//! The one error type that crosses the plugin boundary.

use std::fmt;

use abi_stable::{std_types::RString, StableAbi};

/// Why a plugin call failed. Every entry point returns `RResult<_, PluginError>`.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub enum PluginError {
    /// A parameter is out of range or inconsistent with another one.
    InvalidParameter {
        /// The parameter's name, as in the plugin's metadata.
        name: RString,
        /// What is wrong with its value.
        reason: RString,
    },
    /// The plugin cannot handle this task (kind, dimension, operator, missing prior…).
    UnsupportedTask(RString),
    /// The measurements handed to `restore` are not what the plugin can use.
    InvalidInput(RString),
    /// Any other failure inside the plugin.
    Failed(RString),
    /// The plugin panicked; the payload's message, caught by the export wrapper.
    Panicked(RString),
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::InvalidParameter { name, reason } => {
                write!(f, "invalid parameter '{name}': {reason}")
            }
            PluginError::UnsupportedTask(why) => write!(f, "unsupported task: {why}"),
            PluginError::InvalidInput(why) => write!(f, "invalid input: {why}"),
            PluginError::Failed(why) => write!(f, "{why}"),
            PluginError::Panicked(msg) => write!(f, "plugin panicked: {msg}"),
        }
    }
}

impl std::error::Error for PluginError {}

impl PluginError {
    /// Shorthand for [`PluginError::Failed`] from anything displayable (e.g. a tch error).
    pub fn failed(err: impl fmt::Display) -> Self {
        PluginError::Failed(err.to_string().into())
    }
}
