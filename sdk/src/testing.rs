//! Test support: run a plugin through its exported entry points without the harness or dlopen,
//! and check its outputs as the harness does ([`crate::conformance`]).
//!
//! ```
//! # use upbench_sdk::testing;
//! // In a plugin's own tests: `let module = testing::module::<MyPlugin>();`
//! // then `module.metadata()()` and `module.new_model()(&params, &task)` exactly as the harness
//! // calls them, `testing::exact_task(..)` or `testing::image_task(..)` for the task, and
//! // `testing::restore_checked(..)` and `testing::check_seeding(..)` on the model.
//! ```

use crate::conformance::{check_output, ConformanceError};
use crate::PluginError;
use crate::{
    export, DType, Device, Extensions, GaussianPrior, ImageTaskSpec, MixturePrior, ModelBox, ParamValue, Params,
    Plugin, PluginModuleRef, TaskKind, TaskSpec, TensorView,
};

/// The root module plugin `P` exports, built in-process: calls go through the same
/// panic-catching wrappers as in a loaded library.
pub fn module<P: Plugin>() -> PluginModuleRef {
    export::root_module::<P>()
}

/// The parameter set made of `P`'s declared defaults, with `overrides` applied by name.
pub fn params_with<P: Plugin>(overrides: &[(&str, ParamValue)]) -> Params {
    let meta = P::metadata();
    let entries = meta
        .params
        .iter()
        .map(|spec| {
            let value = overrides
                .iter()
                .find(|(n, _)| *n == spec.name.as_str())
                .map(|(_, v)| v.clone().into())
                .unwrap_or_else(|| spec.default.clone());
            crate::Param { name: spec.name.clone(), value }
        })
        .collect();
    Params { entries }
}

/// An exact task of `kind` in `dim` dimensions as the harness describes it, on the CPU: identity
/// operator (m = d), noise σ = `noise_std`, a standard normal prior (one mixture component).
pub fn exact_task(kind: TaskKind, dim: usize, noise_std: f64) -> TaskSpec {
    let identity: Vec<f64> = (0..dim * dim).map(|i| if i % (dim + 1) == 0 { 1.0 } else { 0.0 }).collect();
    let prior = GaussianPrior { mean: vec![0.0; dim].into(), covariance: identity.clone().into() };
    TaskSpec {
        name: format!("test-{}", kind.as_str()).as_str().into(),
        kind: kind.as_str().into(),
        signal_dim: dim as u64,
        measurement_dim: dim as u64,
        operator: identity.into(),
        noise_std,
        prior: Some(MixturePrior { weights: vec![1.0].into(), components: vec![prior].into() }).into(),
        device: Device::CPU,
        image: None.into(),
        extensions: Extensions::new(),
    }
}

/// An image task of `kind` as the harness describes it, on the CPU: `channels`, ×`scale`
/// (1 for denoising and inpainting), noise σ = `noise_std` on the [0, 1] scale.
pub fn image_task(kind: TaskKind, channels: u32, scale: u32, noise_std: f64) -> TaskSpec {
    TaskSpec {
        name: format!("test-{}", kind.as_str()).as_str().into(),
        kind: kind.as_str().into(),
        signal_dim: 0,
        measurement_dim: 0,
        operator: Vec::new().into(),
        noise_std,
        prior: None.into(),
        device: Device::CPU,
        image: Some(ImageTaskSpec::new(channels, scale)).into(),
        extensions: Extensions::new(),
    }
}

/// Calls `model.restore(measurements, n_samples, seed)` and checks the output exactly as the
/// harness does ([`check_output`]), then reads it (CPU outputs, any valid strides) and checks
/// that every value is finite: the values in `[n, n_samples, sample_shape…]` order.
pub fn restore_checked(
    model: &mut ModelBox,
    measurements: &TensorView,
    n_samples: u32,
    seed: u64,
    sample_shape: &[i64],
) -> Result<Vec<f64>, ConformanceError> {
    let output = model.restore(measurements, n_samples, seed).into_result().map_err(PluginError::from)?;
    check_output(&output, measurements, n_samples, sample_shape)?;
    let values = read_cpu(output.view())?;
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ConformanceError::NonFinite { index }),
        None => Ok(values),
    }
}

/// Checks the seed contract: the same seed twice gives the same samples, bit for bit; when the
/// model says its configuration is stochastic ([`crate::Model::stochastic`]), a different seed
/// gives different ones.
pub fn check_seeding(
    model: &mut ModelBox,
    measurements: &TensorView,
    n_samples: u32,
    sample_shape: &[i64],
) -> Result<(), ConformanceError> {
    let stochastic = model.stochastic();
    let first = restore_checked(model, measurements, n_samples, 11, sample_shape)?;
    let again = restore_checked(model, measurements, n_samples, 11, sample_shape)?;
    if first.iter().zip(&again).any(|(a, b)| a.to_bits() != b.to_bits()) {
        return Err(ConformanceError::Unreproducible);
    }
    if stochastic && first == restore_checked(model, measurements, n_samples, 12, sample_shape)? {
        return Err(ConformanceError::IgnoresSeed);
    }
    Ok(())
}

/// The values of a validated CPU view in logical (row-major) order, whatever its strides.
fn read_cpu(view: &TensorView) -> Result<Vec<f64>, ConformanceError> {
    if view.device != Device::CPU {
        return Err(ConformanceError::Layout(format!(
            "restore_checked reads CPU outputs; this one is on {:?} (the harness checks those)",
            view.device
        )));
    }
    let shape = view.shape.as_slice();
    let count: i64 = shape.iter().product();
    let mut values = Vec::with_capacity(count.max(0) as usize);
    let mut index = vec![0i64; shape.len()];
    for _ in 0..count {
        let offset: i64 = index.iter().zip(view.strides.as_slice()).map(|(i, s)| i * s).sum();
        // SAFETY: `check_output` validated that every element the shape and strides address
        // lies inside the bytes the owner holds, and the owner is alive.
        let value = unsafe {
            match view.dtype {
                DType::F64 => *(view.data as *const f64).offset(offset as isize),
                DType::F32 => f64::from(*(view.data as *const f32).offset(offset as isize)),
                other => return Err(ConformanceError::Layout(format!("restore_checked cannot read {other:?}"))),
            }
        };
        values.push(value);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OwnedTensor, PluginError, PluginMetadata, RestoreModel};

    /// Sample s of y is y + seed + s, or the model misbehaves as its `misbehave` parameter says.
    struct Toy;
    #[derive(Clone, Copy)]
    enum Misbehaviour {
        None,
        IgnoresSeed,
        WrongShape,
        NaN,
        /// Ignores the seed and says so: a deterministic configuration of a stochastic plugin.
        Deterministic,
    }
    struct ToyModel(Misbehaviour);

    impl crate::Plugin for Toy {
        type Model = ToyModel;
        fn metadata() -> PluginMetadata {
            PluginMetadata::new("toy", "1.0.0", "test")
                .stochastic()
                .with_task_kinds(&[TaskKind::Denoising])
                .with_param(crate::ParamSpec::new("misbehave", ParamValue::Int(0), "which breach"))
        }
        fn new_model(params: &Params, _: &TaskSpec) -> Result<ToyModel, PluginError> {
            let all = [
                Misbehaviour::None,
                Misbehaviour::IgnoresSeed,
                Misbehaviour::WrongShape,
                Misbehaviour::NaN,
                Misbehaviour::Deterministic,
            ];
            Ok(ToyModel(all[params.int("misbehave")? as usize]))
        }
    }

    impl RestoreModel for ToyModel {
        fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
            let values = y.to_f64_vec()?;
            let (n, d) = (y.shape[0], y.shape[1]);
            let ignores_seed = matches!(self.0, Misbehaviour::IgnoresSeed | Misbehaviour::Deterministic);
            let shift = if ignores_seed { 0.0 } else { seed as f64 };
            let mut out = Vec::new();
            for row in values.chunks(d as usize) {
                for s in 0..n_samples {
                    out.extend(row.iter().map(|v| v + shift + f64::from(s)));
                }
            }
            if matches!(self.0, Misbehaviour::NaN) {
                out[3] = f64::NAN;
            }
            let samples = if matches!(self.0, Misbehaviour::WrongShape) { n_samples - 1 } else { n_samples };
            out.truncate((n * i64::from(samples) * d) as usize);
            OwnedTensor::from_f64_vec(out, &[n, i64::from(samples), d])
        }

        fn is_deterministic(&self) -> bool {
            matches!(self.0, Misbehaviour::Deterministic)
        }
    }

    fn model(misbehaviour: Misbehaviour) -> ModelBox {
        let params = params_with::<Toy>(&[("misbehave", ParamValue::Int(misbehaviour as i64))]);
        module::<Toy>().new_model()(&params, &exact_task(TaskKind::Denoising, 3, 0.5)).into_result().unwrap()
    }

    #[test]
    fn the_kit_passes_a_conforming_model_and_names_each_breach() {
        let y = OwnedTensor::from_f64_vec(vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]).unwrap();
        let samples = restore_checked(&mut model(Misbehaviour::None), y.view(), 4, 1, &[3]).unwrap();
        assert_eq!(samples.len(), 2 * 4 * 3);
        check_seeding(&mut model(Misbehaviour::None), y.view(), 4, &[3]).unwrap();
        let breach = |m: Misbehaviour| check_seeding(&mut model(m), y.view(), 4, &[3]).unwrap_err();
        assert_eq!(breach(Misbehaviour::IgnoresSeed), ConformanceError::IgnoresSeed);
        // The same samples, but the model says this configuration is deterministic.
        let mut deterministic = model(Misbehaviour::Deterministic);
        assert!(model(Misbehaviour::None).stochastic() && !deterministic.stochastic());
        check_seeding(&mut deterministic, y.view(), 4, &[3]).unwrap();
        assert_eq!(breach(Misbehaviour::NaN), ConformanceError::NonFinite { index: 3 });
        let shape = breach(Misbehaviour::WrongShape);
        assert_eq!(shape.to_string(), "expected shape [2, 4, 3], got [2, 3, 3]");
    }

    #[test]
    fn task_builders_describe_tasks_as_the_harness_does() {
        let exact = exact_task(TaskKind::Denoising, 3, 0.5);
        assert_eq!((exact.kind(), exact.signal_dim, exact.operator.len()), (Some(TaskKind::Denoising), 3, 9));
        assert_eq!(exact.operator[4], 1.0);
        let image = image_task(TaskKind::ImageSuperResolution, 3, 4, 0.0);
        assert_eq!(image.image.into_option().map(|i| (i.channels, i.scale)), Some((3, 4)));
    }
}
