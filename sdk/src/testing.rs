//! Test support: run a plugin through its exported entry points without the harness or dlopen,
//! and check its outputs as the harness does ([`crate::conformance`]).
//!
//! The whole contract in one call, for a plugin's `tests/conformance.rs` (since 1.1):
//!
//! ```
//! # use upbench_sdk::{testing, TaskKind};
//! # fn demo<MyPlugin: upbench_sdk::Plugin>() {
//! let params = testing::params_with::<MyPlugin>(&[]);
//! let task = testing::standard_task(TaskKind::Denoising);
//! testing::check_plugin(testing::module::<MyPlugin>(), &params, &task).assert_passed();
//! # }
//! ```
//!
//! `upbench check-plugin LIB` runs the same [`check_plugin`] on a built library. The pieces
//! are public too: `module.metadata()()` and `module.new_model()(&params, &task)` exactly as the
//! harness calls them, [`exact_task`] / [`image_task`] / [`standard_task`] for the task,
//! [`measurements`] for inputs, [`restore_checked`] and [`check_seeding`] on the model.

use std::fmt;

use crate::conformance::{check_output, ConformanceError};
use crate::PluginError;
use crate::{
    export, DType, Device, Extensions, GaussianPrior, ImageTaskSpec, MixturePrior, ModelBox, OwnedTensor, ParamValue,
    Params, Plugin, PluginModuleRef, TaskKind, TaskSpec, TensorView,
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

/// The task [`check_plugin`] and `upbench check-plugin` use for `kind` unless told otherwise:
/// exact kinds in d = 4 with σ = 0.5 ([`exact_task`]); image kinds in RGB ([`image_task`]), ×4
/// for super-resolution, σ = 25/255 for denoising and noiseless otherwise.
pub fn standard_task(kind: TaskKind) -> TaskSpec {
    match kind {
        TaskKind::ImageSuperResolution => image_task(kind, 3, 4, 0.0),
        TaskKind::ImageDenoising => image_task(kind, 3, 1, 25.0 / 255.0),
        TaskKind::ImageInpainting => image_task(kind, 3, 1, 0.0),
        exact => exact_task(exact, 4, 0.5),
    }
}

/// Measurement height and width [`measurements`] makes for image tasks: small enough to be quick
/// on a CPU, large enough for a few layers of 3×3 convolutions.
pub const IMAGE_SIZE: i64 = 16;

/// `n` measurements for `task`, reproducible from `seed`, as the harness would pass them:
/// exact tasks `[n, m]` float64 (unit-variance pseudo-normal values); image tasks
/// `[n, C, 16, 16]` float32 in [0, 1] (smooth gradients plus noise), with inpainting's mask
/// channel appended (1 = observed; every other 4×4 block hidden).
pub fn measurements(task: &TaskSpec, n: i64, seed: u64) -> Result<OwnedTensor, PluginError> {
    let mut noise = SplitMix(seed);
    let Some(image) = task.image.as_ref().into_option() else {
        let m = task.measurement_dim as i64;
        let values = (0..n * m).map(|_| noise.normal()).collect();
        return OwnedTensor::from_f64_vec(values, &[n, m]);
    };
    let (c, side) = (i64::from(image.channels), IMAGE_SIZE);
    let with_mask = task.kind() == Some(TaskKind::ImageInpainting);
    let planes = c + i64::from(with_mask);
    let mut values = Vec::with_capacity((n * planes * side * side) as usize);
    for _ in 0..n {
        for plane in 0..planes {
            for row in 0..side {
                for col in 0..side {
                    let value = if plane == c {
                        f32::from(u8::from((row / 4 + col / 4) % 2 == 0))
                    } else {
                        let ramp = (row + 2 * col + 3 * plane) as f64 / (4 * side) as f64;
                        (0.2 + 0.6 * ramp + 0.05 * noise.normal()).clamp(0.0, 1.0) as f32
                    };
                    values.push(value);
                }
            }
        }
    }
    OwnedTensor::from_f32_vec(values, &[n, planes, side, side])
}

/// The shape of one sample `task` asks for: `[d]` for exact tasks, `[C, s·h, s·w]` for image
/// tasks whose measurements are `[n, C(+1), h, w]`.
pub fn sample_shape(task: &TaskSpec, measurements: &TensorView) -> Vec<i64> {
    match task.image.as_ref().into_option() {
        None => vec![task.signal_dim as i64],
        Some(image) => {
            let (h, w) = (measurements.shape.get(2).copied(), measurements.shape.get(3).copied());
            let scale = i64::from(image.scale);
            vec![i64::from(image.channels), h.unwrap_or(0) * scale, w.unwrap_or(0) * scale]
        }
    }
}

/// One property [`check_plugin`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The metadata declares the task's kind.
    SolvesTheTask,
    /// `new_model` accepts the parameters and the task.
    Constructs,
    /// `restore` returns what the harness asked for: shape, layout inside the owner's bytes,
    /// device, finite values (K samples; one for a deterministic configuration).
    Restores,
    /// The same seed gives the same samples bit for bit; different seeds give different samples
    /// when the configuration says it is stochastic.
    Seeding,
    /// Each observation's samples do not depend on the others in the batch (the harness may
    /// split batches): the first observation restored alone gives its samples from the batch.
    BatchIndependent,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::SolvesTheTask => "task kind declared",
            Check::Constructs => "construction",
            Check::Restores => "restore output",
            Check::Seeding => "seeding",
            Check::BatchIndependent => "batch independence",
        })
    }
}

/// What became of one check: passed, failed with the reason, or not run because an earlier
/// check failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The property holds.
    Passed,
    /// The property does not hold.
    Failed(ConformanceError),
    /// Not checked: it needs a check that failed.
    Skipped,
}

/// The result of [`check_plugin`]: every [`Check`] in order with its [`Outcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConformanceReport {
    /// The plugin's name and the task's kind, for messages.
    pub subject: String,
    /// Whether the constructed configuration said it is stochastic.
    pub stochastic: Option<bool>,
    /// Each check and what became of it.
    pub outcomes: Vec<(Check, Outcome)>,
}

impl ConformanceReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|(_, o)| *o == Outcome::Passed)
    }

    /// Panics with every failed check and its reason unless all passed: for `#[test]`s.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{self}");
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:", self.subject)?;
        for (check, outcome) in &self.outcomes {
            match outcome {
                Outcome::Passed => writeln!(f, "  ok      {check}")?,
                Outcome::Failed(why) => writeln!(f, "  FAILED  {check}: {why}")?,
                Outcome::Skipped => writeln!(f, "  skipped {check}")?,
            }
        }
        Ok(())
    }
}

/// The conformance test of a plugin crate in one call: [`check_plugin`] for `P` with `params`
/// (the others at their defaults) on the [`standard_task`] of each of `kinds`, asserting that
/// every check passes and that the configuration is `stochastic` (a sampler) or not.
///
/// ```ignore
/// testing::assert_conforms::<MyPlugin>(&TaskKind::EXACT, &[("gamma", ParamValue::Float(0.5))], true);
/// ```
pub fn assert_conforms<P: Plugin>(kinds: &[TaskKind], params: &[(&str, ParamValue)], stochastic: bool) {
    let params = params_with::<P>(params);
    for &kind in kinds {
        let report = check_plugin(module::<P>(), &params, &standard_task(kind));
        report.assert_passed();
        assert_eq!(report.stochastic, Some(stochastic), "{report}");
    }
}

/// Runs every [`Check`] of the contract the harness relies on, for one configuration (`params`)
/// on one task, through the module's exported entry points (so a panic is an error, as in a
/// run): the metadata declares the task's kind; the model constructs; `restore` of
/// [`measurements`] (3 observations) meets [`restore_checked`] with K = 4 samples, or one for a
/// deterministic configuration; [`check_seeding`]; and the first observation restored alone
/// gives its samples from the batch. A check that needs a failed one is [`Outcome::Skipped`].
pub fn check_plugin(module: PluginModuleRef, params: &Params, task: &TaskSpec) -> ConformanceReport {
    let kind = task.kind.to_string();
    let metadata = module.metadata()().into_result().map_err(|e| ConformanceError::Plugin(e.into()));
    let name = metadata.as_ref().map_or_else(|_| "the plugin".to_string(), |m| m.name.to_string());
    let mut report = ConformanceReport { subject: format!("{name} on {kind}"), stochastic: None, outcomes: Vec::new() };
    let declared_result = metadata.and_then(|metadata| {
        if metadata.task_kinds.iter().any(|k| k.as_str() == kind) {
            return Ok(());
        }
        let kinds: Vec<&str> = metadata.task_kinds.iter().map(|k| k.as_str()).collect();
        Err(ConformanceError::Plugin(PluginError::Failed(
            format!("the metadata declares {kinds:?}, not '{kind}'").into(),
        )))
    });
    record(&mut report, Check::SolvesTheTask, declared_result);
    check_model(module, params, task, &mut report);
    let checked: Vec<Check> = report.outcomes.iter().map(|(c, _)| *c).collect();
    let skipped = [Check::Constructs, Check::Restores, Check::Seeding, Check::BatchIndependent];
    report.outcomes.extend(skipped.into_iter().filter(|c| !checked.contains(c)).map(|c| (c, Outcome::Skipped)));
    report
}

/// The checks past the metadata, in order, each recorded; returns at the first that the rest
/// need.
fn check_model(module: PluginModuleRef, params: &Params, task: &TaskSpec, report: &mut ConformanceReport) {
    let mut model = match module.new_model()(params, task).into_result() {
        Ok(model) => model,
        Err(e) => {
            record(report, Check::Constructs, Err(ConformanceError::Plugin(e.into())));
            return;
        }
    };
    record(report, Check::Constructs, Ok(()));
    let stochastic = model.stochastic();
    report.stochastic = Some(stochastic);
    let n_samples = if stochastic { 4 } else { 1 };
    let restored = measurements(task, 3, 5).map_err(ConformanceError::from).and_then(|y| {
        let shape = sample_shape(task, y.view());
        let batch = restore_checked(&mut model, y.view(), n_samples, 21, &shape)?;
        Ok((y, shape, batch))
    });
    let (y, shape, batch) = match restored {
        Ok(restored) => restored,
        Err(e) => {
            record(report, Check::Restores, Err(e));
            return;
        }
    };
    record(report, Check::Restores, Ok(()));
    record(report, Check::Seeding, check_seeding(&mut model, y.view(), n_samples, &shape));
    let alone = check_alone(&mut model, task, &batch, n_samples, &shape, stochastic);
    record(report, Check::BatchIndependent, alone);
}

/// Appends `check`'s outcome.
fn record(report: &mut ConformanceReport, check: Check, result: Result<(), ConformanceError>) {
    report.outcomes.push((check, result.map_or_else(Outcome::Failed, |()| Outcome::Passed)));
}

/// The first of [`measurements`]' three observations restored alone, against its samples in the
/// batch: equal to 1e-5 relative (batched kernels may round differently) for a deterministic
/// configuration; for a stochastic one only the layout is checked (its draws may depend on the
/// batch's order).
fn check_alone(
    model: &mut ModelBox,
    task: &TaskSpec,
    batch: &[f64],
    n_samples: u32,
    shape: &[i64],
    stochastic: bool,
) -> Result<(), ConformanceError> {
    let first = measurements(task, 1, 5)?;
    let alone = restore_checked(model, first.view(), n_samples, 21, shape)?;
    if stochastic {
        return Ok(());
    }
    let scale = batch.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    match alone.iter().zip(batch).position(|(a, b)| (a - b).abs() > 1e-5 * scale) {
        None => Ok(()),
        Some(index) => Err(ConformanceError::Plugin(PluginError::Failed(
            format!(
                "value {index} of the first observation is {} alone but {} in a batch of 3",
                alone[index], batch[index]
            )
            .into(),
        ))),
    }
}

/// A tiny reproducible generator (SplitMix64) for [`measurements`]: the SDK has no
/// dependencies beyond abi_stable.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
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
    fn check_plugin_passes_a_conforming_plugin_and_reports_each_breach_by_check() {
        let run = |m: Misbehaviour, kind| {
            let params = params_with::<Toy>(&[("misbehave", ParamValue::Int(m as i64))]);
            check_plugin(module::<Toy>(), &params, &standard_task(kind))
        };
        let good = run(Misbehaviour::None, TaskKind::Denoising);
        good.assert_passed();
        assert_eq!(good.outcomes.len(), 5);
        assert_eq!(good.stochastic, Some(true));
        run(Misbehaviour::Deterministic, TaskKind::Denoising).assert_passed();
        let outcome =
            |report: &ConformanceReport, check| report.outcomes.iter().find(|(c, _)| *c == check).unwrap().1.clone();
        let ignores = run(Misbehaviour::IgnoresSeed, TaskKind::Denoising);
        assert_eq!(outcome(&ignores, Check::Seeding), Outcome::Failed(ConformanceError::IgnoresSeed));
        let nan = run(Misbehaviour::NaN, TaskKind::Denoising);
        assert!(matches!(outcome(&nan, Check::Restores), Outcome::Failed(ConformanceError::NonFinite { .. })));
        assert_eq!(outcome(&nan, Check::Seeding), Outcome::Skipped);
        assert!(nan.to_string().contains("FAILED  restore output: sample value"), "{nan}");
        // The toy declares only exact denoising.
        let undeclared = run(Misbehaviour::None, TaskKind::Inpainting);
        assert!(matches!(outcome(&undeclared, Check::SolvesTheTask), Outcome::Failed(_)));
        let bad_index = params_with::<Toy>(&[("misbehave", ParamValue::Int(99))]);
        let panicked = check_plugin(module::<Toy>(), &bad_index, &standard_task(TaskKind::Denoising));
        assert!(matches!(outcome(&panicked, Check::Constructs), Outcome::Failed(_)), "{panicked}");
        assert_eq!(outcome(&panicked, Check::BatchIndependent), Outcome::Skipped);
    }

    #[test]
    fn measurements_have_the_layout_the_harness_passes() {
        let exact = measurements(&standard_task(TaskKind::SuperResolution), 3, 1).unwrap();
        assert_eq!((&exact.view().shape[..], exact.view().dtype), (&[3i64, 4][..], DType::F64));
        let task = standard_task(TaskKind::ImageInpainting);
        let y = measurements(&task, 2, 1).unwrap();
        assert_eq!((&y.view().shape[..], y.view().dtype), (&[2i64, 4, 16, 16][..], DType::F32));
        let values = y.view().to_f64_vec().unwrap();
        assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
        let mask = &values[3 * 256..4 * 256];
        assert_eq!(mask.iter().filter(|&&m| m == 1.0).count(), 128);
        assert_eq!(sample_shape(&standard_task(TaskKind::ImageSuperResolution), y.view()), [3, 64, 64]);
        assert_eq!(measurements(&task, 2, 1).unwrap().view().to_f64_vec().unwrap(), values);
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
