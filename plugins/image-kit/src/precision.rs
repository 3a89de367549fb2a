//! The arithmetic a network computes in (the `precision` parameter of the pretrained SR plugins):
//! float32 (the default), float64 (a reference: CPU or CUDA), and on CUDA float16 through
//! libtorch's autocast or bfloat16 weights and activations.
//!
//! Why float64: float32 results of libtorch's convolutions depend in their last bits on the input
//! size and the thread count (kernels block and split the work differently), about 1e-6 on a
//! network's [0, 1] output; float64 makes such properties as "tiles reproduce the whole image"
//! checkable to 1e-12. Why bfloat16 is not autocast: tch exposes no way to choose autocast's
//! low-precision type, which is float16 on CUDA.

use upbench_sdk::{ParamSpec, ParamValue, Params, PluginError};
use upbench_tch::tch::nn::VarStore;
use upbench_tch::tch::{autocast, Device, Kind, Tensor};

/// The parameter's name.
pub const PARAM: &str = "precision";

/// How a network computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// float32 weights and activations (the default).
    Float32,
    /// float64 weights and activations: a slow reference.
    Float64,
    /// CUDA only: libtorch's autocast (convolutions in float16, reductions in float32).
    Float16Autocast,
    /// CUDA only: bfloat16 weights and activations.
    BFloat16,
}

impl Precision {
    /// The parameter declaration (default float32).
    pub fn param_spec() -> ParamSpec {
        ParamSpec::new(
            PARAM,
            ParamValue::Text("float32".into()),
            "\"float32\"; \"float64\" (reference); on CUDA \"float16\" (autocast) or \"bfloat16\" (weights and activations)",
        )
    }

    /// Reads and checks the parameter for a model on `device`: the half types only on CUDA.
    pub fn from_params(params: &Params, device: Device) -> Result<Precision, PluginError> {
        let text = params.text(PARAM)?;
        let invalid = |reason: String| PluginError::InvalidParameter { name: PARAM.into(), reason: reason.into() };
        let precision = match text {
            "float32" => Precision::Float32,
            "float64" => Precision::Float64,
            "float16" => Precision::Float16Autocast,
            "bfloat16" => Precision::BFloat16,
            other => {
                return Err(invalid(format!(
                    "'{other}' is none of \"float32\", \"float64\", \"float16\", \"bfloat16\""
                )))
            }
        };
        if matches!(precision, Precision::Float16Autocast | Precision::BFloat16) && !device.is_cuda() {
            return Err(invalid(format!("'{text}' needs a CUDA device; on the CPU \"float32\" or \"float64\" run")));
        }
        Ok(precision)
    }

    /// Casts the loaded weights to the kind this precision keeps them in.
    pub fn prepare(self, vs: &mut VarStore) {
        match self {
            Precision::Float32 | Precision::Float16Autocast => {}
            Precision::Float64 => vs.double(),
            Precision::BFloat16 => vs.bfloat16(),
        }
    }

    /// `net` (a network with its weights prepared by [`Precision::prepare`]) on float32 `x` in
    /// this precision: float32 out, float64 for [`Precision::Float64`].
    pub fn run(self, x: &Tensor, net: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
        match self {
            Precision::Float32 => net(x),
            Precision::Float64 => net(&x.to_kind(Kind::Double)),
            Precision::Float16Autocast => autocast(true, || net(x)).to_kind(Kind::Float),
            Precision::BFloat16 => net(&x.to_kind(Kind::BFloat16)).to_kind(Kind::Float),
        }
    }
}
