//! Stage 1: find and load model plugins, and resolve their parameters.
//!
//! [`load`] opens one library and checks it is an upbench plugin built against a compatible SDK;
//! [`scan`] does it for every library in a directory, collecting failures rather than stopping.
//! [`resolve_params`] turns a suite's parameter table (with sweeps) into type-checked
//! [`Params`](upbench_sdk::Params) sets.

mod loader;
mod params;

pub use loader::{harness_sdk_version, is_library, load, scan, LoadError, LoadedPlugin};
pub use params::{resolve_params, ParamError, PluginConfig};
