//! Stage 3: run a model on a task's measurements and time it.
//!
//! [`restore`] hands the measurements to the plugin as a zero-copy view, checks what comes back
//! (a layout inside the bytes its owner holds, shape, dtype, device, finiteness) and copies it
//! into a harness-owned float64 tensor.
//! [`CallTimes`] times the calls that make the measured samples; [`with_criterion`] adds
//! criterion's timing where the budget allows (module `throughput`).

mod given;
mod throughput;

pub use given::{Expected, GivenError, GivenSamples};
pub(crate) use throughput::timing_of_any_schema;
pub use throughput::{
    criterion_fits, with_criterion, CallTimes, CriterionDir, TimedCalls, Timing, TimingConfig, TimingSource,
};

use tch::{Kind, Tensor};
use upbench_sdk::conformance::{check_output, ConformanceError};
use upbench_sdk::{DType, ModelBox, PluginError, TensorView};

use crate::device::{sdk_device, tch_device};

/// Why a model's output could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plugin returned an error (or panicked).
    #[error("{0}")]
    Plugin(#[from] PluginError),
    /// It returned something of the wrong shape, type or device.
    #[error("plugin output is malformed: {0}")]
    Malformed(String),
    /// It returned NaN or infinite values.
    #[error("plugin output contains NaN or infinite values")]
    NonFinite,
    /// libtorch failed on the harness side.
    #[error("libtorch error: {0}")]
    Torch(#[from] tch::TchError),
}

/// A view of a contiguous harness tensor, for the duration of a call.
pub fn view_of(tensor: &Tensor) -> Result<TensorView, RunError> {
    let dtype = match tensor.kind() {
        Kind::Double => DType::F64,
        Kind::Float => DType::F32,
        other => return Err(RunError::Malformed(format!("cannot pass a {other:?} tensor"))),
    };
    Ok(TensorView {
        data: tensor.data_ptr(),
        shape: tensor.size().into(),
        strides: tensor.stride().into(),
        dtype,
        device: sdk_device(tensor.device()),
    })
}

/// Calls `model.restore` on `measurements` (`[n, …]`, contiguous) and returns its samples as a
/// float64 tensor `[n, n_samples, sample_shape…]` on the measurements' device: `sample_shape` is
/// `[d]` for exact tasks, `[C, H, W]` for images.
pub fn restore(
    model: &mut ModelBox,
    measurements: &Tensor,
    n_samples: u32,
    seed: u64,
    sample_shape: &[i64],
) -> Result<Tensor, RunError> {
    restore_timed(model, measurements, n_samples, seed, sample_shape).map(|(samples, _)| samples)
}

/// [`restore`], with the seconds spent in the plugin's own call (the device synchronised
/// around it): the rest is the harness's checks and copy.
pub fn restore_timed(
    model: &mut ModelBox,
    measurements: &Tensor,
    n_samples: u32,
    seed: u64,
    sample_shape: &[i64],
) -> Result<(Tensor, f64), RunError> {
    let view = view_of(measurements)?;
    let sync = || {
        if let tch::Device::Cuda(i) = measurements.device() {
            tch::Cuda::synchronize(i as i64);
        }
    };
    sync();
    let started = std::time::Instant::now();
    let output = model.restore(&view, n_samples, seed).into_result();
    sync();
    let plugin_secs = started.elapsed().as_secs_f64();
    let output = output.map_err(PluginError::from)?;
    // Every byte the view can address must lie inside what its owner holds before any is read:
    // a plugin that lies about its strides must not make the harness read memory it does not own.
    // The SDK's conformance kit runs the same check in the plugin's own tests.
    check_output(&output, &view, n_samples, sample_shape).map_err(|e| match e {
        ConformanceError::Plugin(e) => RunError::Plugin(e),
        violation => RunError::Malformed(violation.to_string()),
    })?;
    let out = output.view();
    let kind = match out.dtype {
        DType::F32 => Kind::Float,
        DType::F64 => Kind::Double,
        other => return Err(RunError::Malformed(format!("unknown dtype {other:?}"))),
    };
    // SAFETY: `output` owns the memory and outlives `borrowed`, which is copied before both drop.
    let borrowed =
        unsafe { Tensor::f_from_blob(out.data as *const u8, &out.shape, &out.strides, kind, tch_device(out.device))? };
    let samples = borrowed.f_to_dtype(Kind::Double, false, true)?;
    drop(borrowed);
    drop(output);
    if !bool::try_from(samples.isfinite().all())? {
        return Err(RunError::NonFinite);
    }
    Ok((samples, plugin_secs))
}
