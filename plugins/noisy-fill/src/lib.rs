//! `noisy-fill`: the stochastic inpainting baseline. Every hidden pixel is drawn independently
//! from N(m, s²), m and s the mean and standard deviation, per channel, of the observed pixels
//! within `ring` pixels of the hole. It knows nothing of structure: a floor that any real
//! inpainter should beat on distortion, with the perception and uncertainty of white noise.

use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::tch::{Kind, Tensor};
use upbench_tch::{restore_with, ImageTask};

/// The plugin.
pub struct NoisyFill;

impl Plugin for NoisyFill {
    type Model = NoisyFillModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "noisy-fill",
            env!("CARGO_PKG_VERSION"),
            "hole filled with noise matching the ring around it",
        )
        .with_task_kinds(&[TaskKind::ImageInpainting])
        .stochastic()
        .with_param(ParamSpec::new(
            "ring",
            ParamValue::Int(8),
            "width in pixels of the observed ring whose statistics fill the hole",
        ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let ring = params.int("ring")?;
        if !(1..=256).contains(&ring) {
            return Err(PluginError::InvalidParameter {
                name: "ring".into(),
                reason: format!("{ring} is outside 1..=256").into(),
            });
        }
        Ok(NoisyFillModel { task: ImageTask::from_spec(task, &[TaskKind::ImageInpainting])?, ring })
    }
}

/// The ring width.
pub struct NoisyFillModel {
    task: ImageTask,
    ring: i64,
}

impl RestoreModel for NoisyFillModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, mask) = self.task.split(y)?;
            let observed = mask.ok_or_else(|| PluginError::Failed("inpainting measurements carry no mask".into()))?;
            let hidden: Tensor = 1.0 - &observed;
            let k = 2 * self.ring + 1;
            let near = hidden.max_pool2d([k, k], [1, 1], [self.ring, self.ring], [1, 1], false);
            let ring = (&near * &observed).to_kind(Kind::Double);
            let count = ring.sum_dim_intlist([2, 3].as_slice(), true, Kind::Double).clamp_min(1.0);
            let x = image.to_kind(Kind::Double);
            let mean = (&x * &ring).sum_dim_intlist([2, 3].as_slice(), true, Kind::Double) / &count;
            let var = ((&x - &mean).square() * &ring).sum_dim_intlist([2, 3].as_slice(), true, Kind::Double) / &count;
            let size = x.size();
            let noise =
                Tensor::randn([size[0], i64::from(n_samples), size[1], size[2], size[3]], (Kind::Double, x.device()));
            let fill = mean.unsqueeze(1) + noise * var.sqrt().unsqueeze(1);
            let hidden = hidden.to_kind(Kind::Double).unsqueeze(1);
            let kept: Tensor = x.unsqueeze(1) * (1.0 - &hidden);
            Ok((kept + fill * hidden).to_kind(Kind::Float))
        })
    }
}

export_plugin!(NoisyFill);
