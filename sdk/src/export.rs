//! The plugin author's side: the [`Plugin`] and [`RestoreModel`] traits, and the
//! [`export_plugin!`](crate::export_plugin) macro that turns them into a panic-safe root module.
//!
//! A panic unwinding out of an `extern "C"` entry point would abort the harness (abi_stable
//! prints "Attempted to panic across the ffi boundary" and exits), so every entry point built
//! here runs the author's code under `catch_unwind` and returns [`PluginError::Panicked`].
//! Plugins must therefore keep the default `panic = "unwind"`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    std_types::{RResult, RString},
};

use crate::{
    Model, ModelBox, Model_TO, OwnedTensor, Params, PluginError, PluginError_NE, PluginMetadata, PluginModule,
    PluginModuleRef, TaskSpec, TensorView,
};

/// A plugin: its metadata and a constructor of models.
pub trait Plugin {
    /// The model type this plugin builds.
    type Model: RestoreModel;

    /// Describes the plugin. Called once at load time.
    fn metadata() -> PluginMetadata;

    /// Builds a model for `task`. `params` holds every declared parameter, already type-checked.
    fn new_model(params: &Params, task: &TaskSpec) -> Result<Self::Model, PluginError>;
}

/// A model as its author writes it.
pub trait RestoreModel: Send + 'static {
    /// Restores `measurements` (`[n, m]`) into `[n, n_samples, d]` samples on the same device.
    fn restore(&mut self, measurements: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError>;

    /// Whether this configuration draws no randomness although the plugin is declared
    /// stochastic (a noise level of 0, say): the harness then asks for one sample per
    /// measurement and judges the configuration as deterministic. The default, `false`, keeps
    /// what the plugin's metadata says.
    fn is_deterministic(&self) -> bool {
        false
    }
}

/// Runs `f`, turning a panic into [`PluginError::Panicked`] with the panic's message.
pub fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError_NE> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => RResult::ROk(value),
        Ok(Err(err)) => RResult::RErr(err.into()),
        Err(payload) => RResult::RErr(PluginError::Panicked(panic_message(payload.as_ref())).into()),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> RString {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).into()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str().into()
    } else {
        "panic with a non-string payload".into()
    }
}

struct Guarded<M> {
    model: M,
    /// The plugin's metadata declares it stochastic.
    declared_stochastic: bool,
}

impl<M: RestoreModel> Model for Guarded<M> {
    fn restore(
        &mut self,
        measurements: &TensorView,
        n_samples: u32,
        seed: u64,
    ) -> RResult<OwnedTensor, PluginError_NE> {
        guard(|| {
            measurements.validate()?;
            self.model.restore(measurements, n_samples, seed)
        })
    }

    fn stochastic(&self) -> bool {
        // A panic must not unwind across the boundary: it is caught and read as `false`, so the
        // metadata's answer stands.
        self.declared_stochastic && !catch_unwind(AssertUnwindSafe(|| self.model.is_deterministic())).unwrap_or(false)
    }
}

/// Entry point: [`Plugin::metadata`] under `catch_unwind`.
pub extern "C" fn metadata_entry<P: Plugin>() -> RResult<PluginMetadata, PluginError_NE> {
    guard(|| Ok(P::metadata()))
}

/// Entry point: [`Plugin::new_model`] under `catch_unwind`, its model wrapped so that every
/// `restore` is guarded too.
pub extern "C" fn new_model_entry<P: Plugin>(params: &Params, task: &TaskSpec) -> RResult<ModelBox, PluginError_NE> {
    guard(|| {
        let declared_stochastic = P::metadata().stochastic;
        P::new_model(params, task).map(|model| Model_TO::from_value(Guarded { model, declared_stochastic }, TD_Opaque))
    })
}

/// The root module for plugin `P`, as [`export_plugin!`](crate::export_plugin) exports it.
pub fn root_module<P: Plugin>() -> PluginModuleRef {
    PluginModule { metadata: metadata_entry::<P>, new_model: new_model_entry::<P> }.leak_into_prefix()
}

/// Exports plugin type `$plugin` (implementing [`Plugin`]) as this library's root module.
///
/// The crate must be built as a `cdylib`; it needs no dependency but `upbench-sdk`. The macro
/// writes out what `#[abi_stable::export_root_module]` would emit (abi_stable 0.11), through the
/// SDK's re-export [`crate::abi_stable`]: that attribute's expansion names `::abi_stable`, which
/// would make every plugin depend on abi_stable itself. The symbol is abi_stable's
/// `library::ROOT_MODULE_LOADER_NAME`, which an SDK test compares with this literal.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The library's root module, loaded by the upbench harness.
        pub fn upbench_plugin_root_module() -> $crate::PluginModuleRef {
            $crate::export::root_module::<$plugin>()
        }

        /// The header the harness's loader looks the root module up by.
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static UPBENCH_PLUGIN_LIB_HEADER: $crate::abi_stable::library::LibHeader = {
            extern "C" fn erased_root_module() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(upbench_plugin_root_module)
            }
            // SAFETY: what `#[export_root_module]` does: the constructor returns this module type.
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<$crate::PluginModuleRef>(
                    erased_root_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

/// The literal [`export_plugin!`] exports its header under (an attribute takes no constant).
#[doc(hidden)]
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[cfg(test)]
mod tests {
    #[test]
    fn the_exported_symbol_is_the_one_abi_stable_loads() {
        assert_eq!(super::ROOT_MODULE_SYMBOL, abi_stable::library::ROOT_MODULE_LOADER_NAME);
        // The macro's literal is this constant's: a mismatch would fail every loader test too.
        assert!(include_str!("export.rs").contains(&format!("export_name = \"{}\"", super::ROOT_MODULE_SYMBOL)));
    }
}
