//! `espcn-x4`: ESPCN (Shi et al., CVPR 2016) for ×4 super-resolution, with the pretrained weights
//! of Nhat-Thanh/ESPCN-Pytorch (`espcn_x4.safetensors`). The network was trained on YCbCr images
//! in [0, 1], all three channels fed in: RGB measurements are converted before and after.

use image_kit::{colour, weights};
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::tch::nn::{self, Module};
use upbench_tch::{bridge::tch_device, restore_with, ImageTask};

/// The plugin.
pub struct Espcn;

impl Plugin for Espcn {
    type Model = EspcnModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("espcn-x4", env!("CARGO_PKG_VERSION"), "ESPCN ×4, pretrained (small real model)")
            .with_task_kinds(&[TaskKind::ImageSuperResolution])
            .with_param(ParamSpec::new(
                "weights",
                ParamValue::Text("espcn_x4.safetensors".into()),
                "safetensors file; relative names are looked up in the run's models directory (--models-dir)",
            ))
            .with_param(ParamSpec::new(
                "colour_space",
                ParamValue::Text("rgb".into()),
                "\"rgb\" (convert to YCbCr and back) or \"ycbcr\" (measurements already YCbCr)",
            ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = ImageTask::from_spec(task, &[TaskKind::ImageSuperResolution])?;
        if image.scale != 4 || image.channels != 3 {
            return Err(PluginError::Failed(
                format!(
                    "espcn-x4 needs ×4 RGB super-resolution; task '{}' is ×{} with {} channels",
                    task.name, image.scale, image.channels
                )
                .into(),
            ));
        }
        let convert = match params.text("colour_space")? {
            "rgb" => true,
            "ycbcr" => false,
            other => {
                return Err(PluginError::InvalidParameter {
                    name: "colour_space".into(),
                    reason: format!("'{other}' is neither \"rgb\" nor \"ycbcr\"").into(),
                })
            }
        };
        let mut vs = nn::VarStore::new(tch_device(task.device));
        let root = vs.root();
        let conv = |name: &str, i, o, k, padding| {
            nn::conv2d(&root / name, i, o, k, nn::ConvConfig { padding, ..Default::default() })
        };
        let (c1, c2, c3) = (conv("conv_1", 3, 64, 5, 2), conv("conv_2", 64, 32, 3, 1), conv("conv_3", 32, 48, 3, 1));
        weights::load(&mut vs, task, params.text("weights")?)?;
        let net = nn::seq().add(c1).add_fn(|x| x.tanh()).add(c2).add_fn(|x| x.tanh()).add(c3);
        Ok(EspcnModel { task: image, net, convert, _vs: vs })
    }
}

/// The network and its colour handling.
pub struct EspcnModel {
    task: ImageTask,
    net: nn::Sequential,
    convert: bool,
    _vs: nn::VarStore,
}

impl RestoreModel for EspcnModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _) = self.task.split(y)?;
            let input = if self.convert { colour::rgb_to_ycbcr(&image) } else { image };
            let out = self.net.forward(&input).pixel_shuffle(4).clamp(0.0, 1.0);
            let out = if self.convert { colour::ycbcr_to_rgb(&out).clamp(0.0, 1.0) } else { out };
            Ok(self.task.as_samples(&out, n_samples))
        })
    }
}

export_plugin!(Espcn);
