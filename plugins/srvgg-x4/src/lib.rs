//! `srvgg-x4`: Real-ESRGAN's SRVGGNetCompact (Wang et al., 2021) for ×4 super-resolution, with
//! the GAN-trained `realesr-animevideov3` weights (`realesr_animevideov3_x4.safetensors`): a
//! perceptual model, sharp and hallucinating, the kind the uncertainty–perception bound is about.

use image_kit::weights;
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::tch::nn::{self, Module};
use upbench_tch::tch::Tensor;
use upbench_tch::{bridge::tch_device, restore_with, ImageTask};

/// Body convolutions between the first and the last.
const BODY_CONVS: i64 = 16;
const FEATURES: i64 = 64;

/// The plugin.
pub struct Srvgg;

impl Plugin for Srvgg {
    type Model = SrvggModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("srvgg-x4", env!("CARGO_PKG_VERSION"), "Real-ESRGAN compact ×4, GAN-trained (perceptual)")
            .with_task_kinds(&[TaskKind::ImageSuperResolution])
            .with_param(ParamSpec::new(
                "weights",
                ParamValue::Text("realesr_animevideov3_x4.safetensors".into()),
                "safetensors file; relative names are looked up in the run's models directory (--models-dir)",
            ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = ImageTask::from_spec(task, &[TaskKind::ImageSuperResolution])?;
        if image.scale != 4 || image.channels != 3 {
            return Err(PluginError::Failed(
                format!(
                    "srvgg-x4 needs ×4 RGB super-resolution; task '{}' is ×{} with {} channels",
                    task.name, image.scale, image.channels
                )
                .into(),
            ));
        }
        let mut vs = nn::VarStore::new(tch_device(task.device));
        let body = vs.root() / "body";
        let conv =
            |index: i64, i, o| nn::conv2d(&body / index, i, o, 3, nn::ConvConfig { padding: 1, ..Default::default() });
        let prelu = |index: i64| {
            let weight = (&body / index).var("weight", &[FEATURES], nn::Init::Const(0.25));
            move |x: &Tensor| x.prelu(&weight)
        };
        let mut net = nn::seq().add(conv(0, 3, FEATURES)).add_fn(prelu(1));
        for layer in 0..BODY_CONVS {
            net = net.add(conv(2 + 2 * layer, FEATURES, FEATURES)).add_fn(prelu(3 + 2 * layer));
        }
        let net = net.add(conv(2 + 2 * BODY_CONVS, FEATURES, 3 * 16));
        weights::load(&mut vs, task, params.text("weights")?)?;
        Ok(SrvggModel { task: image, net, _vs: vs })
    }
}

/// The network.
pub struct SrvggModel {
    task: ImageTask,
    net: nn::Sequential,
    _vs: nn::VarStore,
}

impl RestoreModel for SrvggModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _) = self.task.split(y)?;
            let residual = self.net.forward(&image).pixel_shuffle(4);
            let base = image.repeat_interleave_self_int(4, Some(2), None).repeat_interleave_self_int(4, Some(3), None);
            Ok(self.task.as_samples(&(residual + base).clamp(0.0, 1.0), n_samples))
        })
    }
}

export_plugin!(Srvgg);
