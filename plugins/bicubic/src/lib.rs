//! `bicubic`: the super-resolution baseline every SR paper reports, MATLAB's
//! `imresize(y, s, 'bicubic')` on floating-point pixels (no 8-bit rounding). Deterministic.

use image_kit::resample::upsample_bicubic;
use upbench_sdk::{
    export_plugin, OwnedTensor, Params, Plugin, PluginError, PluginMetadata, RestoreModel, TaskKind, TaskSpec,
    TensorView,
};
use upbench_tch::{restore_with, ImageTask};

/// The plugin.
pub struct Bicubic;

impl Plugin for Bicubic {
    type Model = BicubicModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("bicubic", env!("CARGO_PKG_VERSION"), "bicubic upsampling as MATLAB imresize (baseline)")
            .with_task_kinds(&[TaskKind::ImageSuperResolution])
    }

    fn new_model(_params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        Ok(BicubicModel { task: ImageTask::from_spec(task, &[TaskKind::ImageSuperResolution])? })
    }
}

/// Bicubic upsampling by the task's factor.
pub struct BicubicModel {
    task: ImageTask,
}

impl RestoreModel for BicubicModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _) = self.task.split(y)?;
            let up = upsample_bicubic(&image, self.task.scale).clamp(0.0, 1.0);
            Ok(self.task.as_samples(&up, n_samples))
        })
    }
}

export_plugin!(Bicubic);
