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
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// IEEE-754 binary32.
    F32 = 0,
    /// IEEE-754 binary64.
    F64 = 1,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

/// Kind of memory a tensor's data pointer refers to.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// Host memory.
    Cpu = 0,
    /// CUDA device memory.
    Cuda = 1,
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
    pub const CPU: Device = Device { kind: DeviceKind::Cpu, index: 0 };

    /// CUDA device `index`.
    pub fn cuda(index: i32) -> Device {
        Device { kind: DeviceKind::Cuda, index }
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

    /// Checks the invariants every view must hold: one stride per dimension, no negative size,
    /// no null pointer unless the tensor is empty.
    pub fn validate(&self) -> Result<(), PluginError> {
        if self.shape.len() != self.strides.len() {
            return Err(PluginError::InvalidInput(
                format!("tensor has {} dimensions but {} strides", self.shape.len(), self.strides.len()).into(),
            ));
        }
        if let Some(bad) = self.shape.iter().find(|&&s| s < 0) {
            return Err(PluginError::InvalidInput(format!("negative dimension {bad} in tensor shape").into()));
        }
        if self.data.is_null() && self.numel() > 0 {
            return Err(PluginError::InvalidInput("tensor data pointer is null".into()));
        }
        Ok(())
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
            }
        })
    }
}

/// Whatever keeps a tensor's memory alive (an `RVec`, a tch tensor, a CUDA buffer…).
///
/// Dropping the trait object releases the memory, through the vtable of the side that made it.
#[sabi_trait]
pub trait TensorOwner: Send + Sync + 'static {
    /// Bytes held, for diagnostics.
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
            dtype: DType::F64,
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
}

struct VecOwner(RVec<f64>);

impl TensorOwner for VecOwner {
    fn held_bytes(&self) -> u64 {
        (self.0.len() * std::mem::size_of::<f64>()) as u64
    }
}
