//! Tensors across the SDK boundary: SDK views as tch tensors without a copy, tch tensors back as
//! owned SDK tensors that keep them alive, and the body every tch `restore` shares.

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

/// The SDK device for a tch device; other tch devices (MPS, Vulkan, …) are refused.
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

/// A tch tensor aliasing the view's memory (no copy), after [`TensorView::validate`].
///
/// # Safety
/// The returned tensor, and every tensor sharing its storage (views, `reshape`s of it), must not
/// outlive the owner of the view's memory: use them within the call that received the view and
/// copy anything that must survive. [`restore_with`] does this for you.
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
///
/// The tensor must own its memory (not alias a view the harness passed in): [`restore_with`]
/// guarantees that; a plugin calling this directly must copy such tensors first.
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

/// A copy of `tensor` in memory of its own, on its device.
fn fresh_copy(tensor: &Tensor) -> Result<Tensor, PluginError> {
    let mut copy = tensor.f_empty_like().map_err(PluginError::failed)?;
    copy.f_copy_(tensor).map_err(PluginError::failed)?;
    Ok(copy)
}

/// Whether a contiguous `tensor`'s elements share memory with the (validated) view's.
fn overlaps(tensor: &Tensor, view: &TensorView) -> Result<bool, PluginError> {
    if tch_device(view.device) != tensor.device() {
        return Ok(false);
    }
    let view_start = view.data as usize;
    let view_end = view_start + view.extent_bytes()? as usize;
    let start = tensor.data_ptr() as usize;
    let end = start + tensor.numel() * tensor.kind().elt_size_in_bytes();
    Ok(start < view_end && view_start < end)
}

/// The body every tch `restore` shares.
///
/// Wraps the measurements without a copy, seeds libtorch's CPU and CUDA generators from `seed`
/// (they are shared with the host, which reseeds before it draws again), runs `sample` without
/// autograd and hands its result back (`[n, K, d]` for exact tasks, `[n, K, C, H, W]` for image
/// tasks). A result that still shares memory with the measurements (an identity model returning
/// `y.unsqueeze(1)`, say) is copied first: the harness frees its buffers after the call.
pub fn restore_with(
    measurements: &TensorView,
    seed: u64,
    sample: impl FnOnce(&Tensor) -> Result<Tensor, PluginError>,
) -> Result<OwnedTensor, PluginError> {
    let _no_grad = tch::no_grad_guard();
    // SAFETY: `y` and every tensor aliasing it are dropped or copied before this call returns,
    // while the harness keeps the view alive.
    let y = unsafe { view_as_tensor(measurements)? };
    seed_generators(seed, y.device());
    let out = sample(&y)?.f_contiguous().map_err(PluginError::failed)?;
    let out = if overlaps(&out, measurements)? { fresh_copy(&out)? } else { out };
    drop(y);
    tensor_into_owned(out)
}

/// Seeds libtorch's CPU generator, and every CUDA generator when `device` is a GPU, so that a
/// seed reproduces a model's draws on one device.
pub fn seed_generators(seed: u64, device: tch::Device) {
    tch::manual_seed(seed as i64);
    if device.is_cuda() {
        tch::Cuda::manual_seed_all(seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_of(values: &[f64], shape: &[i64]) -> TensorView {
        TensorView {
            data: values.as_ptr() as *mut std::ffi::c_void,
            shape: shape.to_vec().into(),
            strides: TensorView::contiguous_strides(shape).into(),
            dtype: DType::F64,
            device: Device::CPU,
        }
    }

    #[test]
    fn a_result_aliasing_the_measurements_is_copied_before_it_crosses() {
        let mut values = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let view = view_of(&values, &[3, 2]);
        let owned = restore_with(&view, 7, |y| Ok(y.unsqueeze(1))).unwrap();
        let out = owned.view();
        let (input, output) = (values.as_ptr() as usize, out.data as usize);
        assert!(output + 48 <= input || output >= input + 48, "the result still points into the input");
        // The harness may overwrite or free its buffer: the result must not change.
        values.iter_mut().for_each(|v| *v = -1.0);
        let read: Vec<f64> = (0..6).map(|i| unsafe { *(out.data as *const f64).add(i) }).collect();
        assert_eq!(read, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(&out.shape[..], &[3, 1, 2]);
    }

    #[test]
    fn a_fresh_result_is_handed_over_without_a_copy() {
        let values = vec![1.0, 2.0];
        let view = view_of(&values, &[1, 2]);
        let mut produced = 0usize;
        let owned = restore_with(&view, 7, |y| {
            let out = (y * 2.0).unsqueeze(1);
            produced = out.data_ptr() as usize;
            Ok(out)
        })
        .unwrap();
        assert_eq!(owned.view().data as usize, produced);
    }

    #[test]
    fn one_seed_reproduces_the_draws() {
        let values = vec![0.0; 4];
        let view = view_of(&values, &[2, 2]);
        let draw = |seed| {
            let owned = restore_with(&view, seed, |y| Ok(y.randn_like().unsqueeze(1))).unwrap();
            let out = owned.view();
            (0..4).map(|i| unsafe { *(out.data as *const f64).add(i) }).collect::<Vec<f64>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
