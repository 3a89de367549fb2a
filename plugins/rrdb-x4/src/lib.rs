//! `rrdb-x4`: RRDBNet, the generator of ESRGAN (Wang et al., ECCV Workshops 2018) — 23
//! residual-in-residual dense blocks, 16.7 M parameters — for ×4 super-resolution, with BasicSR's
//! tensor names so that any RRDBNet ×4 checkpoint in that layout loads (`weights`). The default
//! file is Real-ESRGAN x4plus (`realesrgan_x4plus.safetensors`, README §5 of `../shared/models`):
//! GAN-trained on synthetic real-world degradations, a perceptual model that sharpens and
//! hallucinates texture (26.63 dB on Set5, below bicubic).
//!
//! RGB in [0, 1] in and out; the network does not bound its output (≈ −0.03…1.07 seen), so it is
//! clamped to [0, 1] before the harness rounds it to 8 bits for scoring.
//!
//! **Tiles.** RRDBNet's receptive field (≈ 350 input pixels of radius) is larger than the images,
//! so tiled output is never exactly the whole-image output, and this GAN is sensitive to context:
//! measured on Set14's two largest images (180 × 144 and 192 × 128 LR) cut into 64 × 64 tiles,
//! an overlap of 16 input pixels moves an image's PSNR-Y by up to 0.36 dB (max |Δ| 45 grey
//! levels), 32 by 0.11 dB (24 levels), 48 by 0.0003 dB (3 levels). The defaults, `tile` = 128
//! and `tile_overlap` = 48 (input pixels), bound memory on any image size (a tile's activations
//! are a few hundred MB in float32) and run every image up to 128 × 128 whole: no Set5 image is
//! cut; on the four Set14 images that are (img_002, 011, 013, 014) the output moves by at most
//! 8.9e-3 (3 grey levels after rounding) and PSNR-Y by at most 0.001 dB (mean −0.0004 dB over
//! those four). Measured by `rrdb_tiling_sweep` in `harness/tests/sr_models.rs` (on demand).
//! `tile` = 0 runs the whole image at once.
//!
//! **Precision.** `precision` = `float32` (default), `float64` (a slow reference), and on CUDA
//! `float16` (libtorch's CUDA autocast: convolutions in float16, the rest in float32) or
//! `bfloat16` (weights and activations cast to bfloat16: tch exposes no way to choose autocast's
//! type); see `image_kit::precision`. The half types are refused on the CPU. Not yet run on a GPU.

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
/// Growth channels of the dense blocks.
const GROWTH: i64 = 32;
/// RRDB blocks.
const BLOCKS: i64 = 23;
/// The default tiling (input pixels): see the crate docs for what it was measured to cost.
pub const DEFAULT_TILING: Tiling = Tiling { tile: 128, overlap: 48 };

/// The plugin.
pub struct Rrdb;

impl Plugin for Rrdb {
    type Model = RrdbModel;

    fn metadata() -> PluginMetadata {
        let [tile, overlap] = Tiling::param_specs(
            DEFAULT_TILING,
            "tiles are never exact for RRDBNet (receptive field ≈ 350 px); 48 kept PSNR-Y within 0.001 dB on Set14",
        );
        PluginMetadata::new(
            "rrdb-x4",
            env!("CARGO_PKG_VERSION"),
            "RRDBNet ×4 (ESRGAN), Real-ESRGAN x4plus by default (GAN)",
        )
        .with_task_kinds(&[TaskKind::ImageSuperResolution])
        .with_param(ParamSpec::new(
            "weights",
            ParamValue::Text("realesrgan_x4plus.safetensors".into()),
            "safetensors file with BasicSR RRDBNet ×4 names; relative names are looked up in the run's models directory (--models-dir)",
        ))
        .with_param(tile)
        .with_param(overlap)
        .with_param(Precision::param_spec())
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = sr_task(task, "rrdb-x4", 4)?;
        let tiling = Tiling::from_params(params)?;
        let device = tch_device(task.device);
        let precision = Precision::from_params(params, device)?;
        let mut vs = nn::VarStore::new(device);
        let net = RrdbNet::new(&vs.root());
        weights::load_checked(&mut vs, task, params.text("weights")?)?;
        precision.prepare(&mut vs);
        vs.freeze();
        Ok(RrdbModel { task: image, net, tiling, precision, _vs: vs })
    }
}

fn conv(vs: nn::Path, i: i64, o: i64) -> nn::Conv2D {
    nn::conv2d(vs, i, o, 3, nn::ConvConfig { padding: 1, ..Default::default() })
}

fn lrelu(x: &Tensor) -> Tensor {
    x.maximum(&(x * 0.2))
}

/// A residual dense block: five 3×3 convolutions, each seeing the input and every earlier
/// output; the result scaled by 0.2 onto the input.
#[derive(Debug)]
struct Rdb {
    convs: Vec<nn::Conv2D>,
}

impl Rdb {
    fn new(vs: nn::Path) -> Rdb {
        let mut convs: Vec<nn::Conv2D> =
            (0..4).map(|i| conv(&vs / format!("conv{}", i + 1), FEATURES + i * GROWTH, GROWTH)).collect();
        convs.push(conv(&vs / "conv5", FEATURES + 4 * GROWTH, FEATURES));
        Rdb { convs }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let mut features = vec![x.shallow_clone()];
        for conv in &self.convs[..4] {
            let next = lrelu(&Tensor::cat(&features, 1).apply(conv));
            features.push(next);
        }
        Tensor::cat(&features, 1).apply(&self.convs[4]) * 0.2 + x
    }
}

/// BasicSR's `RRDBNet(3, 3, num_feat=64, num_block=23, num_grow_ch=32, scale=4)`.
#[derive(Debug)]
struct RrdbNet {
    conv_first: nn::Conv2D,
    body: Vec<[Rdb; 3]>,
    conv_body: nn::Conv2D,
    conv_up1: nn::Conv2D,
    conv_up2: nn::Conv2D,
    conv_hr: nn::Conv2D,
    conv_last: nn::Conv2D,
}

impl RrdbNet {
    fn new(vs: &nn::Path) -> RrdbNet {
        let body = (0..BLOCKS)
            .map(|i| {
                let block = vs / "body" / i;
                [Rdb::new(&block / "rdb1"), Rdb::new(&block / "rdb2"), Rdb::new(&block / "rdb3")]
            })
            .collect();
        RrdbNet {
            conv_first: conv(vs / "conv_first", 3, FEATURES),
            body,
            conv_body: conv(vs / "conv_body", FEATURES, FEATURES),
            conv_up1: conv(vs / "conv_up1", FEATURES, FEATURES),
            conv_up2: conv(vs / "conv_up2", FEATURES, FEATURES),
            conv_hr: conv(vs / "conv_hr", FEATURES, FEATURES),
            conv_last: conv(vs / "conv_last", FEATURES, 3),
        }
    }
}

/// Nearest-neighbour ×2 (each pixel copied to a 2×2 block).
fn nearest_x2(x: &Tensor) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    x.upsample_nearest2d([2 * h, 2 * w], Some(2.0), Some(2.0))
}

impl ModuleT for RrdbNet {
    /// RGB in [0, 1] → RGB in about [0, 1], unclamped.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let f = x.apply(&self.conv_first);
        let mut h = f.shallow_clone();
        for rdbs in &self.body {
            let r = rdbs.iter().fold(h.shallow_clone(), |t, rdb| rdb.forward(&t));
            h = r * 0.2 + h;
        }
        let f = f + h.apply(&self.conv_body);
        let f = lrelu(&nearest_x2(&f).apply(&self.conv_up1));
        let f = lrelu(&nearest_x2(&f).apply(&self.conv_up2));
        lrelu(&f.apply(&self.conv_hr)).apply(&self.conv_last)
    }
}

/// The network, how to tile, and in which precision to compute.
pub struct RrdbModel {
    task: ImageTask,
    net: RrdbNet,
    tiling: Tiling,
    precision: Precision,
    _vs: nn::VarStore,
}

impl RestoreModel for RrdbModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _) = self.task.split(y)?;
            let out = self.tiling.run(&image, 4, |x| Ok(self.precision.run(x, |x| self.net.forward_t(x, false))))?;
            Ok(self.task.as_samples(&out.clamp(0.0, 1.0), n_samples))
        })
    }
}

export_plugin!(Rrdb);
