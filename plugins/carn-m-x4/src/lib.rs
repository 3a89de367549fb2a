//! `carn-m-x4`: CARN-M, the mobile Cascading Residual Network (Ahn, Kang and Sohn, ECCV 2018),
//! for ×4 super-resolution with the authors' checkpoint (nmhkahn/CARN-pytorch `carn_m.pth`, its
//! ×4 upsampler kept: `carn_m_x4.safetensors`, README §2a of `../shared/models`). A small
//! PSNR-oriented network (294 k parameters): local and global cascades of 1×1 fusions over
//! grouped-convolution residual units whose weights are shared three times within each block.
//!
//! RGB in [0, 1] (mean-shifted inside, as the original), RGB out clamped to [0, 1]; the harness
//! rounds to 8 bits when it scores (the original `sample.py` truncates instead, 0.04 dB lower on
//! Set5). Purely convolutional: with `tile_overlap` ≥ 21 (its receptive-field radius in input
//! pixels) tiled output equals whole-image output.

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
/// Groups of the grouped 3×3 convolutions.
const GROUPS: i64 = 4;
/// Receptive-field radius in input pixels: entry 1, three blocks of three residual units of two
/// 3×3 convolutions 18, the upsampler and exit convolutions 2 more over the pixel grid.
const RADIUS: i64 = 21;

/// The plugin.
pub struct CarnM;

impl Plugin for CarnM {
    type Model = CarnMModel;

    fn metadata() -> PluginMetadata {
        let [tile, overlap] = Tiling::param_specs(
            Tiling { tile: 0, overlap: RADIUS },
            "21 (the receptive-field radius) makes tiles exact",
        );
        PluginMetadata::new(
            "carn-m-x4",
            env!("CARGO_PKG_VERSION"),
            "CARN-M ×4, the authors' checkpoint (PSNR-oriented)",
        )
        .with_task_kinds(&[TaskKind::ImageSuperResolution])
        .with_param(ParamSpec::new(
            "weights",
            ParamValue::Text("carn_m_x4.safetensors".into()),
            "safetensors file (CARN-pytorch names, ×4 upsampler); relative names are looked up in the run's models directory (--models-dir)",
        ))
        .with_param(tile)
        .with_param(overlap)
        .with_param(Precision::param_spec())
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = sr_task(task, "carn-m-x4", 4)?;
        let tiling = Tiling::from_params(params)?;
        let device = tch_device(task.device);
        let precision = Precision::from_params(params, device)?;
        let mut vs = nn::VarStore::new(device);
        let net = Carn::new(&vs.root());
        weights::load_checked(&mut vs, task, params.text("weights")?)?;
        precision.prepare(&mut vs);
        vs.freeze();
        Ok(CarnMModel { task: image, net, tiling, precision, _vs: vs })
    }
}

fn conv(vs: nn::Path, i: i64, o: i64, k: i64, groups: i64) -> nn::Conv2D {
    nn::conv2d(vs, i, o, k, nn::ConvConfig { padding: k / 2, groups, ..Default::default() })
}

/// `ReLU(conv1×1(x))` (CARN's `BasicBlock`, tensors under `body.0`).
fn fuse(vs: &nn::Path, name: &str, inputs: i64) -> nn::Conv2D {
    conv(vs / name / "body" / 0, inputs * FEATURES, FEATURES, 1, 1)
}

/// The efficient residual unit: ReLU(x + conv1×1(ReLU(gconv(ReLU(gconv(x)))))).
#[derive(Debug)]
struct EResidual {
    convs: [nn::Conv2D; 3],
}

impl EResidual {
    fn new(vs: nn::Path) -> EResidual {
        let body = &vs / "body";
        EResidual {
            convs: [
                conv(&body / 0, FEATURES, FEATURES, 3, GROUPS),
                conv(&body / 2, FEATURES, FEATURES, 3, GROUPS),
                conv(&body / 4, FEATURES, FEATURES, 1, 1),
            ],
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let t = x.apply(&self.convs[0]).relu().apply(&self.convs[1]).relu().apply(&self.convs[2]);
        (t + x).relu()
    }
}

/// A cascading block: one residual unit applied three times, each output concatenated onto the
/// running cascade and fused back to 64 channels.
#[derive(Debug)]
struct Block {
    unit: EResidual,
    fusions: Vec<nn::Conv2D>,
}

/// `c_k = cat[c_{k−1}, f(o_{k−1})]`, `o_k = ReLU(fuse_k(c_k))` for k = 1, 2, 3; returns `o_3`.
/// `f` receives the step k − 1 and `o_{k−1}`.
fn cascade(x: &Tensor, fusions: &[nn::Conv2D], f: impl Fn(usize, &Tensor) -> Tensor) -> Tensor {
    let (mut c, mut o) = (x.shallow_clone(), x.shallow_clone());
    for (step, fusion) in fusions.iter().enumerate() {
        c = Tensor::cat(&[&c, &f(step, &o)], 1);
        o = c.apply(fusion).relu();
    }
    o
}

/// CARN-M with CARN-pytorch's tensor names (README §2a).
#[derive(Debug)]
struct Carn {
    sub_mean: nn::Conv2D,
    add_mean: nn::Conv2D,
    entry: nn::Conv2D,
    blocks: Vec<Block>,
    fusions: Vec<nn::Conv2D>,
    up: [nn::Conv2D; 2],
    exit: nn::Conv2D,
}

impl Carn {
    fn new(vs: &nn::Path) -> Carn {
        let blocks = (1..=3)
            .map(|k| {
                let block = vs / format!("b{k}");
                Block {
                    unit: EResidual::new(&block / "b1"),
                    fusions: (1..=3).map(|j| fuse(&block, &format!("c{j}"), j + 1)).collect(),
                }
            })
            .collect();
        let up = vs / "upsample" / "up4" / "body";
        Carn {
            sub_mean: conv(vs / "sub_mean" / "shifter", 3, 3, 1, 1),
            add_mean: conv(vs / "add_mean" / "shifter", 3, 3, 1, 1),
            entry: conv(vs / "entry", 3, FEATURES, 3, 1),
            blocks,
            fusions: (1..=3).map(|k| fuse(vs, &format!("c{k}"), k + 1)).collect(),
            up: [conv(&up / 0, FEATURES, 4 * FEATURES, 3, GROUPS), conv(&up / 3, FEATURES, 4 * FEATURES, 3, GROUPS)],
            exit: conv(vs / "exit", FEATURES, 3, 3, 1),
        }
    }
}

impl ModuleT for Carn {
    /// RGB in [0, 1] → RGB in about [0, 1], unclamped.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let f = x.apply(&self.sub_mean).apply(&self.entry);
        // the global cascade runs block k at its step k; each block's cascade reuses its one unit
        let mut h = cascade(&f, &self.fusions, |k, o| {
            let block = &self.blocks[k];
            cascade(o, &block.fusions, |_, u| block.unit.forward(u))
        });
        for conv in &self.up {
            h = h.apply(conv).relu().pixel_shuffle(2);
        }
        h.apply(&self.exit).apply(&self.add_mean)
    }
}

/// The network, how to tile, and in which precision to compute.
pub struct CarnMModel {
    task: ImageTask,
    net: Carn,
    tiling: Tiling,
    precision: Precision,
    _vs: nn::VarStore,
}

impl RestoreModel for CarnMModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (image, _) = self.task.split(y)?;
            let out = self.tiling.run(&image, 4, |x| Ok(self.precision.run(x, |x| self.net.forward_t(x, false))))?;
            Ok(self.task.as_samples(&out.clamp(0.0, 1.0), n_samples))
        })
    }
}

export_plugin!(CarnM);
