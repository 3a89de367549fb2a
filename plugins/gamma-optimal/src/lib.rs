//! `gamma-optimal`: X̂ = μ_y + √γ·(X' − μ_y) with X' an independent posterior draw, the family
//! that attains the uncertainty–perception bound on Gaussian posteriors (`theory.md`, result 3):
//! its conditional covariance is γ·Σ_y, its uncertainty (1+γ)·N(X|Y) = η(P; d)·N(X|Y). On a
//! Gaussian-mixture posterior it is the same family around the posterior mean, no longer optimal
//! in general.

use oracle_kit::ExactPosterior;
use upbench_sdk::{
    export_plugin, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError, PluginMetadata, RestoreModel,
    TaskKind, TaskSpec, TensorView,
};
use upbench_tch::restore_with;

/// The plugin.
pub struct GammaOptimal;

impl Plugin for GammaOptimal {
    type Model = GammaOptimalModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "gamma-optimal",
            env!("CARGO_PKG_VERSION"),
            "optimal family μ + √γ·(X' − μ): on the bound (oracle)",
        )
        .with_task_kinds(&TaskKind::EXACT)
        .stochastic()
        .with_param(ParamSpec::new(
            "gamma",
            ParamValue::Float(0.5),
            "γ ∈ [0, 1]: 0 = posterior mean, 1 = posterior sampling",
        ))
    }

    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        let gamma = params.float("gamma")?;
        if !(0.0..=1.0).contains(&gamma) {
            return Err(PluginError::InvalidParameter {
                name: "gamma".into(),
                reason: format!("{gamma} is outside [0, 1]").into(),
            });
        }
        Ok(GammaOptimalModel { posterior: ExactPosterior::from_task(task)?, scale: gamma.sqrt() })
    }
}

/// The posterior of one task and √γ.
pub struct GammaOptimalModel {
    posterior: ExactPosterior,
    scale: f64,
}

impl RestoreModel for GammaOptimalModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let mean = self.posterior.mean(y)?.unsqueeze(1);
            let draws = self.posterior.draws(y, i64::from(n_samples))?;
            Ok(&mean + (draws - &mean) * self.scale)
        })
    }

    /// γ = 0 is the posterior mean: every sample is the same.
    fn is_deterministic(&self) -> bool {
        self.scale == 0.0
    }
}

export_plugin!(GammaOptimal);
