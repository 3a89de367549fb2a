//! The one error type that crosses the plugin boundary.

use std::fmt;

use abi_stable::{nonexhaustive_enum::NonExhaustive, std_types::RString, StableAbi};

/// Why a plugin call failed.
///
/// Plugin code returns it as an ordinary Rust enum; it crosses the boundary as
/// [`PluginError_NE`], abi_stable's non-exhaustive wrapper, so that a later 1.x SDK can add
/// variants: a harness that meets a variant it does not know still prints the plugin's own
/// message (the wrapper carries the plugin's `Display`) and reads it as [`PluginError::Failed`].
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
#[sabi(kind(WithNonExhaustive(size = [usize; 12], traits(Debug, Clone, PartialEq, Display))))]
#[non_exhaustive]
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

impl From<PluginError> for PluginError_NE {
    fn from(err: PluginError) -> Self {
        NonExhaustive::new(err)
    }
}

impl From<PluginError_NE> for PluginError {
    /// The error as this SDK version knows it: a variant added by a later SDK becomes
    /// [`PluginError::Failed`] with the plugin's own message.
    fn from(wire: PluginError_NE) -> Self {
        match wire.as_enum() {
            Ok(known) => known.clone(),
            Err(_) => PluginError::Failed(wire.to_string().into()),
        }
    }
}

impl PluginError {
    /// Shorthand for [`PluginError::Failed`] from anything displayable (e.g. a tch error).
    pub fn failed(err: impl fmt::Display) -> Self {
        PluginError::Failed(err.to_string().into())
    }
}
