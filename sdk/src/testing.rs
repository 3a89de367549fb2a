//! Test support: run a plugin through its exported entry points without the harness or dlopen.
//!
//! ```
//! # use upbench_sdk::testing;
//! // In a plugin's own tests: `let module = testing::module::<MyPlugin>();`
//! // then `module.metadata()()` and `module.new_model()(&params, &task)` exactly as the harness calls them.
//! ```

use crate::{export, ParamValue, Params, Plugin, PluginModuleRef};

/// The root module plugin `P` exports, built in-process: calls go through the same
/// panic-catching wrappers as in a loaded library.
pub fn module<P: Plugin>() -> PluginModuleRef {
    export::root_module::<P>()
}

/// The parameter set made of `P`'s declared defaults, with `overrides` applied by name.
pub fn params_with<P: Plugin>(overrides: &[(&str, ParamValue)]) -> Params {
    let meta = P::metadata();
    let entries = meta
        .params
        .iter()
        .map(|spec| {
            let value = overrides
                .iter()
                .find(|(n, _)| *n == spec.name.as_str())
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| spec.default.clone());
            crate::Param { name: spec.name.clone(), value }
        })
        .collect();
    Params { entries }
}
