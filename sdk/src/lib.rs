/*!
The stable-ABI interface between the upbench harness and restoration-model plugins.

A plugin is a native library (`crate-type = ["cdylib", "rlib"]`) that the harness loads at run
time. It exports one root module, [`PluginModule`], with two entry points: [`metadata`] (what
the plugin is and which parameters it takes) and [`new_model`] (build a model for one benchmark
task). A model ([`Model`]) restores a batch of measurements into `n_samples` samples per
measurement, reproducibly for a given seed.

Plugin authors do not write those entry points by hand: they implement the ordinary Rust traits
[`Plugin`] and [`RestoreModel`] and call [`export_plugin!`], which wraps every call in
`catch_unwind` so that a panicking plugin becomes a [`PluginError::Panicked`], never a dead host.

Tensors cross the boundary without copies as [`TensorView`]s (data pointer, shape, strides in
elements, dtype, device: the fields of DLPack), kept alive by an [`OwnedTensor`]'s owner.

This crate has no libtorch dependency and does no I/O; a plugin may use tch (or anything else)
on its side.

# Example: a complete plugin

A deterministic "denoiser" that returns its measurement unchanged, on the CPU:

```
use upbench_sdk::{
    export_plugin, DType, OwnedTensor, Params, Plugin, PluginError, PluginMetadata,
    RestoreModel, TaskKind, TaskSpec, TensorView,
};

pub struct Identity;

impl Plugin for Identity {
    type Model = IdentityModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("identity", env!("CARGO_PKG_VERSION"), "returns y as x̂")
            .with_task_kinds(&[TaskKind::Denoising])
    }

    fn new_model(_params: &Params, task: &TaskSpec) -> Result<IdentityModel, PluginError> {
        if task.signal_dim != task.measurement_dim {
            return Err(PluginError::UnsupportedTask("needs as many measurements as unknowns".into()));
        }
        Ok(IdentityModel)
    }
}

pub struct IdentityModel;

impl RestoreModel for IdentityModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, _seed: u64) -> Result<OwnedTensor, PluginError> {
        let values = y.to_f64_vec()?; // CPU only; a tch plugin would wrap the view instead.
        let (n, d) = (y.shape[0], y.shape[1]);
        let mut out = Vec::with_capacity(values.len() * n_samples as usize);
        for row in values.chunks(d as usize) {
            for _ in 0..n_samples {
                out.extend_from_slice(row);
            }
        }
        OwnedTensor::from_f64_vec(out, &[n, i64::from(n_samples), d])
    }
}

export_plugin!(Identity);
// The plugin's own test (a `#[test]` function in tests/conformance.rs): every check the harness
// relies on, without the harness (`upbench check-plugin` runs the same on the built library).
fn meets_the_harness_contract() {
    use upbench_sdk::testing;
    let (params, task) = (testing::params_with::<Identity>(&[]), testing::standard_task(TaskKind::Denoising));
    testing::check_plugin(testing::module::<Identity>(), &params, &task).assert_passed();
}
# fn main() { meets_the_harness_contract(); }
```

Its own tests use the conformance kit in [`testing`], which checks outputs with the very
function the harness runs on every output ([`conformance::check_output`]); its pieces
([`testing::restore_checked`], [`testing::check_seeding`], the task builders) are public for
tests of your own.

# The ABI promise

This crate is versioned on its own (it is not the harness's version) and keeps this promise for
every 1.x release: **a plugin built against SDK 1.x.y loads in, and is scored by, every harness
built against any SDK 1.z.w**, older or newer.

- abi_stable checks it at load time: the major versions must be equal, and every type reachable
  from the root module must have a compatible layout. A plugin that fails is refused with one
  line naming its SDK version and the harness's, never loaded half-way.
- Everything reachable from the root module is either frozen for all of 1.x or built to grow:
  - [`PluginModule`] and the [`Model`] vtable are prefix types: a minor version appends entry
    points or methods after the `last_prefix_field`, and a reader built before them sees the
    field absent (`Option`) or runs the method's default body.
  - [`TaskSpec`], [`ImageTaskSpec`], [`PluginMetadata`] and [`ParamSpec`] cross by value and end
    with an [`Extensions`] point: a minor version adds named entries with documented defaults,
    and readers use the default when an entry is absent.
  - Enums that may gain variants are non-exhaustive: [`PluginError`] and [`ParamValue`] cross as
    abi_stable's [`NonExhaustive`](abi_stable::nonexhaustive_enum::NonExhaustive) wrappers
    ([`PluginError_NE`], [`ParamValue_NE`]); the field-less [`DType`], [`DeviceKind`] and
    [`ParamKind`] are bytes with named values; task kinds are strings ([`TaskKind`]).
  - Frozen for 1.x: [`TensorView`], [`OwnedTensor`], [`Device`], [`Params`], [`Param`],
    [`MixturePrior`], [`GaussianPrior`].
- Minor releases only append. Changing, removing or reordering anything is a new major version.
- The harness's tests hold the promise: a frozen copy of the SDK 1.0.0 sources (never edited) and
  a plugin built against it are loaded by the current harness and scored on a task; plugins built
  against a generated "next minor" SDK are loaded when they only append and refused, naming both
  versions, when they change a layout.

[`metadata`]: PluginModule::metadata
[`new_model`]: PluginModule::new_model
*/
#![warn(missing_docs)]
// Every `#[sabi_trait]` expands to impls that trip this lint; they are abi_stable's, not ours.
#![allow(non_local_definitions)]

pub mod conformance;
mod error;
pub mod export;
mod extension;
mod metadata;
mod model;
mod module;
mod params;
mod task;
mod tensor;
pub mod testing;

pub use error::{PluginError, PluginError_NE};
pub use export::{Plugin, RestoreModel};
pub use extension::Extensions;
pub use metadata::PluginMetadata;
pub use model::{Model, ModelBox, Model_TO};
pub use module::{PluginModule, PluginModuleRef};
pub use params::{Param, ParamKind, ParamSpec, ParamValue, ParamValue_NE, Params};
pub use task::{
    GaussianPrior, ImageTaskSpec, MixturePrior, TaskKind, TaskSpec, DATA_DIR_EXTENSION, MODELS_DIR_EXTENSION,
};
pub use tensor::{DType, Device, DeviceKind, OwnedTensor, TensorOwner, TensorOwnerBox, TensorOwner_TO, TensorView};

/// The abi_stable this SDK is built on, re-exported: [`export_plugin!`] expands through it, so a
/// plugin needs no abi_stable dependency of its own, and one that builds its own tensor owners
/// (`TensorOwner_TO::from_value(…, abi_stable::sabi_trait::TD_Opaque)`) uses the same version.
pub use abi_stable;
