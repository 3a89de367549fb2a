//! `isotropic-noise`: X̂ = μ_y + τ·Z with white Z. Its error covariance Σ_y + τ²·I is not a
//! multiple of Σ_y unless the posterior is itself isotropic, so on correlated posteriors it sits
//! strictly above the bound (suboptimal); on isotropic ones (d = 1, white prior with denoising)
//! it is a member of the optimal family.

use oracle_kit::ExactPosterior;
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::restore_with;
use upbench_tch::tch::{Kind, Tensor};

/// The plugin.
pub struct IsotropicNoise;

impl Plugin for IsotropicNoise {
    type Model = IsotropicNoiseModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "isotropic-noise",
            env!("CARGO_PKG_VERSION"),
            "posterior mean plus white noise of level τ (suboptimal)",
        )
        .with_task_kinds(&TaskKind::EXACT)
        .stochastic()
        .with_param(ParamSpec::new(
            "tau",
            ParamValue::Float(0.3),
            "τ > 0: standard deviation of the added white noise",
        ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let tau = params.float("tau")?;
        if !(tau > 0.0 && tau.is_finite()) {
            return Err(PluginError::InvalidParameter {
                name: "tau".into(),
                reason: format!("{tau} is not a positive number").into(),
            });
        }
        Ok(IsotropicNoiseModel { posterior: ExactPosterior::from_task(task)?, tau })
    }
}

/// The posterior of one task and τ.
pub struct IsotropicNoiseModel {
    posterior: ExactPosterior,
    tau: f64,
}

impl RestoreModel for IsotropicNoiseModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let mean = self.posterior.mean(y)?;
            let size = [mean.size()[0], i64::from(n_samples), self.posterior.signal_dim()];
            let noise = Tensor::f_randn(size, (Kind::Double, mean.device())).map_err(PluginError::failed)?;
            Ok(mean.unsqueeze(1) + noise * self.tau)
        })
    }
}

export_plugin!(IsotropicNoise);
