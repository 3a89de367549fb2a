//! The SDK's conformance checks (output shape, layout, device, finite values, seeding, batch
//! independence) at both ends of the interpolation and in the middle, with tiles too; and the
//! named errors for bad parameters, files and tasks, raised before any model runs.

use upbench_plugin_srresnet_x4::SrResNet;
use upbench_sdk::{testing, ParamValue, PluginError, TaskKind};
use upbench_tch::tch::{Device, Kind, Tensor};

/// The weights live in `../shared/models` beside the checkout unless `UPBENCH_MODELS_DIR` says.
fn point_at_models() {
    if std::env::var_os("UPBENCH_MODELS_DIR").is_none() {
        std::env::set_var("UPBENCH_MODELS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models"));
    }
}

#[test]
fn every_declared_task_kind_conforms() {
    point_at_models();
    let kind = TaskKind::ImageSuperResolution;
    for overrides in [
        vec![],
        vec![("alpha", ParamValue::Float(1.0))],
        vec![("alpha", ParamValue::Float(0.5)), ("tile", ParamValue::Int(6)), ("tile_overlap", ParamValue::Int(3))],
    ] {
        let params = testing::params_with::<SrResNet>(&overrides);
        let report = testing::check_plugin(testing::module::<SrResNet>(), &params, &testing::standard_task(kind));
        report.assert_passed();
        assert_eq!(report.stochastic, Some(false), "{report}");
    }
}

/// The error `new_model` gives for these parameter overrides on `task`.
fn refusal(overrides: &[(&str, ParamValue)], task: &upbench_sdk::TaskSpec) -> PluginError {
    point_at_models();
    let params = testing::params_with::<SrResNet>(overrides);
    let module = testing::module::<SrResNet>();
    match module.new_model()(&params, task).into_result() {
        Ok(_) => panic!("{overrides:?} was accepted"),
        Err(e) => e.into(),
    }
}

#[test]
fn bad_parameters_files_and_tasks_are_named_errors() {
    let sr = testing::standard_task(TaskKind::ImageSuperResolution);
    for alpha in [-0.01, 1.5, f64::NAN] {
        let err = refusal(&[("alpha", ParamValue::Float(alpha))], &sr);
        assert!(matches!(&err, PluginError::InvalidParameter { name, .. } if name.as_str() == "alpha"), "{err}");
    }
    let err = refusal(&[("tile", ParamValue::Int(-4))], &sr);
    assert!(matches!(&err, PluginError::InvalidParameter { name, .. } if name.as_str() == "tile"), "{err}");
    let err = refusal(&[("gan_weights", ParamValue::Text("no-such.safetensors".into()))], &sr);
    assert!(err.to_string().contains("no-such.safetensors") && err.to_string().contains("UPBENCH_MODELS_DIR"), "{err}");
    // another architecture's checkpoint: every name wrong
    let err = refusal(&[("mse_weights", ParamValue::Text("espcn_x4.safetensors".into()))], &sr);
    assert!(err.to_string().contains("225 missing") && err.to_string().contains("unexpected ('conv_1.bias'"), "{err}");
    // a file that is not safetensors at all
    let bad = std::env::temp_dir().join(format!("srresnet-x4-corrupt-{}.safetensors", std::process::id()));
    std::fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    let err = refusal(&[("mse_weights", ParamValue::Text(bad.to_string_lossy().as_ref().into()))], &sr);
    let _ = std::fs::remove_file(&bad);
    assert!(err.to_string().contains("not a readable safetensors file"), "{err}");
    // the right names, one tensor of the wrong shape; then one tensor with a NaN
    let dir = std::path::PathBuf::from(std::env::var_os("UPBENCH_MODELS_DIR").unwrap());
    let mut tensors = Tensor::read_safetensors(dir.join("srresnet_mse_x4.safetensors")).unwrap();
    for (broken, want) in [
        (Tensor::zeros([63], (Kind::Float, Device::Cpu)), "tensor 'head.conv.bias' has shape [63]"),
        (Tensor::full([64], f64::NAN, (Kind::Float, Device::Cpu)), "tensor 'head.conv.bias' holds NaN"),
    ] {
        let slot = tensors.iter_mut().find(|(name, _)| name == "head.conv.bias").unwrap();
        slot.1 = broken;
        let file = std::env::temp_dir().join(format!("srresnet-x4-broken-{}.safetensors", std::process::id()));
        Tensor::write_safetensors(&tensors, &file).unwrap();
        let err = refusal(&[("gan_weights", ParamValue::Text(file.to_string_lossy().as_ref().into()))], &sr);
        let _ = std::fs::remove_file(&file);
        assert!(err.to_string().contains(want), "{err}");
    }
    for task in [
        testing::image_task(TaskKind::ImageSuperResolution, 3, 2, 0.0),
        testing::image_task(TaskKind::ImageSuperResolution, 1, 4, 0.0),
        testing::standard_task(TaskKind::ImageDenoising),
    ] {
        let err = refusal(&[], &task);
        assert!(matches!(err, PluginError::UnsupportedTask(_)), "{err}");
    }
}
