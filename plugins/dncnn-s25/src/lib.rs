//! `dncnn-s25`: DnCNN-S (Zhang et al., TIP 2017) for additive Gaussian noise of σ = 25 grey
//! levels, with the authors' PyTorch weights (`dncnn_sigma25.safetensors`). The network predicts
//! the noise; colour images are denoised channel by channel (the noise is independent across
//! channels, the model was trained on grey images).

use image_kit::weights;
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::tch::nn::{self, ModuleT};
use upbench_tch::tch::Tensor;
use upbench_tch::{bridge::tch_device, restore_with, ImageTask};

/// The noise level the weights were trained for, on the [0, 1] scale.
pub const TRAINED_SIGMA: f64 = 25.0 / 255.0;
const FEATURES: i64 = 64;
const MIDDLE_LAYERS: i64 = 15;

/// The plugin.
pub struct Dncnn;

impl Plugin for Dncnn {
    type Model = DncnnModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("dncnn-s25", env!("CARGO_PKG_VERSION"), "DnCNN-S for σ = 25 noise, pretrained")
            .with_task_kinds(&[TaskKind::ImageDenoising])
            .with_param(ParamSpec::new(
                "weights",
                ParamValue::Text("dncnn_sigma25.safetensors".into()),
                "safetensors file; relative names are looked up in the run's models directory (--models-dir)",
            ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = ImageTask::from_spec(task, &[TaskKind::ImageDenoising])?;
        if (image.noise_std - TRAINED_SIGMA).abs() > 1e-9 {
            return Err(PluginError::Failed(
                format!(
                    "dncnn-s25 is trained for σ = 25/255; task '{}' has σ = {:.4} ({:.2} grey levels)",
                    task.name,
                    image.noise_std,
                    image.noise_std * 255.0
                )
                .into(),
            ));
        }
        let mut vs = nn::VarStore::new(tch_device(task.device));
        let root = vs.root() / "dncnn";
        let conv = |index: i64, i, o, bias| {
            nn::conv2d(&root / index, i, o, 3, nn::ConvConfig { padding: 1, bias, ..Default::default() })
        };
        let mut net = nn::seq_t().add(conv(0, 1, FEATURES, true)).add_fn(|x| x.relu());
        for layer in 0..MIDDLE_LAYERS {
            let index = 2 + 3 * layer;
            let bn = nn::batch_norm2d(
                &root / (index + 1),
                FEATURES,
                nn::BatchNormConfig { eps: 1e-4, ..Default::default() },
            );
            net = net.add(conv(index, FEATURES, FEATURES, false)).add(bn).add_fn(|x| x.relu());
        }
        let net = net.add(conv(2 + 3 * MIDDLE_LAYERS, FEATURES, 1, false));
        weights::load(&mut vs, task, params.text("weights")?)?;
        Ok(DncnnModel { task: image, net, _vs: vs })
    }
}

/// The network.
pub struct DncnnModel {
    task: ImageTask,
    net: nn::SequentialT,
    _vs: nn::VarStore,
}

impl DncnnModel {
    fn denoise(&self, noisy: &Tensor) -> Tensor {
        let size = noisy.size();
        let grey = noisy.reshape([size[0] * size[1], 1, size[2], size[3]]);
        (&grey - self.net.forward_t(&grey, false)).reshape(size.as_slice())
    }
}

impl RestoreModel for DncnnModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (noisy, _) = self.task.split(y)?;
            Ok(self.task.as_samples(&self.denoise(&noisy), n_samples))
        })
    }
}

export_plugin!(Dncnn);
