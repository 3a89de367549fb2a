//! `posterior-mean`: the minimum-MSE estimate E[X | Y = y], computed exactly from the task's
//! Gaussian prior. Deterministic, so its perception index is infinite and it should sit at the
//! bound's P → ∞ end, U = N(X|Y) (`theory.md`, result 3 with γ → 0).

use oracle_kit::ExactPosterior;
use upbench_sdk::{
    export_plugin, OwnedTensor, Params, Plugin, PluginError, PluginMetadata, RestoreModel, TaskKind, TaskSpec,
    TensorView,
};
use upbench_tch::restore_with;

/// The plugin.
pub struct PosteriorMean;

impl Plugin for PosteriorMean {
    type Model = PosteriorMeanModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "posterior-mean",
            env!("CARGO_PKG_VERSION"),
            "exact posterior mean E[X|Y] (oracle, deterministic)",
        )
        .with_task_kinds(&TaskKind::EXACT)
    }

    fn new_model(_params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        Ok(PosteriorMeanModel { posterior: ExactPosterior::from_task(task)? })
    }
}

/// The posterior of one task.
pub struct PosteriorMeanModel {
    posterior: ExactPosterior,
}

impl RestoreModel for PosteriorMeanModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| {
            let mean = self.posterior.mean(y)?;
            Ok(mean.unsqueeze(1).expand([-1, i64::from(n_samples), -1], false))
        })
    }
}

export_plugin!(PosteriorMean);
