//! The tensor layout of image tasks (see [`upbench_sdk::ImageTaskSpec`]): what an image task asks
//! for, its measurements split into image and mask, and a deterministic result as samples.

use tch::{Kind, Tensor};
use upbench_sdk::{PluginError, TaskKind, TaskSpec};

/// An image task as a plugin needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageTask {
    /// The image kind.
    pub kind: TaskKind,
    /// C: colour channels of the ground truth.
    pub channels: i64,
    /// The super-resolution factor (1 for denoising and inpainting).
    pub scale: i64,
    /// σ on the [0, 1] pixel scale.
    pub noise_std: f64,
}

impl ImageTask {
    /// Reads an image task from `task`, refusing exact tasks and kinds outside `supported`.
    pub fn from_spec(task: &TaskSpec, supported: &[TaskKind]) -> Result<ImageTask, PluginError> {
        let kind = task.kind().filter(|k| supported.contains(k)).ok_or_else(|| {
            PluginError::Failed(
                format!("task '{}' is of kind '{}', which this plugin does not solve", task.name, task.kind).into(),
            )
        })?;
        let layout = task
            .image
            .as_ref()
            .into_option()
            .ok_or_else(|| PluginError::Failed(format!("task '{}' has no image layout", task.name).into()))?;
        if layout.channels == 0 || layout.scale == 0 {
            return Err(PluginError::Failed(
                format!("task '{}': channels and scale must be positive, got {layout:?}", task.name).into(),
            ));
        }
        Ok(ImageTask {
            kind,
            channels: i64::from(layout.channels),
            scale: i64::from(layout.scale),
            noise_std: task.noise_std,
        })
    }

    /// Splits measurements `[n, C(+1), h, w]` into the image (float32) and, for inpainting, the
    /// mask `[n, 1, h, w]` (1 = observed).
    pub fn split(&self, measurements: &Tensor) -> Result<(Tensor, Option<Tensor>), PluginError> {
        let size = measurements.size();
        let with_mask = self.kind == TaskKind::ImageInpainting;
        let want_channels = self.channels + i64::from(with_mask);
        if size.len() != 4 || size[1] != want_channels {
            return Err(PluginError::Failed(
                format!("expected measurements [n, {want_channels}, h, w], got {size:?}").into(),
            ));
        }
        let y = measurements.to_kind(Kind::Float);
        if with_mask {
            Ok((y.narrow(1, 0, self.channels), Some(y.narrow(1, self.channels, 1))))
        } else {
            Ok((y, None))
        }
    }

    /// Repeats one restoration per measurement `[n, C, H, W]` as the `[n, K, C, H, W]` samples
    /// the harness expects from a deterministic model.
    pub fn as_samples(&self, restored: &Tensor, n_samples: u32) -> Tensor {
        restored.unsqueeze(1).expand([-1, i64::from(n_samples), -1, -1, -1], false)
    }
}
