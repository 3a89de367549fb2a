//! `gaussian-prior`: samples the exact posterior of a stationary Gaussian model of natural images
//! (`image_kit::StationaryPrior`, fitted on a training set) for ×s bicubic super-resolution and
//! denoising (in the Fourier domain) and noise-free inpainting (conjugate gradients,
//! `image_kit::inpaint`), through the optimal family of `theory.md` (result 3):
//! X̂ = μ_y + √γ·(X′ − μ_y). γ = 1 samples the model's posterior, γ = 0 is its posterior mean
//! (the Wiener / LMMSE estimate); a γ sweep traces the optimal family on real images.
//!
//! The measurement is extended by half-sample mirroring before the (periodic) Fourier solution,
//! which matches MATLAB's mirrored borders and avoids wrap-around seams; 8-bit rounding of SR
//! measurements is modelled as uniform noise of variance 1/12 grey level².

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use image_kit::inpaint::{inpaint, Solver};
use image_kit::resample::mirror;
use image_kit::{FourierPosterior, StationaryPrior};
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::tch::{self, Kind, Tensor};
use upbench_tch::{restore_with, ImageTask};

const KINDS: [TaskKind; 3] = [TaskKind::ImageSuperResolution, TaskKind::ImageDenoising, TaskKind::ImageInpainting];

/// Fitted priors keyed by (training set, channels).
type PriorCache = HashMap<(String, usize), Arc<StationaryPrior>>;

/// Fitted priors by (training set, channels), the set read from the task's data directory: a γ
/// sweep fits once.
fn fitted(training: &str, channels: usize, task: &TaskSpec) -> Result<Arc<StationaryPrior>, PluginError> {
    static CACHE: Mutex<Option<PriorCache>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if let Some(p) = map.get(&(training.to_string(), channels)) {
        return Ok(p.clone());
    }
    let prior = StationaryPrior::fit_named(training, &image_kit::data_dir(task), channels)
        .map_err(|e| PluginError::Failed(format!("cannot fit the prior on '{training}': {e}").into()))?;
    let prior = Arc::new(prior);
    map.insert((training.to_string(), channels), prior.clone());
    Ok(prior)
}

/// The plugin.
pub struct GaussianPrior;

impl Plugin for GaussianPrior {
    type Model = GaussianPriorModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "gaussian-prior",
            env!("CARGO_PKG_VERSION"),
            "posterior sampler of a stationary Gaussian image model, optimal family μ + √γ·(X′ − μ)",
        )
        .with_task_kinds(&KINDS)
        .stochastic()
        .with_param(ParamSpec::new(
            "gamma",
            ParamValue::Float(1.0),
            "γ ∈ [0, 1]: 0 = posterior mean, 1 = posterior sampling",
        ))
        .with_param(ParamSpec::new(
            "adapt",
            ParamValue::Bool(true),
            "fit each channel's spectral gain and slope to the measurement (SR, denoising): an image-adaptive Wiener model",
        ))
        .with_param(ParamSpec::new(
            "training",
            ParamValue::Text("kodak24".into()),
            "training set for the power spectra: a set in the run's data directory, or \"dead-leaves\"",
        ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let image = ImageTask::from_spec(task, &KINDS)?;
        let gamma = params.float("gamma")?;
        if !(0.0..=1.0).contains(&gamma) {
            return Err(PluginError::InvalidParameter {
                name: "gamma".into(),
                reason: format!("{gamma} is outside [0, 1]").into(),
            });
        }
        if image.kind == TaskKind::ImageInpainting && image.noise_std > 0.0 {
            return Err(PluginError::Failed(
                format!(
                    "gaussian-prior inpaints noise-free measurements only; task '{}' has σ = {}",
                    task.name, image.noise_std
                )
                .into(),
            ));
        }
        let prior = fitted(params.text("training")?, image.channels as usize, task)?;
        let rounding = if image.kind == TaskKind::ImageSuperResolution { 1.0 / (12.0 * 255.0 * 255.0) } else { 0.0 };
        let adapt = params.bool("adapt")?;
        Ok(GaussianPriorModel {
            task: image,
            prior,
            gamma,
            adapt,
            noise_var: image.noise_std.powi(2) + rounding,
            grid: None,
        })
    }
}

/// The fitted prior, γ, and the posterior of the last grid size seen.
pub struct GaussianPriorModel {
    task: ImageTask,
    prior: Arc<StationaryPrior>,
    gamma: f64,
    adapt: bool,
    noise_var: f64,
    grid: Option<((i64, i64), tch::Device, FourierPosterior)>,
}

impl GaussianPriorModel {
    fn posterior(&mut self, lr: (i64, i64), device: tch::Device) -> &FourierPosterior {
        let stale = !matches!(&self.grid, Some((size, d, _)) if *size == lr && *d == device);
        if stale {
            let post = FourierPosterior::new(&self.prior, self.task.scale, self.noise_var, lr, device);
            self.grid = Some((lr, device, post));
        }
        &self.grid.as_ref().expect("just set").2
    }
}

impl GaussianPriorModel {
    /// Inpaints each image of `[n, C, h, w]` with its mask `[n, 1, h, w]` (1 = observed).
    fn inpaint(&self, measured: &Tensor, mask: &Tensor, n_samples: u32) -> Tensor {
        let out: Vec<Tensor> = (0..measured.size()[0])
            .map(|i| {
                let z = self.prior.to_decorrelated(&measured.get(i).to_kind(Kind::Double));
                let hidden = mask.get(i).get(0).lt(0.5);
                let (samples, _) =
                    inpaint(&self.prior, &z, &hidden, i64::from(n_samples), self.gamma, Solver::default());
                self.prior.from_decorrelated(&samples)
            })
            .collect();
        Tensor::stack(&out, 0).to_kind(Kind::Float)
    }
}

impl RestoreModel for GaussianPriorModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let (measured, mask) = self.task.split(y)?;
            if let Some(mask) = mask {
                return Ok(self.inpaint(&measured, &mask, n_samples));
            }
            let size = measured.size();
            let (n, h, w) = (size[0], size[2], size[3]);
            let z = mirror(&self.prior.to_decorrelated(&measured.to_kind(Kind::Double)));
            let (s, gamma, adapt) = (self.task.scale, self.gamma, self.adapt);
            let global = self.posterior((2 * h, 2 * w), measured.device());
            let mut images = Vec::with_capacity(n as usize);
            for i in 0..n {
                let zi = z.get(i);
                let adapted;
                let post = if adapt {
                    adapted = global.adapted_to(&zi);
                    &adapted
                } else {
                    global
                };
                let mean = post.mean(&zi.unsqueeze(0)).squeeze_dim(0);
                // One sample at a time bounds memory to a few HR-sized complex fields.
                let samples: Vec<Tensor> = (0..n_samples)
                    .map(|_| {
                        let x = if gamma > 0.0 {
                            &mean + post.deviations(1, 1).view(mean.size().as_slice()) * gamma.sqrt()
                        } else {
                            mean.shallow_clone()
                        };
                        x.narrow(-2, 0, s * h).narrow(-1, 0, s * w)
                    })
                    .collect();
                images.push(Tensor::stack(&samples, 0));
            }
            Ok(self.prior.from_decorrelated(&Tensor::stack(&images, 0)).to_kind(Kind::Float))
        })
    }

    /// γ = 0 is the posterior mean: every sample is the same.
    fn is_deterministic(&self) -> bool {
        self.gamma == 0.0
    }
}

export_plugin!(GaussianPrior);
