//! The contract a model's `restore` output must meet, checked exactly as the harness checks it:
//! the harness calls [`check_output`] on every output before it reads a byte, and
//! [`crate::testing`] runs the same function in a plugin's own tests.

use std::fmt;

use crate::{Device, OwnedTensor, PluginError, TensorView};

/// How a plugin breaks the contract.
#[derive(Debug, Clone, PartialEq)]
pub enum ConformanceError {
    /// The plugin returned an error (or panicked).
    Plugin(PluginError),
    /// The view addresses memory its owner does not hold, or has an unknown dtype or device.
    Layout(String),
    /// The samples' shape is not `[n, n_samples, sample shape…]`.
    Shape {
        /// What the harness asked for.
        expected: Vec<i64>,
        /// What came back.
        found: Vec<i64>,
    },
    /// The samples are not on the measurements' device.
    Device {
        /// Where the samples are.
        samples: Device,
        /// Where the measurements are.
        measurements: Device,
    },
    /// A sample value is NaN or infinite (the first, in memory order of the logical layout).
    NonFinite {
        /// Its flat index in `[n, n_samples, …]` order.
        index: usize,
    },
    /// The same seed gave different samples: results would not be reproducible.
    Unreproducible,
    /// A configuration declared stochastic gave the same samples for different seeds.
    IgnoresSeed,
}

impl fmt::Display for ConformanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConformanceError::Plugin(e) => write!(f, "{e}"),
            ConformanceError::Layout(why) => f.write_str(why),
            ConformanceError::Shape { expected, found } => write!(f, "expected shape {expected:?}, got {found:?}"),
            ConformanceError::Device { samples, measurements } => {
                write!(f, "samples on {samples:?}, measurements on {measurements:?}")
            }
            ConformanceError::NonFinite { index } => write!(f, "sample value {index} is NaN or infinite"),
            ConformanceError::Unreproducible => f.write_str("the same seed gave different samples"),
            ConformanceError::IgnoresSeed => {
                f.write_str("a stochastic configuration gave the same samples for different seeds")
            }
        }
    }
}

impl std::error::Error for ConformanceError {}

impl From<PluginError> for ConformanceError {
    fn from(e: PluginError) -> Self {
        ConformanceError::Plugin(e)
    }
}

/// Checks `output` of `restore(measurements, n_samples, …)` before anything reads it: its view
/// inside the bytes its owner holds ([`OwnedTensor::validate`]), shape
/// `[n, n_samples, sample_shape…]` (`sample_shape` is `[d]` for exact tasks, `[C, H, W]` for
/// images) and the measurements' device. Finiteness needs the values: the harness checks it on
/// the device, [`crate::testing::restore_checked`] on the CPU.
pub fn check_output(
    output: &OwnedTensor,
    measurements: &TensorView,
    n_samples: u32,
    sample_shape: &[i64],
) -> Result<(), ConformanceError> {
    output.validate().map_err(|e| match e {
        PluginError::InvalidInput(why) => ConformanceError::Layout(why.into()),
        other => ConformanceError::Layout(other.to_string()),
    })?;
    let out = output.view();
    let n = measurements.shape.first().copied().unwrap_or(0);
    let expected: Vec<i64> = [n, i64::from(n_samples)].iter().chain(sample_shape).copied().collect();
    if out.shape.as_slice() != expected.as_slice() {
        return Err(ConformanceError::Shape { expected, found: out.shape.to_vec() });
    }
    if out.device != measurements.device {
        return Err(ConformanceError::Device { samples: out.device, measurements: measurements.device });
    }
    Ok(())
}
