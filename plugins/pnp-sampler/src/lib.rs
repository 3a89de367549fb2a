/*!
`pnp-sampler`: a plug-and-play diffusion sampler driven by a denoiser, with a knob η from a
deterministic restorer (η = 0) to posterior sampling (η = 1), for upbench's image tasks (×s
bicubic super-resolution, inpainting, denoising) and its exact Gaussian / Gaussian-mixture tasks.

# The algorithm

A variance-exploding diffusion is run backwards over `steps` noise levels from σ_max to σ_min
(evenly spaced in log σ), then to 0 ([`sampler`]). Each step

1. denoises: x̄ = D(x_t, σ_t), D the plug-in MMSE denoiser (FFDNet on photographs, the prior's
   exact denoiser on exact tasks);
2. makes the estimate consistent with the measurement y = A·x + σ_n·w (`data_step`; `"auto"`,
   the default, is `"tweedie"` on exact tasks and `"prox"` on images):
   - `"tweedie"`: x̂ = x̄ + C_t·Aᵀ·(A·C_t·Aᵀ + σ_n²·I)⁻¹·(y − A·x̄), with C_t =
     Cov(X | x_t) = σ_t²·∇D (Tweedie's second-order formula) applied through the denoiser, by
     conjugate gradients on the measurement side — the moment-matching step of TMPD (Boys,
     Girolami, Pidstrigach, Reich, Mosca & Akyildiz 2023, "Tweedie Moment Projected Diffusions
     for Inverse Problems", arXiv 2310.06721) and MMPS (Rozet, Andry, Lanusse & Louppe, NeurIPS
     2024, "Learning Diffusion Priors from Observations by Expectation Maximization");
   - `"prox"`: DiffPIR's proximal step (Zhu, Zhang, Liang, Cao, Wen, Timofte & Van Gool, CVPR
     Workshops 2023, "Denoising Diffusion Models for Plug-and-Play Image Restoration", eq. 13):
     argmin ‖y − A·x‖²/σ_n² + λ/σ_t²·‖x − x̄‖², conjugate gradients on AᵀA + ρ·I;
3. re-noises DDIM-style (Song, Meng & Ermon, ICLR 2021, eq. 12) with stochasticity η: η = 1 is
   DDPM's ancestral step, η = 0 the deterministic probability-flow step.

The chain starts from a measurement-based estimate e (the proximal solution from a guess: the
bicubic upsampling, the noisy image, the inpainted mean colour; the prior's mean on exact tasks)
noised to η·σ_max, as DiffPIR does. At η = 0 nothing is random: the plugin says it is
deterministic (`is_deterministic`).

## Why this and not DiffPIR's or DDRM's step as published

The task here is a sampler whose law approaches the true posterior where the posterior is known.
With the exact MMSE denoiser of a Gaussian prior, Cov(X | x_t) is exactly σ_t²·∇D and the
Tweedie step returns E[X | x_t, y] exactly; the DDPM step then discretises the reverse SDE of the
posterior, so the samples' law converges to p(x | y) as `steps` grows (P → 0, U → 2·N(X|Y); the
convergence study is in `docs/sampler.md`). DiffPIR's step replaces C_t by σ_t²/λ·I and its
re-noising uses a fixed ζ; both keep a bias that more steps do not remove (measured: P stays near
0.3–0.4 nats on the d = 16 AR(1) tasks, see the study; the `"prox"` option keeps it for
comparison). DDRM (Kawar et al. 2022) needs the SVD of A, which the antialiased bicubic operator
of an image does not offer cheaply, and is not exact for correlated priors either. Kadkhodaie &
Simoncelli's (2021) step needs a measurement with orthonormal rows. Conjugate gradients only
need A and Aᵀ, which [`operators`] gives exactly for every task (MATLAB's `imresize` as a pair
of matrices, masks, the identity, an exact task's matrix).

On mixtures the Gaussian moment match is an approximation (p(x | x_t) is multimodal at large σ_t),
so the sampler is not exact there even with the exact denoiser; the study reports by how much.

## Photographs

FFDNet (`ffdnet_color.safetensors`) was trained for σ ≤ 75/255: σ_max defaults to 75/255, so the
chain starts from the measurement-based estimate plus noise of 75/255 and large holes are filled
from that estimate's mean colour rather than generated from pure noise — what fills a big hole is
mostly the denoiser's smoothing of that colour, not a sample of plausible content. C_t·v is a
forward difference of the network (one extra forward per conjugate-gradient iteration, 2
iterations per step by default) — but FFDNet's Jacobian is neither symmetric nor well conditioned
(it nearly annihilates high frequencies), so with few iterations and σ_n ≈ 0 the Tweedie solve
diverges (measured: 90 % of the pixels saturated on noise-free inpainting). On images the default
is therefore DiffPIR's proximal step (one network call per step, stable); `"tweedie"` stays
selectable for noisy tasks and is refused on noise-free inpainting. So on photographs this is
DiffPIR's data step with a DDIM/DDPM η re-noising, and the exactness shown on the exact tasks is
that of the `"tweedie"` configuration, not of the image default. SR measurements are 8-bit: rounding is modelled as noise of
variance 1/12 grey level², which also floors σ_n on noise-free inpainting. Grey tasks run the
colour network on three equal channels.
*/
#![warn(missing_docs)]

pub mod denoisers;
pub mod operators;
pub mod sampler;

use denoisers::{ExactMixture, Ffdnet, FFDNET_MAX_SIGMA};
use operators::{Bicubic, Dense, Identity, Mask};
use sampler::{fail, geometric, prox, sample, DataStep, Denoiser, Operator, Settings};
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::bridge::tch_device;
use upbench_tch::tch::{Kind, Tensor};
use upbench_tch::{restore_with, ImageTask};

/// Every kind the plugin solves: the exact ones with `denoiser = "exact"`, the image ones with
/// `"ffdnet"`.
const KINDS: [TaskKind; 6] = TaskKind::ALL;

/// 8-bit rounding as noise: 1/12 grey level², on the [0, 1] scale.
const ROUNDING_VAR: f64 = 1.0 / (12.0 * 255.0 * 255.0);

/// The plugin.
pub struct PnpSampler;

fn invalid(name: &str, reason: String) -> PluginError {
    PluginError::InvalidParameter { name: name.into(), reason: reason.into() }
}

/// The parameters, checked before anything is loaded.
#[derive(Debug, Clone)]
struct Config {
    eta: f64,
    steps: usize,
    exact: bool,
    /// `None`: automatic (Tweedie on exact tasks, DiffPIR's proximal step on images).
    data_step: Option<DataStep>,
    lambda: f64,
    cg_iterations: Option<usize>,
    sigma_max: Option<f64>,
    sigma_min: Option<f64>,
}

impl Config {
    fn read(params: &Params) -> Result<Self, PluginError> {
        let eta = params.float("eta")?;
        if !(0.0..=1.0).contains(&eta) {
            return Err(invalid("eta", format!("{eta} is outside [0, 1]")));
        }
        let steps = params.int("steps")?;
        if !(1..=100_000).contains(&steps) {
            return Err(invalid("steps", format!("{steps} is outside 1 ..= 100000")));
        }
        let exact = match params.text("denoiser")? {
            "exact" => true,
            "ffdnet" => false,
            other => return Err(invalid("denoiser", format!("'{other}' is neither \"ffdnet\" nor \"exact\""))),
        };
        let lambda = params.float("lambda")?;
        if !(lambda > 0.0 && lambda.is_finite()) {
            return Err(invalid("lambda", format!("{lambda} is not a positive number")));
        }
        let data_step = match params.text("data_step")? {
            "auto" => None,
            "tweedie" => Some(DataStep::Tweedie),
            "prox" => Some(DataStep::Prox { lambda }),
            other => return Err(invalid("data_step", format!("'{other}' is none of \"auto\", \"tweedie\", \"prox\""))),
        };
        let cg = params.int("cg_iterations")?;
        if !(0..=10_000).contains(&cg) {
            return Err(invalid("cg_iterations", format!("{cg} is outside 0 ..= 10000 (0 = automatic)")));
        }
        let level = |name: &str| -> Result<Option<f64>, PluginError> {
            let v = params.float(name)?;
            if !(v >= 0.0 && v.is_finite()) {
                return Err(invalid(name, format!("{v} is not a non-negative number (0 = automatic)")));
            }
            Ok((v > 0.0).then_some(v))
        };
        let (sigma_max, sigma_min) = (level("sigma_max")?, level("sigma_min")?);
        if let (Some(hi), Some(lo)) = (sigma_max, sigma_min) {
            if lo >= hi {
                return Err(invalid("sigma_min", format!("{lo} is not below sigma_max = {hi}")));
            }
        }
        Ok(Config {
            eta,
            steps: steps as usize,
            exact,
            data_step,
            lambda,
            cg_iterations: (cg > 0).then_some(cg as usize),
            sigma_max,
            sigma_min,
        })
    }

    /// The schedule from the given or automatic ends.
    fn sigmas(&self, auto_max: f64, auto_min: f64) -> Result<Vec<f64>, PluginError> {
        let hi = self.sigma_max.unwrap_or(auto_max);
        let lo = self.sigma_min.unwrap_or(auto_min.min(hi / 2.0));
        if lo >= hi {
            return Err(invalid("sigma_min", format!("{lo} is not below σ_max = {hi}")));
        }
        Ok(geometric(hi, lo, self.steps))
    }
}

impl Plugin for PnpSampler {
    type Model = PnpModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "pnp-sampler",
            env!("CARGO_PKG_VERSION"),
            "plug-and-play diffusion sampler (DDIM η, Tweedie moment-matching data step) driven by FFDNet or the exact MMSE denoiser",
        )
        .with_task_kinds(&KINDS)
        .stochastic()
        .with_param(ParamSpec::new(
            "eta",
            ParamValue::Float(1.0),
            "η ∈ [0, 1]: 0 deterministic (probability flow, from an un-noised start), 1 DDPM ancestral posterior sampling",
        ))
        .with_param(ParamSpec::new("steps", ParamValue::Int(100), "noise levels from σ_max to σ_min (denoiser calls ≥ steps)"))
        .with_param(ParamSpec::new(
            "denoiser",
            ParamValue::Text("ffdnet".into()),
            "\"ffdnet\" (image tasks) or \"exact\" (the prior's closed-form MMSE denoiser, exact tasks)",
        ))
        .with_param(ParamSpec::new(
            "weights",
            ParamValue::Text("ffdnet_color.safetensors".into()),
            "FFDNet colour safetensors file; relative names are looked up in the run's models directory (--models-dir)",
        ))
        .with_param(ParamSpec::new(
            "data_step",
            ParamValue::Text("auto".into()),
            "\"tweedie\" (moment matching with the denoiser's covariance; exact for Gaussian priors), \"prox\" (DiffPIR's proximal step), or \"auto\" (tweedie on exact tasks, prox on images)",
        ))
        .with_param(ParamSpec::new("lambda", ParamValue::Float(1.0), "DiffPIR's λ, for data_step = \"prox\""))
        .with_param(ParamSpec::new(
            "cg_iterations",
            ParamValue::Int(0),
            "conjugate-gradient iterations per solve at most; 0 = automatic (to 1e-10 on exact tasks, 2 on images)",
        ))
        .with_param(ParamSpec::new(
            "sigma_max",
            ParamValue::Float(0.0),
            "largest noise level; 0 = automatic (75/255 on images, 20·√λ_max(prior covariance) on exact tasks)",
        ))
        .with_param(ParamSpec::new(
            "sigma_min",
            ParamValue::Float(0.0),
            "smallest noise level before 0; 0 = automatic (1/255 on images, 10⁻³·√λ_max on exact tasks)",
        ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let config = Config::read(params)?;
        let kind = task.kind().ok_or_else(|| {
            PluginError::UnsupportedTask(format!("task '{}' is of unknown kind '{}'", task.name, task.kind).into())
        })?;
        if kind.is_image() == config.exact {
            let want = if kind.is_image() { "\"ffdnet\"" } else { "\"exact\"" };
            return Err(invalid("denoiser", format!("task '{}' ({kind}) needs denoiser = {want}", task.name)));
        }
        let device = tch_device(task.device);
        let setup = if config.exact {
            exact_setup(&config, task, device)?
        } else {
            let image = ImageTask::from_spec(task, &TaskKind::IMAGE)?;
            let rounding =
                if image.kind == TaskKind::ImageSuperResolution || image.noise_std == 0.0 { ROUNDING_VAR } else { 0.0 };
            let data_step = config.data_step.unwrap_or(DataStep::Prox { lambda: config.lambda });
            if data_step == DataStep::Tweedie && image.kind == TaskKind::ImageInpainting && image.noise_std == 0.0 {
                return Err(invalid(
                    "data_step",
                    format!(
                        "\"tweedie\" is unstable on noise-free inpainting (task '{}'): FFDNet's Jacobian is \
                         nearly singular on the observed pixels and σ_n ≈ 0; use \"prox\"",
                        task.name
                    ),
                ));
            }
            let weights = params.text("weights")?;
            let denoiser = Ffdnet::load(task, weights, device)?;
            let settings = Settings {
                eta: config.eta,
                sigmas: config.sigmas(FFDNET_MAX_SIGMA, 1.0 / 255.0)?,
                data_step,
                noise_var: image.noise_std.powi(2) + rounding,
                cg_iterations: config.cg_iterations.unwrap_or(2),
                cg_tolerance: 1e-4,
            };
            Setup::Image { task: image, denoiser, settings }
        };
        Ok(PnpModel { setup, deterministic: config.eta == 0.0 })
    }
}

fn exact_setup(config: &Config, task: &TaskSpec, device: upbench_tch::tch::Device) -> Result<Setup, PluginError> {
    let prior = task.prior.as_ref().into_option().ok_or_else(|| {
        PluginError::UnsupportedTask(
            format!("task '{}' has no prior: denoiser = \"exact\" needs one", task.name).into(),
        )
    })?;
    let (d, m) = (task.signal_dim as i64, task.measurement_dim as i64);
    if d == 0 || task.operator.len() as i64 != m * d {
        return Err(PluginError::UnsupportedTask("the operator's size disagrees with the task's dimensions".into()));
    }
    if task.noise_std.is_nan() || task.noise_std <= 0.0 {
        return Err(PluginError::UnsupportedTask("noise_std must be positive for a proper posterior".into()));
    }
    let denoiser = ExactMixture::new(prior, d, device)?;
    let scale = denoiser.largest_variance()?.sqrt();
    let matrix =
        Tensor::from_slice(&task.operator[..]).f_reshape([m, d]).and_then(|t| t.f_to_device(device)).map_err(fail)?;
    let settings = Settings {
        eta: config.eta,
        sigmas: config.sigmas(20.0 * scale, 1e-3 * scale)?,
        data_step: config.data_step.unwrap_or(DataStep::Tweedie),
        noise_var: task.noise_std.powi(2),
        cg_iterations: config.cg_iterations.unwrap_or(4 * m as usize + 20),
        cg_tolerance: 1e-10,
    };
    let guess = denoiser.prior_mean();
    Ok(Setup::Exact { operator: Dense::new(matrix), denoiser, settings, guess })
}

/// What a model runs on.
enum Setup {
    Exact { operator: Dense, denoiser: ExactMixture, settings: Settings, guess: Tensor },
    Image { task: ImageTask, denoiser: Ffdnet, settings: Settings },
}

/// The sampler configured for one task.
pub struct PnpModel {
    setup: Setup,
    deterministic: bool,
}

/// The sampler from the proximal estimate of `guess` at σ_max.
fn run(
    den: &mut dyn Denoiser,
    op: &dyn Operator,
    y: &Tensor,
    guess: &Tensor,
    settings: &Settings,
) -> Result<Tensor, PluginError> {
    let start = prox(op, y, guess, settings.sigmas[0], settings, 1.0)?;
    sample(den, op, y, &start, settings)
}

impl RestoreModel for PnpModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        let k = i64::from(n_samples);
        match &mut self.setup {
            Setup::Exact { operator, denoiser, settings, guess } => restore_with(y, seed, |y| {
                let y = y.f_to_kind(Kind::Double).map_err(fail)?;
                let (n, d) = (y.size()[0], guess.size()[0]);
                let chains = y.f_repeat_interleave_self_int(k, 0, None).map_err(fail)?;
                let guess = guess.unsqueeze(0).expand([n * k, d], false);
                let out = run(denoiser, operator, &chains, &guess, settings)?;
                out.f_reshape([n, k, d]).map_err(fail)
            }),
            Setup::Image { task, denoiser, settings } => restore_with(y, seed, |y| {
                let (measured, mask) = task.split(y)?;
                let n = measured.size()[0];
                let mut out = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let yi = measured.narrow(0, i, 1);
                    let (h, w) = (yi.size()[2], yi.size()[3]);
                    let chains = yi.expand([k, -1, -1, -1], false).contiguous();
                    let samples = match task.kind {
                        TaskKind::ImageSuperResolution => {
                            let op = Bicubic::new(h, w, task.scale, Kind::Float, yi.device())?;
                            let guess = image_kit::resample::upsample_bicubic(&chains, task.scale);
                            run(denoiser, &op, &chains, &guess, settings)?
                        }
                        TaskKind::ImageInpainting => {
                            let mask = mask.as_ref().expect("inpainting measurements carry a mask").narrow(0, i, 1);
                            let seen = mask.sum(Kind::Double).double_value(&[]).max(1.0);
                            let colour = (&yi * &mask).sum_dim_intlist([0, 2, 3].as_slice(), true, Kind::Float) / seen;
                            let guess = &chains * &mask + (1.0 - &mask) * colour;
                            run(denoiser, &Mask::new(mask), &chains, &guess, settings)?
                        }
                        _ => run(denoiser, &Identity, &chains, &chains, settings)?,
                    };
                    out.push(samples.clamp(0.0, 1.0).f_to_kind(Kind::Float).map_err(fail)?);
                }
                Tensor::f_stack(&out, 0).map_err(fail)
            }),
        }
    }

    /// η = 0: no noise anywhere, the same restoration for every seed.
    fn is_deterministic(&self) -> bool {
        self.deterministic
    }
}

export_plugin!(PnpSampler);
