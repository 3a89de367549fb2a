//! `rfdn-x4`: RFDN, the Residual Feature Distillation Network (Liu, Tang and Wu, ECCV Workshops
//! 2020), with the checkpoint that won the AIM 2020 efficient-SR challenge (njulj/RFDN
//! `RFDN_AIM.pth`: four distillation blocks with enhanced spatial attention, 50 channels, 433 k
//! parameters; `rfdn_x4.safetensors`, README §2b of `../shared/models`).
//!
//! **Input in 0..255**: the checkpoint was trained on 8-bit values as floats (its `test.py` does
//! not divide by 255), so the plugin multiplies the task's [0, 1] measurements by 255 and divides
//! the output by 255 before clamping to [0, 1] (the harness rounds to 8 bits when it scores).
//!
//! **Small inputs are padded.** Each block's attention (ESA) convolves with stride 2 and no
//! padding, then max-pools 7×7 with stride 3: it needs an input of at least 15×15. A smaller
//! input (or tile) is extended to 15 pixels on the bottom and right by replicating its last row
//! and column, and the output is cropped back to ×4 the original size.
//!
//! **Tiles are approximate.** ESA pools over the whole input and resizes the pooled map back
//! bilinearly, so every output pixel depends a little on the whole image: with `tile` > 0 the
//! output differs from the whole-image output (less the larger the overlap). Measured on Set5's
//! stored LR (`rrdb_tiling_sweep` in `harness/tests/sr_models.rs` with `TILING_PLUGIN=rfdn-x4`):
//! tiles of 32 with overlap 16 move the output by up to 0.068 (17 grey levels) and an image's
//! PSNR-Y by up to 0.040 dB; overlap 32: 0.026 (7 levels), 0.007 dB; tiles of 64 with overlap 32:
//! 0.032 (8 levels), 0.007 dB. The default is the whole image (`tile` = 0).

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
const FEATURES: i64 = 50;
/// Distilled channels (half the features).
const DISTILLED: i64 = 25;
/// ESA's reduced channels.
const ESA: i64 = 12;
/// The smallest input side ESA's stride-2 convolution and 7×7 pooling accept.
pub const MIN_SIDE: i64 = 15;

/// The plugin.
pub struct Rfdn;

impl Plugin for Rfdn {
    type Model = RfdnModel;

    fn metadata() -> PluginMetadata {
        let [tile, overlap] = Tiling::param_specs(
            Tiling { tile: 0, overlap: 32 },
            "tiles are never exact for RFDN (its attention pools over the whole input); the local radius is 19",
        );
        PluginMetadata::new("rfdn-x4", env!("CARGO_PKG_VERSION"), "RFDN ×4, AIM 2020 checkpoint (PSNR-oriented)")
            .with_task_kinds(&[TaskKind::ImageSuperResolution])
            .with_param(ParamSpec::new(
                "weights",
                ParamValue::Text("rfdn_x4.safetensors".into()),
                "safetensors file (njulj/RFDN names); relative names are looked up in the run's models directory (--models-dir)",
            ))
            .with_param(tile)
            .with_param(overlap)
            .with_param(Precision::param_spec())
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = sr_task(task, "rfdn-x4", 4)?;
        let tiling = Tiling::from_params(params)?;
        let device = tch_device(task.device);
        let precision = Precision::from_params(params, device)?;
        let mut vs = nn::VarStore::new(device);
        let net = RfdnNet::new(&vs.root());
        weights::load_checked(&mut vs, task, params.text("weights")?)?;
        precision.prepare(&mut vs);
        vs.freeze();
        Ok(RfdnModel { task: image, net, tiling, precision, _vs: vs })
    }
}

fn conv(vs: nn::Path, i: i64, o: i64, k: i64) -> nn::Conv2D {
    nn::conv2d(vs, i, o, k, nn::ConvConfig { padding: k / 2, ..Default::default() })
}

/// LeakyReLU with slope 0.05: `x` where positive, `0.05·x` elsewhere (tch's `leaky_relu` has
/// its slope fixed at 0.01).
fn act(x: &Tensor) -> Tensor {
    x.maximum(&(x * 0.05))
}

/// Enhanced spatial attention (f = 12): a mask computed from a strided, max-pooled, bilinearly
/// resized map of the whole input, multiplied onto it.
#[derive(Debug)]
struct Esa {
    conv1: nn::Conv2D,
    conv_f: nn::Conv2D,
    conv_max: nn::Conv2D,
    conv2: nn::Conv2D,
    conv3: nn::Conv2D,
    conv3_: nn::Conv2D,
    conv4: nn::Conv2D,
}

impl Esa {
    fn new(vs: nn::Path) -> Esa {
        let strided = nn::ConvConfig { stride: 2, padding: 0, ..Default::default() };
        Esa {
            conv1: conv(&vs / "conv1", FEATURES, ESA, 1),
            conv_f: conv(&vs / "conv_f", ESA, ESA, 1),
            conv_max: conv(&vs / "conv_max", ESA, ESA, 3),
            conv2: nn::conv2d(&vs / "conv2", ESA, ESA, 3, strided),
            conv3: conv(&vs / "conv3", ESA, ESA, 3),
            conv3_: conv(&vs / "conv3_", ESA, ESA, 3),
            conv4: conv(&vs / "conv4", ESA, FEATURES, 1),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (h, w) = (x.size()[2], x.size()[3]);
        let c1_ = x.apply(&self.conv1);
        let c1 = c1_.apply(&self.conv2);
        let v = c1.max_pool2d([7, 7], [3, 3], [0, 0], [1, 1], false).apply(&self.conv_max).relu();
        let c3 = v.apply(&self.conv3).relu().apply(&self.conv3_);
        let c3 = c3.upsample_bilinear2d([h, w], false, None, None);
        let cf = c1_.apply(&self.conv_f);
        let m = (c3 + cf).apply(&self.conv4).sigmoid();
        x * m
    }
}

/// A residual feature distillation block: three distill/refine steps, a last 3×3 refinement, a
/// 1×1 fusion of the four distilled maps, then ESA (no block-level residual).
#[derive(Debug)]
struct Rfdb {
    distill: [nn::Conv2D; 3],
    refine: [nn::Conv2D; 3],
    c4: nn::Conv2D,
    c5: nn::Conv2D,
    esa: Esa,
}

impl Rfdb {
    fn new(vs: nn::Path) -> Rfdb {
        let d = |i: usize| conv(&vs / format!("c{i}_d"), FEATURES, DISTILLED, 1);
        let r = |i: usize| conv(&vs / format!("c{i}_r"), FEATURES, FEATURES, 3);
        Rfdb {
            distill: [d(1), d(2), d(3)],
            refine: [r(1), r(2), r(3)],
            c4: conv(&vs / "c4", FEATURES, DISTILLED, 3),
            c5: conv(&vs / "c5", 4 * DISTILLED, FEATURES, 1),
            esa: Esa::new(&vs / "esa"),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let mut distilled = Vec::with_capacity(4);
        let mut r = x.shallow_clone();
        for (distill, refine) in self.distill.iter().zip(&self.refine) {
            distilled.push(act(&r.apply(distill)));
            r = act(&(r.apply(refine) + &r));
        }
        distilled.push(act(&r.apply(&self.c4)));
        self.esa.forward(&Tensor::cat(&distilled, 1).apply(&self.c5))
    }
}

/// RFDN (AIM 2020 configuration) with njulj/RFDN's tensor names (README §2b).
#[derive(Debug)]
struct RfdnNet {
    fea: nn::Conv2D,
    blocks: Vec<Rfdb>,
    fuse: nn::Conv2D,
    lr_conv: nn::Conv2D,
    upsampler: nn::Conv2D,
}

impl RfdnNet {
    fn new(vs: &nn::Path) -> RfdnNet {
        RfdnNet {
            fea: conv(vs / "fea_conv", 3, FEATURES, 3),
            blocks: (1..=4).map(|i| Rfdb::new(vs / format!("B{i}"))).collect(),
            fuse: conv(vs / "c" / 0, 4 * FEATURES, FEATURES, 1),
            lr_conv: conv(vs / "LR_conv", FEATURES, FEATURES, 3),
            upsampler: conv(vs / "upsampler" / 0, FEATURES, 3 * 16, 3),
        }
    }
}

impl ModuleT for RfdnNet {
    /// RGB in 0..255, at least [`MIN_SIDE`] pixels each way → RGB in about 0..255, unclamped.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let fea = x.apply(&self.fea);
        let mut outs = Vec::with_capacity(self.blocks.len());
        let mut h = fea.shallow_clone();
        for block in &self.blocks {
            h = block.forward(&h);
            outs.push(h.shallow_clone());
        }
        let t = act(&Tensor::cat(&outs, 1).apply(&self.fuse)).apply(&self.lr_conv) + fea;
        t.apply(&self.upsampler).pixel_shuffle(4)
    }
}

/// The network on an RGB image in [0, 1] of any size: scaled to 0..255, replicate-padded on the
/// bottom and right to [`MIN_SIDE`] where smaller, and the ×4 output cropped back and scaled to
/// [0, 1] (unclamped).
fn upscale(net: &RfdnNet, x: &Tensor) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    let (pad_h, pad_w) = ((MIN_SIDE - h).max(0), (MIN_SIDE - w).max(0));
    let input = x * 255.0;
    let input = if pad_h + pad_w > 0 { input.replication_pad2d([0, pad_w, 0, pad_h]) } else { input };
    let out = net.forward_t(&input, false) / 255.0;
    if pad_h + pad_w > 0 {
        out.narrow(2, 0, 4 * h).narrow(3, 0, 4 * w)
    } else {
        out
    }
}

/// The network, how to tile, and in which precision to compute.
pub struct RfdnModel {
    task: ImageTask,
    net: RfdnNet,
    tiling: Tiling,
    precision: Precision,
    _vs: nn::VarStore,
}

impl RestoreModel for RfdnModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _) = self.task.split(y)?;
            let out = self.tiling.run(&image, 4, |x| Ok(self.precision.run(x, |x| upscale(&self.net, x))))?;
            Ok(self.task.as_samples(&out.clamp(0.0, 1.0), n_samples))
        })
    }
}

export_plugin!(Rfdn);
