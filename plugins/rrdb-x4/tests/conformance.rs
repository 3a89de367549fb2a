//! The SDK's conformance checks (output shape, layout, device, finite values, seeding, batch
//! independence) whole-image and tiled, and the named errors for bad parameters, weights files
//! and tasks, raised before any model runs ([`image_kit::sr_checks`]).

use image_kit::sr_checks;
use upbench_plugin_rrdb_x4::Rrdb;
use upbench_sdk::ParamValue;
use upbench_sdk::{testing, PluginError, TaskKind};
use upbench_tch::tch::{Device, Kind, Tensor};

#[test]
fn every_declared_task_kind_conforms() {
    sr_checks::assert_conforms::<Rrdb>(&[
        vec![("tile", ParamValue::Int(0))],
        vec![("tile", ParamValue::Int(6)), ("tile_overlap", ParamValue::Int(3))],
    ]);
}

#[test]
fn bad_parameters_files_and_tasks_are_named_errors() {
    sr_checks::assert_common_refusals::<Rrdb>("weights", 702);
    let sr = testing::standard_task(TaskKind::ImageSuperResolution);
    // the half types need CUDA (their runs are not tested here: no GPU in CI)
    for precision in ["float16", "bfloat16", "float8"] {
        let err = sr_checks::refusal::<Rrdb>(&[("precision", ParamValue::Text(precision.into()))], &sr);
        assert!(matches!(&err, PluginError::InvalidParameter { name, .. } if name.as_str() == "precision"), "{err}");
    }
    // BasicSR's names with one shape changed (num_feat 64 → 48 in the first convolution)
    let dir = sr_checks::point_at_models();
    let mut tensors = Tensor::read_safetensors(dir.join("realesrgan_x4plus.safetensors")).unwrap();
    let slot = tensors.iter_mut().find(|(name, _)| name == "conv_first.bias").unwrap();
    slot.1 = Tensor::zeros([48], (Kind::Float, Device::Cpu));
    let file = std::env::temp_dir().join(format!("rrdb-x4-broken-{}.safetensors", std::process::id()));
    Tensor::write_safetensors(&tensors, &file).unwrap();
    let err = sr_checks::refusal::<Rrdb>(&[("weights", ParamValue::Text(file.to_string_lossy().as_ref().into()))], &sr);
    let _ = std::fs::remove_file(&file);
    assert!(err.to_string().contains("tensor 'conv_first.bias' has shape [48]"), "{err}");
}
