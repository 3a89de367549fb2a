//! The harness's integration tests, one binary: modules by feature.

mod util;

mod abi;
mod architecture;
mod calibration;
mod cli;
mod cluster;
mod evaluation;
mod exact_tasks;
mod image_models;
mod image_tasks;
mod images;
mod isolation;
mod loader;
mod mixture_tasks;
mod pytorch;
mod quality;
mod reports;
mod sampler;
mod scaffold;
mod sr_models;
mod timing;
