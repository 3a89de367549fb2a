//! The model object a plugin hands back: the FFI-safe trait the harness calls.

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult},
};

use crate::{OwnedTensor, PluginError_NE, TensorView};

/// A restoration model built for one task, as the harness sees it.
///
/// Plugin authors implement [`crate::RestoreModel`] instead; [`crate::export_plugin!`] adapts it
/// and catches panics. The vtable is a prefix type: a later 1.x SDK appends methods after
/// `stochastic`, each with a default body that the harness runs for models built before it.
#[sabi_trait]
pub trait Model: Send {
    /// Restores `measurements` (`[n, m]`, on the task's device) into samples `[n, n_samples, d]`
    /// on the same device. Equal seeds give equal samples on one device.
    fn restore(&mut self, measurements: &TensorView, n_samples: u32, seed: u64)
        -> RResult<OwnedTensor, PluginError_NE>;

    /// Whether this configuration's samples for one measurement differ from each other. The
    /// harness asks a deterministic one for a single sample per measurement and judges it as
    /// deterministic; it never believes `true` from a plugin whose metadata says deterministic.
    #[sabi(last_prefix_field)]
    fn stochastic(&self) -> bool;
}

/// A boxed, type-erased [`Model`].
pub type ModelBox = Model_TO<'static, RBox<()>>;
