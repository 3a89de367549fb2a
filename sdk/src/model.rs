//! The model object a plugin hands back: the FFI-safe trait the harness calls.

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult},
};

use crate::{OwnedTensor, PluginError, TensorView};

/// A restoration model built for one task, as the harness sees it.
///
/// Plugin authors implement [`crate::RestoreModel`] instead; [`crate::export_plugin!`] adapts it
/// and catches panics.
#[sabi_trait]
pub trait Model: Send {
    /// Restores `measurements` (`[n, m]`, on the task's device) into samples `[n, n_samples, d]`
    /// on the same device. Equal seeds give equal samples on one device.
    #[sabi(last_prefix_field)]
    fn restore(&mut self, measurements: &TensorView, n_samples: u32, seed: u64) -> RResult<OwnedTensor, PluginError>;
}

/// A boxed, type-erased [`Model`].
pub type ModelBox = Model_TO<'static, RBox<()>>;
