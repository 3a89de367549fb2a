//! The compute device: chosen once (`--device auto|cpu|cuda`) and passed down.

use std::fmt;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChoice {
    /// CUDA when libtorch sees a GPU, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device 0; an error when none is available.
    Cuda,
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
        })
    }
}

/// `--device cuda` without a usable GPU.
#[derive(Debug, thiserror::Error)]
#[error("--device cuda: libtorch sees no CUDA device (built with CUDA: {built_with_cuda}); use --device cpu or auto")]
pub struct NoCuda {
    /// Whether libtorch itself has CUDA support.
    pub built_with_cuda: bool,
}

impl DeviceChoice {
    /// The device to run on.
    pub fn resolve(self) -> Result<tch::Device, NoCuda> {
        match self {
            DeviceChoice::Cpu => Ok(tch::Device::Cpu),
            DeviceChoice::Auto => Ok(tch::Device::cuda_if_available()),
            DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
            DeviceChoice::Cuda => Err(NoCuda { built_with_cuda: tch::utils::has_cuda() }),
        }
    }
}

/// A readable name: `cpu` or `cuda:0`.
pub fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".into(),
    }
}

/// The SDK's description of a tch device.
pub fn sdk_device(device: tch::Device) -> upbench_sdk::Device {
    match device {
        tch::Device::Cuda(i) => upbench_sdk::Device::cuda(i as i32),
        _ => upbench_sdk::Device::CPU,
    }
}

/// The tch device an SDK device names.
pub fn tch_device(device: upbench_sdk::Device) -> tch::Device {
    match device.kind {
        upbench_sdk::DeviceKind::CUDA => tch::Device::Cuda(device.index.max(0) as usize),
        // Outputs of unknown kinds are refused by `TensorView::validate` before they get here.
        _ => tch::Device::Cpu,
    }
}
