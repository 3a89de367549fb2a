//! Tensors crossing the boundary: a DLPack-like [`TensorView`] and an [`OwnedTensor`] that keeps
//! the memory behind a view alive, whichever side allocated it.

use std::ffi::c_void;

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RVec},
    StableAbi,
};

use crate::PluginError;

/// Element type of a tensor.
///
/// An open enum (abi_stable's field-less non-exhaustive form: a byte with named values), so that
/// a later 1.x SDK can add types such as bfloat16 without a layout change. A reader meets codes
/// it does not know as [`DType::is_known`] = false; [`TensorView::validate`] refuses them.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DType(u8);

impl DType {
    /// IEEE-754 binary32.
    pub const F32: DType = DType(0);
    /// IEEE-754 binary64.
    pub const F64: DType = DType(1);

    /// The code that crosses the boundary.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// The type with `code`, known or not.
    pub const fn from_code(code: u8) -> DType {
        DType(code)
    }

    /// Whether this SDK version knows the type.
    pub fn is_known(self) -> bool {
        self.size_bytes().is_some()
    }

    /// Size of one element in bytes, when the type is known.
    pub fn size_bytes(self) -> Option<usize> {
        match self {
            DType::F32 => Some(4),
            DType::F64 => Some(8),
            _ => None,
        }
    }
}

impl std::fmt::Debug for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            DType::F32 => f.write_str("F32"),
            DType::F64 => f.write_str("F64"),
            DType(code) => write!(f, "DType({code})"),
        }
    }
}

/// Kind of memory a tensor's data pointer refers to: an open enum like [`DType`], so that a
/// later 1.x SDK can add kinds (another accelerator) without a layout change.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceKind(u8);

impl DeviceKind {
    /// Host memory.
    pub const CPU: DeviceKind = DeviceKind(0);
    /// CUDA device memory.
    pub const CUDA: DeviceKind = DeviceKind(1);

    /// The code that crosses the boundary.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// The kind with `code`, known or not.
    pub const fn from_code(code: u8) -> DeviceKind {
        DeviceKind(code)
    }

    /// Whether this SDK version knows the kind.
    pub fn is_known(self) -> bool {
        matches!(self, DeviceKind::CPU | DeviceKind::CUDA)
    }
}

impl std::fmt::Debug for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            DeviceKind::CPU => f.write_str("Cpu"),
            DeviceKind::CUDA => f.write_str("Cuda"),
            DeviceKind(code) => write!(f, "DeviceKind({code})"),
        }
    }
}

/// A device: its kind and, for CUDA, the ordinal.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    /// CPU or CUDA.
    pub kind: DeviceKind,
    /// CUDA device ordinal; 0 for the CPU.
    pub index: i32,
}

impl Device {
    /// The host.
    pub const CPU: Device = Device { kind: DeviceKind::CPU, index: 0 };

    /// CUDA device `index`.
    pub fn cuda(index: i32) -> Device {
        Device { kind: DeviceKind::CUDA, index }
    }
}

/// A borrowed description of tensor memory, as in DLPack: no ownership, no copy.
///
/// `strides` are in elements (not bytes). A view is valid only while whatever owns its memory
/// is alive; across the boundary that owner travels with it in an [`OwnedTensor`].
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct TensorView {
    /// Address of element `[0, 0, …]` on `device`.
    pub data: *mut c_void,
    /// Size of each dimension.
    pub shape: RVec<i64>,
    /// Step between consecutive elements of each dimension, in elements.
    pub strides: RVec<i64>,
    /// Element type.
    pub dtype: DType,
    /// Where `data` lives.
    pub device: Device,
}

// SAFETY: a view is plain data (an address and a layout); the memory it describes is owned and
// synchronised by whoever owns it, which the `OwnedTensor` wrapper keeps alive.
unsafe impl Send for TensorView {}
// SAFETY: as above; a view offers no interior mutability of its own.
unsafe impl Sync for TensorView {}

impl TensorView {
    /// Number of elements.
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }

    /// Row-major strides for `shape`.
    pub fn contiguous_strides(shape: &[i64]) -> Vec<i64> {
        let mut strides = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1].max(1);
        }
        strides
    }

    /// Whether the view is dense and row-major.
    pub fn is_contiguous(&self) -> bool {
        self.strides.as_slice() == Self::contiguous_strides(&self.shape).as_slice()
    }

    /// Checks the invariants every view must hold: a known dtype and device kind, one stride per
    /// dimension, no negative size or stride, an element count and extent that fit in `i64`, and
    /// no null pointer unless the tensor is empty. It cannot know how much memory lies behind
    /// `data`: [`OwnedTensor::validate`] checks the extent against what the owner holds.
    pub fn validate(&self) -> Result<(), PluginError> {
        self.extent_bytes().map(|_| ())
    }

    /// The bytes from `data` up to the end of the furthest element the view can address,
    /// `(1 + Σ (shape_i − 1)·stride_i)·element size` (0 for an empty tensor), after the checks of
    /// [`TensorView::validate`]. Computed with checked arithmetic: a lying shape cannot wrap.
    pub fn extent_bytes(&self) -> Result<u64, PluginError> {
        let invalid = |message: String| Err(PluginError::InvalidInput(message.into()));
        let Some(element_bytes) = self.dtype.size_bytes() else {
            return invalid(format!("tensor has an unknown dtype code {}", self.dtype.code()));
        };
        if !self.device.kind.is_known() {
            return invalid(format!("tensor has an unknown device kind code {}", self.device.kind.code()));
        }
        if self.shape.len() != self.strides.len() {
            return invalid(format!("tensor has {} dimensions but {} strides", self.shape.len(), self.strides.len()));
        }
        if let Some(bad) = self.shape.iter().find(|&&s| s < 0) {
            return invalid(format!("negative dimension {bad} in tensor shape {:?}", self.shape.as_slice()));
        }
        if let Some(bad) = self.strides.iter().find(|&&s| s < 0) {
            return invalid(format!("negative stride {bad} in tensor strides {:?}", self.strides.as_slice()));
        }
        let overflow = || {
            PluginError::InvalidInput(
                format!(
                    "tensor shape {:?} with strides {:?} overflows the address range",
                    self.shape.as_slice(),
                    self.strides.as_slice()
                )
                .into(),
            )
        };
        let mut numel: i64 = 1;
        for &s in self.shape.iter() {
            numel = numel.checked_mul(s).ok_or_else(overflow)?;
        }
        if numel == 0 {
            return Ok(0);
        }
        if self.data.is_null() {
            return invalid("tensor data pointer is null".into());
        }
        let mut furthest: i64 = 0;
        for (&size, &stride) in self.shape.iter().zip(self.strides.iter()) {
            furthest =
                (size - 1).checked_mul(stride).and_then(|step| furthest.checked_add(step)).ok_or_else(overflow)?;
        }
        let bytes = furthest
            .checked_add(1)
            .and_then(|elements| elements.checked_mul(element_bytes as i64))
            .ok_or_else(overflow)?;
        Ok(bytes as u64)
    }

    /// Copies a contiguous CPU `f64` or `f32` view into a `Vec<f64>`, for plugins without a
    /// tensor library.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>, PluginError> {
        self.validate()?;
        if self.device != Device::CPU || !self.is_contiguous() {
            return Err(PluginError::InvalidInput("to_f64_vec needs a contiguous CPU tensor".into()));
        }
        let n = self.numel() as usize;
        if n == 0 {
            return Ok(Vec::new());
        }
        // SAFETY: the view was validated as contiguous, non-null and `n` elements long, and its
        // owner is alive for the duration of the call that handed it over.
        Ok(unsafe {
            match self.dtype {
                DType::F64 => std::slice::from_raw_parts(self.data as *const f64, n).to_vec(),
                DType::F32 => {
                    std::slice::from_raw_parts(self.data as *const f32, n).iter().map(|&v| f64::from(v)).collect()
                }
                other => return Err(PluginError::InvalidInput(format!("to_f64_vec cannot read {other:?}").into())),
            }
        })
    }
}

/// Whatever keeps a tensor's memory alive (an `RVec`, a tch tensor, a CUDA buffer…).
///
/// Dropping the trait object releases the memory, through the vtable of the side that made it.
#[sabi_trait]
pub trait TensorOwner: Send + Sync + 'static {
    /// Bytes kept valid from the view's data pointer onwards. The harness refuses a view that
    /// reaches past them ([`OwnedTensor::validate`]), so an owner must not under-report; it is
    /// the one fact about the memory the harness cannot check itself.
    fn held_bytes(&self) -> u64;
}

/// A boxed, type-erased [`TensorOwner`].
pub type TensorOwnerBox = TensorOwner_TO<RBox<()>>;

/// A tensor view together with the owner of its memory: what `restore` returns.
#[repr(C)]
#[derive(StableAbi)]
pub struct OwnedTensor {
    view: TensorView,
    owner: TensorOwnerBox,
}

impl std::fmt::Debug for OwnedTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedTensor").field("view", &self.view).field("held_bytes", &self.held_bytes()).finish()
    }
}

impl OwnedTensor {
    /// Pairs a view with the owner of its memory.
    ///
    /// # Safety
    /// `view` must describe memory that `owner` keeps valid until it is dropped.
    pub unsafe fn from_parts(view: TensorView, owner: TensorOwnerBox) -> Self {
        OwnedTensor { view, owner }
    }

    /// A contiguous CPU `f64` tensor holding `data` (moved, not copied).
    pub fn from_f64_vec(data: Vec<f64>, shape: &[i64]) -> Result<Self, PluginError> {
        Self::from_vec(data, shape, DType::F64)
    }

    /// A contiguous CPU `f32` tensor holding `data` (moved, not copied); since 1.1.
    pub fn from_f32_vec(data: Vec<f32>, shape: &[i64]) -> Result<Self, PluginError> {
        Self::from_vec(data, shape, DType::F32)
    }

    fn from_vec<T: Send + Sync + 'static>(data: Vec<T>, shape: &[i64], dtype: DType) -> Result<Self, PluginError> {
        let expected: i64 = shape.iter().product();
        if expected != data.len() as i64 {
            return Err(PluginError::Failed(
                format!("shape {shape:?} needs {expected} values, got {}", data.len()).into(),
            ));
        }
        let mut data = RVec::from(data);
        let view = TensorView {
            data: data.as_mut_ptr().cast(),
            shape: shape.into(),
            strides: TensorView::contiguous_strides(shape).into(),
            dtype,
            device: Device::CPU,
        };
        let owner = TensorOwner_TO::from_value(VecOwner(data), abi_stable::sabi_trait::TD_Opaque);
        // SAFETY: moving the RVec into the owner moves its header, not its heap buffer.
        Ok(unsafe { Self::from_parts(view, owner) })
    }

    /// The view; valid as long as `self` is alive.
    pub fn view(&self) -> &TensorView {
        &self.view
    }

    /// Bytes held by the owner.
    pub fn held_bytes(&self) -> u64 {
        self.owner.held_bytes()
    }

    /// Checks the view ([`TensorView::validate`]) and that every element it can address lies
    /// inside the bytes its owner holds from the data pointer on ([`TensorOwner::held_bytes`]).
    /// What the harness runs on every plugin output before it reads a byte of it.
    pub fn validate(&self) -> Result<(), PluginError> {
        let extent = self.view.extent_bytes()?;
        let held = self.held_bytes();
        if extent > held {
            return Err(PluginError::InvalidInput(
                format!(
                    "tensor view of shape {:?} with strides {:?} ({:?}) reaches {extent} bytes past its data \
                     pointer, but its owner holds only {held}",
                    self.view.shape.as_slice(),
                    self.view.strides.as_slice(),
                    self.view.dtype
                )
                .into(),
            ));
        }
        Ok(())
    }
}

struct VecOwner<T>(RVec<T>);

impl<T: Send + Sync + 'static> TensorOwner for VecOwner<T> {
    fn held_bytes(&self) -> u64 {
        (self.0.len() * std::mem::size_of::<T>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(data: &mut [f64], shape: &[i64], strides: &[i64]) -> TensorView {
        TensorView {
            data: data.as_mut_ptr().cast(),
            shape: shape.into(),
            strides: strides.into(),
            dtype: DType::F64,
            device: Device::CPU,
        }
    }

    #[test]
    fn extent_is_the_byte_after_the_furthest_element() {
        let mut data = vec![0.0; 24];
        assert_eq!(view(&mut data, &[2, 3, 4], &[12, 4, 1]).extent_bytes().unwrap(), 24 * 8);
        // A transposed view reaches as far; a broadcast (stride 0) reaches less.
        assert_eq!(view(&mut data, &[4, 3, 2], &[1, 4, 12]).extent_bytes().unwrap(), 24 * 8);
        assert_eq!(view(&mut data, &[5, 4], &[0, 1]).extent_bytes().unwrap(), 4 * 8);
        assert_eq!(view(&mut data, &[2, 0, 4], &[12, 4, 1]).extent_bytes().unwrap(), 0);
    }

    #[test]
    fn lying_layouts_are_refused() {
        let mut data = vec![0.0; 24];
        let message = |v: TensorView| v.validate().unwrap_err().to_string();
        assert!(message(view(&mut data, &[2, 12], &[-12, 1])).contains("negative stride -12"));
        assert!(message(view(&mut data, &[2, 12], &[i64::MAX / 2, 1])).contains("overflows"));
        assert!(message(view(&mut data, &[i64::MAX, 4], &[4, 1])).contains("overflows"));
        assert!(message(view(&mut data, &[2, 3], &[1])).contains("2 dimensions but 1 strides"));
        let owned = OwnedTensor::from_f64_vec(data, &[2, 12]).unwrap();
        assert!(owned.validate().is_ok());
        let mut lying = owned;
        lying.view.strides = vec![24, 2].into();
        let err = lying.validate().unwrap_err().to_string();
        assert!(err.contains("reaches 376 bytes past its data pointer, but its owner holds only 192"), "{err}");
    }
}
