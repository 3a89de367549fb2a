//! `srresnet-x4`: the SRResNet generator of SRGAN (Ledig et al., CVPR 2017) for ×4
//! super-resolution, with krasserm/super-resolution's two checkpoints of the same network — the
//! MSE-trained SRResNet (`srresnet_mse_x4.safetensors`) and its adversarial fine-tuning with the
//! VGG54 content loss, SRGAN (`srgan_vgg54_x4.safetensors`) — and the perception–distortion knob
//! of ESRGAN §3.4 (Wang et al., 2018): network interpolation θ = (1 − α)·θ_MSE + α·θ_GAN over every
//! tensor (convolutions, BatchNorm affine parameters and running statistics, PReLU slopes).
//!
//! Conventions of the Keras original (see `../shared/models/README.md` §1): BatchNorm ε = 1e-3;
//! the network takes RGB/255 and returns `tanh` in [−1, 1], mapped to (y + 1)/2 here (the
//! original's (y + 1)·127.5 on 0..255). The output is clamped to [0, 1] but not rounded: the
//! harness rounds to 8 bits when it scores PSNR-Y/SSIM (the same integers as the original's
//! `resolve`), while the uncertainty and perception estimates see the network's own values, as
//! for every other upbench model.

use std::collections::HashMap;

use image_kit::precision::Precision;
use image_kit::tile::Tiling;
use image_kit::{sr_task, weights};
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::tch::nn::{self, ModuleT};
use upbench_tch::tch::Tensor;
use upbench_tch::{bridge::tch_device, restore_with, ImageTask};

/// Feature channels.
const FEATURES: i64 = 64;
/// Residual blocks.
const BLOCKS: i64 = 16;
/// Keras's BatchNormalization epsilon, which the weights were trained with.
const BN_EPS: f64 = 1e-3;
/// The network's receptive-field radius in input pixels (9×9 head: 4; 33 body convolutions: 33;
/// the first upsampling convolution: 1; the second at 2× and the 9×9 tail at 4×: 2 more, counted
/// over the pixel grid): the overlap that makes tiles exact.
const RADIUS: i64 = 40;

/// The plugin.
pub struct SrResNet;

impl Plugin for SrResNet {
    type Model = SrResNetModel;

    fn metadata() -> PluginMetadata {
        let [tile, overlap] = Tiling::param_specs(
            Tiling { tile: 0, overlap: RADIUS },
            "40 (the receptive-field radius) makes tiles exact",
        );
        PluginMetadata::new(
            "srresnet-x4",
            env!("CARGO_PKG_VERSION"),
            "SRResNet (α = 0) ↔ SRGAN-VGG54 (α = 1) ×4, krasserm weights, ESRGAN network interpolation",
        )
        .with_task_kinds(&[TaskKind::ImageSuperResolution])
        .with_param(ParamSpec::new(
            "alpha",
            ParamValue::Float(0.0),
            "interpolation weight in [0, 1]: θ = (1 − α)·θ_MSE + α·θ_GAN (0 = SRResNet-MSE, 1 = SRGAN-VGG54)",
        ))
        .with_param(ParamSpec::new(
            "mse_weights",
            ParamValue::Text("srresnet_mse_x4.safetensors".into()),
            "the MSE-trained generator (α = 0); relative names are looked up in the run's models directory (--models-dir)",
        ))
        .with_param(ParamSpec::new(
            "gan_weights",
            ParamValue::Text("srgan_vgg54_x4.safetensors".into()),
            "the GAN-trained generator (α = 1), same architecture; relative names are looked up in the run's models directory (--models-dir)",
        ))
        .with_param(tile)
        .with_param(overlap)
        .with_param(Precision::param_spec())
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = sr_task(task, "srresnet-x4", 4)?;
        let alpha = params.float("alpha")?;
        if !(0.0..=1.0).contains(&alpha) {
            return Err(PluginError::InvalidParameter {
                name: "alpha".into(),
                reason: format!("{alpha} is outside [0, 1] (0 = SRResNet-MSE, 1 = SRGAN-VGG54)").into(),
            });
        }
        let tiling = Tiling::from_params(params)?;
        let device = tch_device(task.device);
        let precision = Precision::from_params(params, device)?;
        let mut vs = nn::VarStore::new(device);
        let net = Generator::new(&vs.root());
        let (_, mse) = weights::read_checked(&vs, task, params.text("mse_weights")?)?;
        let (_, gan) = weights::read_checked(&vs, task, params.text("gan_weights")?)?;
        // interpolated in float32, as stored, before any change of precision
        weights::assign(&mut vs, &interpolate(&mse, &gan, alpha))?;
        precision.prepare(&mut vs);
        vs.freeze();
        Ok(SrResNetModel { task: image, net, tiling, precision, _vs: vs })
    }
}

/// θ = (1 − α)·θ_MSE + α·θ_GAN for every tensor, in float32 as the weights are stored: at α = 0
/// the products are 1·θ_MSE and ±0, at α = 1 they are ±0 and 1·θ_GAN, so the two ends are the
/// checkpoints bit for bit.
pub fn interpolate(
    mse: &HashMap<String, Tensor>,
    gan: &HashMap<String, Tensor>,
    alpha: f64,
) -> HashMap<String, Tensor> {
    mse.iter().map(|(name, a)| (name.clone(), a * (1.0 - alpha) + &gan[name] * alpha)).collect()
}

/// conv → BatchNorm (inference, ε = 1e-3).
#[derive(Debug)]
struct ConvBn {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl ConvBn {
    fn new(vs: &nn::Path, conv: &str, bn: &str) -> ConvBn {
        let padded = nn::ConvConfig { padding: 1, ..Default::default() };
        let eps = nn::BatchNormConfig { eps: BN_EPS, ..Default::default() };
        ConvBn {
            conv: nn::conv2d(vs / conv, FEATURES, FEATURES, 3, padded),
            bn: nn::batch_norm2d(vs / bn, FEATURES, eps),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.apply(&self.conv).apply_t(&self.bn, false)
    }
}

/// One residual block: x + BN2(conv2(PReLU(BN1(conv1(x))))).
#[derive(Debug)]
struct Block {
    first: ConvBn,
    prelu: Tensor,
    second: ConvBn,
}

/// The SRResNet / SRGAN generator with krasserm's tensor names (README §1).
#[derive(Debug)]
struct Generator {
    head: nn::Conv2D,
    head_prelu: Tensor,
    body: Vec<Block>,
    body_end: ConvBn,
    up: Vec<(nn::Conv2D, Tensor)>,
    tail: nn::Conv2D,
}

impl Generator {
    fn new(vs: &nn::Path) -> Generator {
        let conv = |path: nn::Path, i, o, k: i64| {
            nn::conv2d(path, i, o, k, nn::ConvConfig { padding: k / 2, ..Default::default() })
        };
        let prelu = |path: nn::Path| path.var("weight", &[FEATURES], nn::Init::Const(0.25));
        let body = (0..BLOCKS)
            .map(|i| {
                let block = vs / "body" / i;
                Block {
                    first: ConvBn::new(&block, "conv1", "bn1"),
                    prelu: prelu(&block / "prelu"),
                    second: ConvBn::new(&block, "conv2", "bn2"),
                }
            })
            .collect();
        let up = (0..2)
            .map(|i| {
                let stage = vs / "up" / i;
                (conv(&stage / "conv", FEATURES, 4 * FEATURES, 3), prelu(&stage / "prelu"))
            })
            .collect();
        Generator {
            head: conv(vs / "head" / "conv", 3, FEATURES, 9),
            head_prelu: prelu(vs / "head" / "prelu"),
            body,
            body_end: ConvBn::new(&(vs / "body_end"), "conv", "bn"),
            up,
            tail: conv(vs / "tail" / "conv", FEATURES, 3, 9),
        }
    }
}

impl ModuleT for Generator {
    /// RGB in [0, 1] (the original's RGB/255) → RGB in [0, 1], unclamped.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let head = x.apply(&self.head).prelu(&self.head_prelu);
        let mut h = head.shallow_clone();
        for block in &self.body {
            let r = block.second.forward(&block.first.forward(&h).prelu(&block.prelu));
            // not `h += r`: that adds in place, into `head` too while `h` shares its storage
            h = r + &h;
        }
        let mut h = head + self.body_end.forward(&h);
        for (conv, prelu) in &self.up {
            h = h.apply(conv).pixel_shuffle(2).prelu(prelu);
        }
        (h.apply(&self.tail).tanh() + 1.0) * 0.5
    }
}

/// The interpolated network, how to tile, and in which precision to compute.
pub struct SrResNetModel {
    task: ImageTask,
    net: Generator,
    tiling: Tiling,
    precision: Precision,
    _vs: nn::VarStore,
}

impl RestoreModel for SrResNetModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _) = self.task.split(y)?;
            let out = self.tiling.run(&image, 4, |x| Ok(self.precision.run(x, |x| self.net.forward_t(x, false))))?;
            Ok(self.task.as_samples(&out.clamp(0.0, 1.0), n_samples))
        })
    }
}

export_plugin!(SrResNet);

#[cfg(test)]
mod tests {
    use super::*;
    use upbench_tch::tch::{Device, Kind};

    #[test]
    fn the_interpolation_ends_are_the_checkpoints_bit_for_bit() {
        let (a, b) =
            (Tensor::randn([1000], (Kind::Float, Device::Cpu)), Tensor::randn([1000], (Kind::Float, Device::Cpu)));
        let mse = HashMap::from([("w".to_string(), a.shallow_clone())]);
        let gan = HashMap::from([("w".to_string(), b.shallow_clone())]);
        assert!(interpolate(&mse, &gan, 0.0)["w"].equal(&a));
        assert!(interpolate(&mse, &gan, 1.0)["w"].equal(&b));
        let mid = &interpolate(&mse, &gan, 0.25)["w"] - (&a * 0.75 + &b * 0.25);
        assert!(mid.abs().max().double_value(&[]) < 1e-6);
    }
}

#[cfg(test)]
mod pure_ends {
    //! α = 0 and α = 1 give the two checkpoints' networks bit for bit: the interpolated model's
    //! output equals that of a network loaded from one file alone.
    use super::*;
    use upbench_sdk::testing;
    use upbench_tch::tch::{Device, Kind};

    #[test]
    fn the_ends_of_the_knob_are_the_pure_models_bit_for_bit() {
        let _no_grad = upbench_tch::tch::no_grad_guard();
        let x = Tensor::rand([1, 3, 20, 24], (Kind::Float, Device::Cpu));
        let models = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models");
        let task = testing::standard_task(TaskKind::ImageSuperResolution).with_directories(Some(models), None);
        for (alpha, file) in [(0.0, "srresnet_mse_x4.safetensors"), (1.0, "srgan_vgg54_x4.safetensors")] {
            let params = testing::params_with::<SrResNet>(&[("alpha", ParamValue::Float(alpha))]);
            let knob = SrResNet::new_model(&params, &task).unwrap();
            let mut vs = nn::VarStore::new(Device::Cpu);
            let pure = Generator::new(&vs.root());
            weights::load_checked(&mut vs, &task, file).unwrap();
            let (a, b) = (knob.net.forward_t(&x, false), pure.forward_t(&x, false));
            assert!(a.equal(&b), "α = {alpha}: max |Δ| {}", (a - b).abs().max().double_value(&[]));
        }
        // and the middle is neither
        let params = testing::params_with::<SrResNet>(&[("alpha", ParamValue::Float(0.5))]);
        let mid = SrResNet::new_model(&params, &task).unwrap().net.forward_t(&x, false);
        let ends = [0.0, 1.0].map(|alpha| {
            let params = testing::params_with::<SrResNet>(&[("alpha", ParamValue::Float(alpha))]);
            SrResNet::new_model(&params, &task).unwrap().net.forward_t(&x, false)
        });
        for end in &ends {
            assert!((&mid - end).abs().max().double_value(&[]) > 1e-3);
        }
    }
}
