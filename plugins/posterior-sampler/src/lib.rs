//! `posterior-sampler`: exact draws from p(x | y). Perfect perception (P = 0), and by
//! `theory.md` result 3 (γ = 1) uncertainty exactly 2·N(X|Y).

use oracle_kit::ExactPosterior;
use upbench_sdk::{
    export_plugin, OwnedTensor, Params, Plugin, PluginError, PluginMetadata, RestoreModel, TaskKind, TaskSpec,
    TensorView,
};
use upbench_tch::restore_with;

/// The plugin.
pub struct PosteriorSampler;

impl Plugin for PosteriorSampler {
    type Model = PosteriorSamplerModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "posterior-sampler",
            env!("CARGO_PKG_VERSION"),
            "exact posterior sampling (oracle, perfect perception)",
        )
        .with_task_kinds(&TaskKind::EXACT)
        .stochastic()
    }

    fn new_model(_params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError> {
        Ok(PosteriorSamplerModel { posterior: ExactPosterior::from_task(task)? })
    }
}

/// The posterior of one task.
pub struct PosteriorSamplerModel {
    posterior: ExactPosterior,
}

impl RestoreModel for PosteriorSamplerModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        restore_with(y, seed, |y| self.posterior.draws(y, i64::from(n_samples)))
    }
}

export_plugin!(PosteriorSampler);
