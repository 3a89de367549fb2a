//! The SDK's conformance checks (output shape, layout, device, finite values, seeding, batch
//! independence) whole-image and tiled, and the named errors for bad parameters, weights files
//! and tasks, raised before any model runs.

use upbench_plugin_rrdb_x4::Rrdb;
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
    for overrides in
        [vec![("tile", ParamValue::Int(0))], vec![("tile", ParamValue::Int(6)), ("tile_overlap", ParamValue::Int(3))]]
    {
        let params = testing::params_with::<Rrdb>(&overrides);
        let report = testing::check_plugin(testing::module::<Rrdb>(), &params, &testing::standard_task(kind));
        report.assert_passed();
        assert_eq!(report.stochastic, Some(false), "{report}");
    }
}

/// The error `new_model` gives for these parameter overrides on `task`.
fn refusal(overrides: &[(&str, ParamValue)], task: &upbench_sdk::TaskSpec) -> PluginError {
    point_at_models();
    let params = testing::params_with::<Rrdb>(overrides);
    match testing::module::<Rrdb>().new_model()(&params, task).into_result() {
        Ok(_) => panic!("{overrides:?} was accepted"),
        Err(e) => e.into(),
    }
}

#[test]
fn bad_parameters_files_and_tasks_are_named_errors() {
    let sr = testing::standard_task(TaskKind::ImageSuperResolution);
    for (name, value) in [("tile", ParamValue::Int(-1)), ("tile_overlap", ParamValue::Int(-2))] {
        let err = refusal(&[(name, value)], &sr);
        assert!(matches!(&err, PluginError::InvalidParameter { name: n, .. } if n.as_str() == name), "{err}");
    }
    // the half types need CUDA (their runs are not tested here: no GPU in CI)
    for precision in ["float16", "bfloat16", "float8"] {
        let err = refusal(&[("precision", ParamValue::Text(precision.into()))], &sr);
        assert!(matches!(&err, PluginError::InvalidParameter { name, .. } if name.as_str() == "precision"), "{err}");
    }
    let err = refusal(&[("weights", ParamValue::Text("no-such.safetensors".into()))], &sr);
    assert!(err.to_string().contains("no-such.safetensors") && err.to_string().contains("UPBENCH_MODELS_DIR"), "{err}");
    // another architecture's checkpoint: every name wrong
    let err = refusal(&[("weights", ParamValue::Text("espcn_x4.safetensors".into()))], &sr);
    assert!(err.to_string().contains("702 missing") && err.to_string().contains("unexpected ('conv_1.bias'"), "{err}");
    // a file that is not safetensors at all
    let bad = std::env::temp_dir().join(format!("rrdb-x4-corrupt-{}.safetensors", std::process::id()));
    std::fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    let err = refusal(&[("weights", ParamValue::Text(bad.to_string_lossy().as_ref().into()))], &sr);
    let _ = std::fs::remove_file(&bad);
    assert!(err.to_string().contains("not a readable safetensors file"), "{err}");
    // BasicSR's names with one shape changed (num_feat 64 → 48 in the first convolution)
    let dir = std::path::PathBuf::from(std::env::var_os("UPBENCH_MODELS_DIR").unwrap());
    let mut tensors = Tensor::read_safetensors(dir.join("realesrgan_x4plus.safetensors")).unwrap();
    let slot = tensors.iter_mut().find(|(name, _)| name == "conv_first.bias").unwrap();
    slot.1 = Tensor::zeros([48], (Kind::Float, Device::Cpu));
    let file = std::env::temp_dir().join(format!("rrdb-x4-broken-{}.safetensors", std::process::id()));
    Tensor::write_safetensors(&tensors, &file).unwrap();
    let err = refusal(&[("weights", ParamValue::Text(file.to_string_lossy().as_ref().into()))], &sr);
    let _ = std::fs::remove_file(&file);
    assert!(err.to_string().contains("tensor 'conv_first.bias' has shape [48]"), "{err}");
    for task in [
        testing::image_task(TaskKind::ImageSuperResolution, 3, 2, 0.0),
        testing::image_task(TaskKind::ImageSuperResolution, 1, 4, 0.0),
        testing::standard_task(TaskKind::ImageDenoising),
    ] {
        let err = refusal(&[], &task);
        assert!(matches!(err, PluginError::UnsupportedTask(_)), "{err}");
    }
}
