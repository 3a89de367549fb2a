//! The root module every plugin library exports, and its version strings.

use abi_stable::{
    declare_root_module_statics, library::RootModule, package_version_strings, sabi_types::VersionStrings,
    std_types::RResult, StableAbi,
};

use crate::{ModelBox, Params, PluginError_NE, PluginMetadata, TaskSpec};

/// The entry points of a plugin library. Built by [`crate::export_plugin!`].
///
/// Append-only: fields after `last_prefix_field` are new in later SDK versions and are read
/// through the `Option`-returning accessors of [`PluginModuleRef`].
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(option))]
pub struct PluginModule {
    /// The plugin's self-description.
    pub metadata: extern "C" fn() -> RResult<PluginMetadata, PluginError_NE>,
    /// Builds a model for `task` with the full, type-checked parameter set.
    #[sabi(last_prefix_field)]
    pub new_model: extern "C" fn(params: &Params, task: &TaskSpec) -> RResult<ModelBox, PluginError_NE>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "upbench_plugin";
    const NAME: &'static str = "upbench_plugin";
    /// The SDK's crate version: abi_stable refuses a plugin whose SDK is not semver-compatible.
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
