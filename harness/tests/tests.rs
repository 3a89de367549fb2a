//! The harness's integration tests, one binary: modules by feature.

mod util;

mod cli;
mod exact_tasks;
mod loader;
mod mixture_tasks;
