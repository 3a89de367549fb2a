//! `overdispersed-sampler`: X̂ = μ_y + s·(X' − μ_y) with s > 1, a sampler whose spread is too
//! wide by the factor s. Its perception index equals that of the optimal model with γ = 1/s², but
//! its uncertainty is (1 + s²)·N(X|Y) instead of (1 + 1/s²)·N(X|Y): strictly suboptimal.

use oracle_kit::ExactPosterior;
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::restore_with;

/// The plugin.
pub struct OverdispersedSampler;

impl Plugin for OverdispersedSampler {
    type Model = OverdispersedSamplerModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "overdispersed-sampler",
            env!("CARGO_PKG_VERSION"),
            "miscalibrated sampler, spread too wide by s (suboptimal)",
        )
        .with_task_kinds(&TaskKind::EXACT)
        .stochastic()
        .with_param(ParamSpec::new(
            "spread",
            ParamValue::Float(1.5),
            "s ≥ 1: factor on the posterior's standard deviations",
        ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let spread = params.float("spread")?;
        if !(spread >= 1.0 && spread.is_finite()) {
            return Err(PluginError::InvalidParameter {
                name: "spread".into(),
                reason: format!("{spread} is below 1").into(),
            });
        }
        Ok(OverdispersedSamplerModel { posterior: ExactPosterior::from_task(task)?, spread })
    }
}

/// The posterior of one task and s.
pub struct OverdispersedSamplerModel {
    posterior: ExactPosterior,
    spread: f64,
}

impl RestoreModel for OverdispersedSamplerModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let mean = self.posterior.mean(y)?.unsqueeze(1);
            let draws = self.posterior.draws(y, i64::from(n_samples))?;
            Ok(&mean + (draws - &mean) * self.spread)
        })
    }
}

export_plugin!(OverdispersedSampler);
