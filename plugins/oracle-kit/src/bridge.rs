//! Moving tensors between the SDK's DLPack-like views and tch, without copies.

use std::sync::Mutex;

use tch::{Kind, Tensor};
use upbench_sdk::{
    abi_stable::sabi_trait::TD_Opaque, DType, Device, DeviceKind, OwnedTensor, PluginError, TensorOwner,
    TensorOwner_TO, TensorView,
};

/// The tch device for an SDK device.
pub fn tch_device(device: Device) -> tch::Device {
    match device.kind {
        DeviceKind::CUDA => tch::Device::Cuda(device.index.max(0) as usize),
        // `TensorView::validate` refuses unknown kinds before a view gets here.
        _ => tch::Device::Cpu,
    }
}

/// The SDK device for a tch device.
pub fn sdk_device(device: tch::Device) -> Result<Device, PluginError> {
    match device {
        tch::Device::Cpu => Ok(Device::CPU),
        tch::Device::Cuda(i) => Ok(Device::cuda(i as i32)),
        other => Err(PluginError::Failed(format!("unsupported device {other:?}").into())),
    }
}

fn tch_kind(dtype: DType) -> Result<Kind, PluginError> {
    match dtype {
        DType::F32 => Ok(Kind::Float),
        DType::F64 => Ok(Kind::Double),
        other => Err(PluginError::InvalidInput(format!("cannot read a tensor of dtype {other:?}").into())),
    }
}

/// A tch tensor aliasing the view's memory (no copy).
///
/// # Safety
/// The returned tensor must not outlive the owner of the view's memory: use it within the call
/// that received the view, and copy anything that must survive.
pub unsafe fn view_as_tensor(view: &TensorView) -> Result<Tensor, PluginError> {
    view.validate()?;
    Tensor::f_from_blob(
        view.data as *const u8,
        &view.shape,
        &view.strides,
        tch_kind(view.dtype)?,
        tch_device(view.device),
    )
    .map_err(PluginError::failed)
}

struct TchOwner(Mutex<Tensor>);

impl TensorOwner for TchOwner {
    fn held_bytes(&self) -> u64 {
        let t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (t.numel() * t.kind().elt_size_in_bytes()) as u64
    }
}

/// Hands a tch tensor across the boundary: made contiguous, then owned by the returned value.
pub fn tensor_into_owned(tensor: Tensor) -> Result<OwnedTensor, PluginError> {
    let tensor = tensor.f_contiguous().map_err(PluginError::failed)?;
    let dtype = match tensor.kind() {
        Kind::Float => DType::F32,
        Kind::Double => DType::F64,
        other => return Err(PluginError::Failed(format!("cannot return a tensor of kind {other:?}").into())),
    };
    let view = TensorView {
        data: tensor.data_ptr(),
        shape: tensor.size().into(),
        strides: tensor.stride().into(),
        dtype,
        device: sdk_device(tensor.device())?,
    };
    let owner = TensorOwner_TO::from_value(TchOwner(Mutex::new(tensor)), TD_Opaque);
    // SAFETY: the owner holds the very tensor whose storage the view describes.
    Ok(unsafe { OwnedTensor::from_parts(view, owner) })
}

/// The body every tch `restore` shares: wraps the measurements without a copy, seeds libtorch's
/// generator (shared with the host, which reseeds before it draws again), runs `sample` without
/// autograd and hands its `[n, n_samples, d]` result back.
pub fn restore_with(
    measurements: &TensorView,
    seed: u64,
    sample: impl FnOnce(&Tensor) -> Result<Tensor, PluginError>,
) -> Result<OwnedTensor, PluginError> {
    let _no_grad = tch::no_grad_guard();
    // SAFETY: `y` is dropped before this call returns, while the harness keeps the view alive.
    let y = unsafe { view_as_tensor(measurements)? };
    tch::manual_seed(seed as i64);
    if y.device().is_cuda() {
        tch::Cuda::manual_seed_all(seed);
    }
    let out = sample(&y)?;
    drop(y);
    tensor_into_owned(out)
}
