/*!
Building blocks for upbench's image plugins (bicubic, ESPCN, SRVGG, DnCNN, …).

Each plugin is its own crate written against `upbench-sdk` as a third party would; this library
holds what they share:

- [`colour`]: RGB ⇄ YCbCr (JPEG / BT.601 full range) and the luma used for grey models.
- [`resample::upsample_bicubic`]: MATLAB `imresize(…, s, 'bicubic')` for integer s > 1, in tch.
- [`StationaryPrior`] and [`FourierPosterior`]: a stationary Gaussian model of natural images
  fitted on training photographs, and its exact posterior for ×s bicubic SR and denoising, with
  the closed-form entropy power of its patches; [`inpaint`] samples its posterior for masks.
- [`dead_leaves`]: synthetic photographs-like images the program makes (no download).
- [`weights`]: finds a `.safetensors` file (relative names under `UPBENCH_MODELS_DIR`) and loads
  it into a `VarStore` by tensor name.

The tensor bridge to and from the SDK's views, and the image-task layout, are in [`upbench_tch`].
*/
#![warn(missing_docs)]

pub mod colour;
mod dead_leaves;
pub mod inpaint;
pub mod posterior;
pub mod prior;
pub mod resample;
pub mod weights;

pub use dead_leaves::dead_leaves;
pub use posterior::FourierPosterior;
pub use prior::StationaryPrior;

/// The environment variable naming the data directory (the harness sets it from `--data-dir`).
pub const DATA_DIR_VAR: &str = "UPBENCH_DATA_DIR";

/// The data directory plugins read training images from: `$UPBENCH_DATA_DIR`, else `./datasets`.
pub fn data_dir() -> std::path::PathBuf {
    std::env::var_os(DATA_DIR_VAR).map(std::path::PathBuf::from).unwrap_or_else(|| "datasets".into())
}
