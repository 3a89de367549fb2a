/*!
Write [upbench](https://docs.rs/upbench-sdk) plugins with [tch] (libtorch's Rust bindings).

A plugin is an [`upbench_sdk::Plugin`]; its model's `restore` receives the measurements as an SDK
[`TensorView`](upbench_sdk::TensorView) and returns samples as an
[`OwnedTensor`](upbench_sdk::OwnedTensor). This crate does the unsafe part between the two and
the libtorch chores, so a plugin is only its model:

- [`restore_with`]: the body of every tch `restore` — the measurements as a [`tch::Tensor`]
  without a copy, libtorch's generators seeded from the call's seed, no autograd, and the result
  handed back (copied only when it still aliases the harness's buffer).
- [`ImageTask`]: the tensor layout of image tasks (colours, the inpainting mask channel, a
  deterministic restoration repeated as K samples).
- [`bridge`]: the lower-level pieces ([`bridge::view_as_tensor`], [`bridge::tensor_into_owned`],
  device conversions) for plugins that need them.
- [`build::link_libtorch`]: the rpath and `libtorch_cuda` link recipe for the plugin's build
  script, without which binaries do not start or silently lose CUDA.
- [`tch`] and [`upbench_sdk`] re-exported at the exact versions this crate was built with, so
  `Cargo.toml` names only this crate:

```toml
[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
upbench-tch = "0.1"

[build-dependencies]
upbench-tch = { version = "0.1", default-features = false }
```

A deterministic ×1 "denoiser" that returns its input, complete:

```no_run
use upbench_tch::sdk::{export_plugin, OwnedTensor, Params, Plugin, PluginError, PluginMetadata,
                       RestoreModel, TaskKind, TaskSpec, TensorView};
use upbench_tch::{restore_with, ImageTask};

pub struct Identity;

impl Plugin for Identity {
    type Model = IdentityModel;
    fn metadata() -> PluginMetadata {
        PluginMetadata::new("identity", "0.1.0", "returns the noisy image")
            .with_task_kinds(&[TaskKind::ImageDenoising])
    }
    fn new_model(_: &Params, task: &TaskSpec) -> Result<IdentityModel, PluginError> {
        Ok(IdentityModel(ImageTask::from_spec(task, &[TaskKind::ImageDenoising])?))
    }
}

pub struct IdentityModel(ImageTask);

impl RestoreModel for IdentityModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _mask) = self.0.split(y)?;
            Ok(self.0.as_samples(&image, n_samples))
        })
    }
}

export_plugin!(Identity);
```

The `tensors` feature (on by default) holds everything but [`build`]; a build script depends on
this crate with `default-features = false` and compiles no libtorch.
*/
#![warn(missing_docs)]

pub mod build;

#[cfg(feature = "tensors")]
pub mod bridge;
#[cfg(feature = "tensors")]
mod image;
#[cfg(feature = "tensors")]
pub mod script;

#[cfg(feature = "tensors")]
pub use bridge::{restore_with, seed_generators};
#[cfg(feature = "tensors")]
pub use image::ImageTask;
#[cfg(feature = "tensors")]
pub use tch;
#[cfg(feature = "tensors")]
pub use upbench_sdk as sdk;
