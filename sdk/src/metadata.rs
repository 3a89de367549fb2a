//! What a plugin says about itself, for `upbench plugins`, suite validation and reports.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::{Extensions, ParamSpec, TaskKind};

/// A plugin's self-description.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct PluginMetadata {
    /// Unique name; suite files refer to the plugin by it.
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// One line saying what the model does.
    pub description: RString,
    /// [`TaskKind`] names the plugin can solve.
    pub task_kinds: RVec<RString>,
    /// Whether the plugin's models may draw samples that differ from each other. Each model
    /// still says after construction whether its configuration does ([`crate::Model::stochastic`]);
    /// a deterministic one is asked for one sample per measurement.
    pub stochastic: bool,
    /// The parameters it accepts.
    pub params: RVec<ParamSpec>,
    /// Fields added by later 1.x SDK versions (none in 1.0): the extension point.
    pub extensions: Extensions,
}

impl PluginMetadata {
    /// A deterministic plugin with no task kinds and no parameters yet.
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        PluginMetadata {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            task_kinds: RVec::new(),
            stochastic: false,
            params: RVec::new(),
            extensions: Extensions::new(),
        }
    }

    /// Declares the task kinds the plugin solves.
    pub fn with_task_kinds(mut self, kinds: &[TaskKind]) -> Self {
        self.task_kinds = kinds.iter().map(|k| RString::from(k.as_str())).collect();
        self
    }

    /// Marks the model as a sampler.
    pub fn stochastic(mut self) -> Self {
        self.stochastic = true;
        self
    }

    /// Declares one more parameter.
    pub fn with_param(mut self, spec: ParamSpec) -> Self {
        self.params.push(spec);
        self
    }

    /// Whether the plugin declares `kind`.
    pub fn supports(&self, kind: TaskKind) -> bool {
        self.task_kinds.iter().any(|k| k.as_str() == kind.as_str())
    }
}
