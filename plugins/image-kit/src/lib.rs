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
- [`weights`]: finds a `.safetensors` file (relative names in the run's models directory) and loads
  it into a `VarStore` by tensor name ([`weights::load_checked`]: only a file of exactly the
  model's tensors and shapes).
- [`tile::Tiling`]: tiled inference for super-resolution networks (the `tile` and
  `tile_overlap` parameters), exact for purely convolutional networks given enough overlap.
- [`precision::Precision`]: the arithmetic of a network (the `precision` parameter): float32,
  float64, or on CUDA float16 autocast / bfloat16.
- [`sr_checks`]: the tests every pretrained ×4 SR plugin shares (conformance, named refusals,
  tiles against the whole image).
- [`sr_task`]: the ×s RGB super-resolution task a pretrained SR network needs, else a named error.

The tensor bridge to and from the SDK's views, and the image-task layout, are in [`upbench_tch`].
*/
#![warn(missing_docs)]

pub mod colour;
mod dead_leaves;
pub mod inpaint;
pub mod posterior;
pub mod precision;
pub mod prior;
pub mod resample;
pub mod sr_checks;
pub mod tile;
pub mod weights;

pub use dead_leaves::dead_leaves;
pub use posterior::FourierPosterior;
pub use prior::StationaryPrior;

/// The image task of a pretrained ×`scale` RGB super-resolution network called `plugin`; any
/// other kind, factor or channel count is [`upbench_sdk::PluginError::UnsupportedTask`], before any weights
/// are read.
pub fn sr_task(
    task: &upbench_sdk::TaskSpec,
    plugin: &str,
    scale: i64,
) -> Result<upbench_tch::ImageTask, upbench_sdk::PluginError> {
    let kind = upbench_sdk::TaskKind::ImageSuperResolution;
    let image = upbench_tch::ImageTask::from_spec(task, &[kind])
        .map_err(|e| upbench_sdk::PluginError::UnsupportedTask(format!("{plugin}: {e}").into()))?;
    if image.scale != scale || image.channels != 3 {
        return Err(upbench_sdk::PluginError::UnsupportedTask(
            format!(
                "{plugin} needs ×{scale} RGB super-resolution; task '{}' is ×{} with {} channel(s)",
                task.name, image.scale, image.channels
            )
            .into(),
        ));
    }
    Ok(image)
}

/// The environment variable a user may set to name the data directory, read when the harness
/// sends none (SDK < 1.3, or a plugin run outside the harness).
pub const DATA_DIR_VAR: &str = "UPBENCH_DATA_DIR";

/// The data directory plugins read training images from: the run's, as the task states it (SDK
/// 1.3, `upbench run --data-dir`), else `$UPBENCH_DATA_DIR`, else `./datasets`.
pub fn data_dir(task: &upbench_sdk::TaskSpec) -> std::path::PathBuf {
    task.data_dir()
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os(DATA_DIR_VAR).map(std::path::PathBuf::from))
        .unwrap_or_else(|| "datasets".into())
}
