//! The SDK's own guarantees, exercised through the exported entry points in-process
//! (`testing::module`): panics become errors, tensors keep their memory alive, parameters read back.

use upbench_sdk::{
    export_plugin, testing, DType, Device, Extensions, OwnedTensor, ParamSpec, ParamValue, Params, Plugin, PluginError,
    PluginMetadata, RestoreModel, TaskKind, TaskSpec, TensorView,
};

struct Doubler;

impl Plugin for Doubler {
    type Model = DoublerModel;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("doubler", "1.2.3", "returns 2·y, or panics on request")
            .with_task_kinds(&[TaskKind::Denoising])
            .with_param(ParamSpec::new("panic_at", ParamValue::Int(-1), "panic on the call with this seed"))
    }

    fn new_model(params: &Params, _task: &TaskSpec) -> Result<DoublerModel, PluginError> {
        Ok(DoublerModel { panic_at: params.int("panic_at")? })
    }
}

struct DoublerModel {
    panic_at: i64,
}

impl RestoreModel for DoublerModel {
    fn restore(&mut self, y: &TensorView, n_samples: u32, seed: u64) -> Result<OwnedTensor, PluginError> {
        if seed as i64 == self.panic_at {
            panic!("asked to panic at seed {seed}");
        }
        let values = y.to_f64_vec()?;
        let (n, d) = (y.shape[0], y.shape[1]);
        let out: Vec<f64> = values
            .chunks(d as usize)
            .flat_map(|row| std::iter::repeat_n(row, n_samples as usize).flatten().map(|v| 2.0 * v))
            .collect();
        OwnedTensor::from_f64_vec(out, &[n, i64::from(n_samples), d])
    }
}

export_plugin!(Doubler);

fn task() -> TaskSpec {
    TaskSpec {
        name: "t".into(),
        kind: TaskKind::Denoising.as_str().into(),
        signal_dim: 2,
        measurement_dim: 2,
        operator: vec![1.0, 0.0, 0.0, 1.0].into(),
        noise_std: 0.1,
        prior: None.into(),
        device: Device::CPU,
        image: None.into(),
        extensions: Extensions::new(),
    }
}

fn view_of(data: &mut [f64], shape: &[i64]) -> TensorView {
    TensorView {
        data: data.as_mut_ptr().cast(),
        shape: shape.into(),
        strides: TensorView::contiguous_strides(shape).into(),
        dtype: DType::F64,
        device: Device::CPU,
    }
}

#[test]
fn restore_goes_through_the_boundary_and_back() {
    let module = testing::module::<Doubler>();
    let meta = module.metadata()().unwrap();
    assert_eq!(meta.version.as_str(), "1.2.3");
    assert!(meta.supports(TaskKind::Denoising) && !meta.supports(TaskKind::Inpainting));
    let mut model = module.new_model()(&testing::params_with::<Doubler>(&[]), &task()).unwrap();
    let mut y = [1.0, 2.0, 3.0, 4.0];
    let out = model.restore(&view_of(&mut y, &[2, 2]), 3, 0).unwrap();
    assert_eq!(out.view().shape.as_slice(), &[2, 3, 2]);
    assert_eq!(out.held_bytes(), 12 * 8);
    assert_eq!(out.view().to_f64_vec().unwrap(), vec![2.0, 4.0, 2.0, 4.0, 2.0, 4.0, 6.0, 8.0, 6.0, 8.0, 6.0, 8.0]);
}

#[test]
fn a_panic_in_restore_becomes_an_error_and_the_model_stays_usable() {
    let module = testing::module::<Doubler>();
    let params = testing::params_with::<Doubler>(&[("panic_at", ParamValue::Int(7))]);
    let mut model = module.new_model()(&params, &task()).unwrap();
    let mut y = [1.0, 2.0];
    let err = model.restore(&view_of(&mut y, &[1, 2]), 1, 7).unwrap_err();
    assert_eq!(err, PluginError::Panicked("asked to panic at seed 7".into()));
    assert_eq!(err.to_string(), "plugin panicked: asked to panic at seed 7");
    assert!(model.restore(&view_of(&mut y, &[1, 2]), 1, 8).is_ok());
}

#[test]
fn malformed_views_are_rejected_before_the_plugin_sees_them() {
    let module = testing::module::<Doubler>();
    let mut model = module.new_model()(&testing::params_with::<Doubler>(&[]), &task()).unwrap();
    let mut y = [1.0, 2.0];
    let mut bad = view_of(&mut y, &[1, 2]);
    bad.strides = vec![1].into();
    assert!(matches!(PluginError::from(model.restore(&bad, 1, 0).unwrap_err()), PluginError::InvalidInput(_)));
}

#[test]
fn wrong_parameter_types_are_named() {
    let params = Params { entries: vec![upbench_sdk::Param::new("panic_at", ParamValue::Float(1.0))].into() };
    let Err(err) = testing::module::<Doubler>().new_model()(&params, &task()).into_result() else {
        panic!("an ill-typed parameter must be refused");
    };
    assert_eq!(err.to_string(), "invalid parameter 'panic_at': expected type integer, got 1");
}

#[test]
fn owned_tensors_check_their_shape() {
    assert!(OwnedTensor::from_f64_vec(vec![1.0; 5], &[2, 3]).is_err());
}
