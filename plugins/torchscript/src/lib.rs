//! `torchscript`: a PyTorch model exported as TorchScript (`torch.jit.script(model).save(path)`),
//! scored by upbench with no Rust written (`examples/pytorch`, `docs/plugin-guide.md`, "PyTorch
//! models").
//!
//! Calling conventions, checked once when the model is built and on every call:
//! - deterministic (`stochastic = false`): `forward(y) -> x̂`;
//! - stochastic (`stochastic = true`): `forward(y, n_samples: int, seed: int) -> samples`, the
//!   module drawing its noise from a `torch.Generator` it seeds from `seed`. A module whose
//!   `forward` takes `y` alone (a traced one, say) and draws from libtorch's global generator is
//!   called `n_samples` times instead; upbench seeds that generator per call, so a seed still
//!   reproduces the samples.
//!
//! Shapes: exact tasks y `[n, m]` → `[n, d]` (deterministic) or `[n, K, d]`; image tasks y
//! `[n, C, h, w]` in [0, 1] (inpainting: one more channel, the mask, 1 = observed) →
//! `[n, C, H, W]` or `[n, K, C, H, W]`. The module runs in eval mode, without autograd, on the
//! run's device, in `dtype`, `batch_size` measurements per call.

use std::path::{Path, PathBuf};

use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::bridge::tch_device;
use upbench_tch::restore_with;
use upbench_tch::script::torch_message;
use upbench_tch::tch::{self, CModule, IValue, Kind, Tensor};

/// The plugin.
pub struct TorchScript;

impl Plugin for TorchScript {
    type Model = ScriptedModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "torchscript",
            env!("CARGO_PKG_VERSION"),
            "a PyTorch model exported as TorchScript: forward(y), or forward(y, n_samples, seed) for a sampler",
        )
        .with_task_kinds(&TaskKind::ALL)
        .stochastic()
        .with_param(ParamSpec::path(
            "module",
            "",
            "the TorchScript file (.pt); a relative path is read from the suite's folder",
        ))
        .with_param(ParamSpec::new(
            "stochastic",
            ParamValue::Bool(false),
            "the module samples: forward(y, n_samples: int, seed: int) -> [n, K, …] (or forward(y) called K times)",
        ))
        .with_param(ParamSpec::new(
            "batch_size",
            ParamValue::Int(0),
            "measurements per forward call; 0: as many as upbench passes at once",
        ))
        .with_param(ParamSpec::new(
            "dtype",
            ParamValue::Text("float32".into()),
            "what the module computes in: \"float32\" or \"float64\"",
        ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<ScriptedModel, PluginError> {
        let path = PathBuf::from(params.text("module")?);
        if path.as_os_str().is_empty() {
            return Err(PluginError::InvalidParameter {
                name: "module".into(),
                reason: "set it to the TorchScript file to score (exported with torch.jit.script(model).save(path))"
                    .into(),
            });
        }
        let dtype = match params.text("dtype")? {
            "float32" => Kind::Float,
            "float64" => Kind::Double,
            other => {
                return Err(PluginError::InvalidParameter {
                    name: "dtype".into(),
                    reason: format!("'{other}' is neither \"float32\" nor \"float64\"").into(),
                })
            }
        };
        let batch_size = match params.int("batch_size")? {
            size if size >= 0 => size,
            size => {
                return Err(PluginError::InvalidParameter {
                    name: "batch_size".into(),
                    reason: format!("must be 0 (all at once) or positive, got {size}").into(),
                })
            }
        };
        let layout = Layout::of(task)?;
        let device = tch_device(task.device);
        let module = upbench_tch::script::load_module(&path, device).map_err(|e| match e.missing {
            true => PluginError::InvalidParameter { name: "module".into(), reason: e.to_string().into() },
            false => PluginError::Failed(e.to_string().into()),
        })?;
        let mut model =
            ScriptedModel { module, path, layout, device, dtype, batch_size, convention: Convention::Deterministic };
        model.convention = model.probe(params.bool("stochastic")?)?;
        Ok(model)
    }
}

/// How the module is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convention {
    /// `forward(y) -> x̂`.
    Deterministic,
    /// `forward(y, n_samples, seed) -> samples`.
    Sampler,
    /// `forward(y) -> one sample`, called once per sample on libtorch's seeded generator.
    Repeated,
}

/// What the task's tensors look like.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    /// Exact task: y `[n, m]`, a sample `[d]`.
    Exact { measurement_dim: i64, signal_dim: i64 },
    /// Image task: y `[n, C(+1), h, w]`, a sample `[C, h·scale, w·scale]`.
    Image { channels: i64, mask: bool, scale: i64 },
}

impl Layout {
    fn of(task: &TaskSpec) -> Result<Layout, PluginError> {
        let kind = task.kind().ok_or_else(|| {
            PluginError::UnsupportedTask(format!("task '{}' is of unknown kind '{}'", task.name, task.kind).into())
        })?;
        if !kind.is_image() {
            return Ok(Layout::Exact {
                measurement_dim: task.measurement_dim as i64,
                signal_dim: task.signal_dim as i64,
            });
        }
        let image = upbench_tch::ImageTask::from_spec(task, &TaskKind::IMAGE)?;
        Ok(Layout::Image { channels: image.channels, mask: kind == TaskKind::ImageInpainting, scale: image.scale })
    }

    /// A sample's shape for measurements of shape `y`.
    fn sample_shape(&self, y: &[i64]) -> Vec<i64> {
        match *self {
            Layout::Exact { signal_dim, .. } => vec![signal_dim],
            Layout::Image { channels, scale, .. } => vec![channels, y[2] * scale, y[3] * scale],
        }
    }

    /// Two measurements of the task's layout, for the probe call.
    fn probe_input(&self, device: tch::Device, dtype: Kind) -> Tensor {
        let shape = match *self {
            Layout::Exact { measurement_dim, .. } => vec![2, measurement_dim],
            Layout::Image { channels, mask, .. } => vec![2, channels + i64::from(mask), 12, 10],
        };
        Tensor::full(&shape, 0.5, (dtype, device))
    }

    /// The input as described in messages.
    fn describe_input(&self) -> String {
        match *self {
            Layout::Exact { measurement_dim, .. } => format!("y [n, {measurement_dim}]"),
            Layout::Image { channels, mask: true, .. } => {
                format!("y [n, {}, h, w] (the last channel the mask)", channels + 1)
            }
            Layout::Image { channels, .. } => format!("y [n, {channels}, h, w]"),
        }
    }
}

/// A loaded module and how to call it.
pub struct ScriptedModel {
    module: CModule,
    path: PathBuf,
    layout: Layout,
    device: tch::Device,
    dtype: Kind,
    batch_size: i64,
    convention: Convention,
}

impl ScriptedModel {
    /// Calls the module once on a small input of the task's layout and decides the convention;
    /// a module that cannot be called so, or answers with the wrong shape, dtype or device, is
    /// refused here (the harness builds every configuration before a run starts).
    fn probe(&self, stochastic: bool) -> Result<Convention, PluginError> {
        let _no_grad = tch::no_grad_guard();
        let y = self.layout.probe_input(self.device, self.dtype);
        let candidates: &[Convention] =
            if stochastic { &[Convention::Sampler, Convention::Repeated] } else { &[Convention::Deterministic] };
        let mut errors = Vec::new();
        for &convention in candidates {
            match self.call(convention, &y, 3, 1) {
                // Equal draws: a deterministic module run as a sampler would be judged as one
                // whose samples have no spread.
                Ok(out) if convention != Convention::Deterministic && out.get(0).get(0).equal(&out.get(0).get(1)) => {
                    errors.push(format!(
                        "as {}: its samples of one measurement are identical, so it does not sample (set stochastic = false)",
                        convention.signature()
                    ))
                }
                Ok(_) => return Ok(convention),
                Err(e) => errors.push(format!("as {}: {e}", convention.signature())),
            }
        }
        Err(failed(&self.path, format!("cannot be called on {}: {}", self.layout.describe_input(), errors.join("; "))))
    }

    /// One call on `y` (a batch), checked: `[b, K, sample…]` on the task's device.
    fn call(&self, convention: Convention, y: &Tensor, n_samples: i64, seed: i64) -> Result<Tensor, String> {
        let invoke = |args: &[IValue]| -> Result<Tensor, String> {
            let out = self.module.forward_is(args).map_err(|e| torch_message(&e))?;
            Tensor::try_from(out).map_err(|e| format!("forward must return one tensor ({e})"))
        };
        let size = y.size();
        let sample = self.layout.sample_shape(&size);
        let mut want: Vec<i64> = vec![size[0]];
        let out = match convention {
            Convention::Deterministic => {
                let x = invoke(&[IValue::Tensor(y.shallow_clone())])?;
                want.extend(&sample);
                check(&x, &want, self.device)?;
                x.unsqueeze(1)
            }
            Convention::Sampler => {
                let x = invoke(&[IValue::Tensor(y.shallow_clone()), IValue::Int(n_samples), IValue::Int(seed)])?;
                want.push(n_samples);
                want.extend(&sample);
                check(&x, &want, self.device)?;
                x
            }
            Convention::Repeated => {
                want.extend(&sample);
                let mut draws = Vec::with_capacity(n_samples as usize);
                for _ in 0..n_samples {
                    let x = invoke(&[IValue::Tensor(y.shallow_clone())])?;
                    check(&x, &want, self.device)?;
                    draws.push(x);
                }
                Tensor::stack(&draws, 1)
            }
        };
        Ok(out)
    }
}

impl Convention {
    fn signature(self) -> &'static str {
        match self {
            Convention::Deterministic => "forward(y) -> x̂ (a deterministic model; set stochastic = true for a sampler)",
            Convention::Sampler => "forward(y, n_samples: int, seed: int) -> samples",
            Convention::Repeated => "forward(y) -> one sample, called once per sample",
        }
    }
}

/// Checks a module's output: shape, floating dtype, device.
fn check(x: &Tensor, want: &[i64], device: tch::Device) -> Result<(), String> {
    if x.size() != want {
        return Err(format!("it returned shape {:?}, expected {want:?}", x.size()));
    }
    if !matches!(x.kind(), Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16) {
        return Err(format!("it returned dtype {:?}, expected a floating-point tensor", x.kind()));
    }
    if x.device() != device {
        return Err(format!("it returned a tensor on {:?}, expected {device:?} (the run's device)", x.device()));
    }
    Ok(())
}

impl RestoreModel for ScriptedModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let n = y.size()[0];
            let out_kind = y.kind();
            let step = if self.batch_size == 0 { n.max(1) } else { self.batch_size };
            let samples = if self.convention == Convention::Deterministic { 1 } else { i64::from(n_samples) };
            let mut parts = Vec::new();
            for (b, start) in (0..n).step_by(step as usize).enumerate() {
                let batch = y.narrow(0, start, step.min(n - start)).to_kind(self.dtype);
                // Every batch of one call gets its own seed (the same one would give every batch
                // the same noise); the first keeps the call's.
                let batch_seed = (seed ^ mix(b as u64)) as i64 & i64::MAX;
                let out = self.call(self.convention, &batch, samples, batch_seed).map_err(|e| failed(&self.path, e))?;
                parts.push(out.to_kind(out_kind));
            }
            let out = Tensor::cat(&parts, 0);
            // A deterministic model's one output stands for every sample asked for.
            Ok(if samples == i64::from(n_samples) {
                out
            } else {
                let mut shape = vec![-1; out.dim()];
                shape[1] = i64::from(n_samples);
                out.expand(&shape, false)
            })
        })
    }

    fn is_deterministic(&self) -> bool {
        self.convention == Convention::Deterministic
    }
}

/// 0 for the first batch, a well-mixed value for the others (SplitMix64's finaliser).
fn mix(b: u64) -> u64 {
    if b == 0 {
        return 0;
    }
    let mut z = b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A failure that names the module file.
fn failed(path: &Path, what: impl std::fmt::Display) -> PluginError {
    PluginError::Failed(format!("{}: {what}", path.display()).into())
}

export_plugin!(TorchScript);
