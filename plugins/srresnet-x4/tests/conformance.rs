//! The SDK's conformance checks (output shape, layout, device, finite values, seeding, batch
//! independence) at both ends of the interpolation and in the middle, with tiles too; and the
//! named errors for bad parameters, files and tasks, raised before any model runs
//! ([`image_kit::sr_checks`], and α's own).

use image_kit::sr_checks;
use upbench_plugin_srresnet_x4::SrResNet;
use upbench_sdk::{testing, ParamValue, PluginError, TaskKind};
use upbench_tch::tch::{Device, Kind, Tensor};

#[test]
fn every_declared_task_kind_conforms() {
    sr_checks::assert_conforms::<SrResNet>(&[
        vec![],
        vec![("alpha", ParamValue::Float(1.0))],
        vec![("alpha", ParamValue::Float(0.5)), ("tile", ParamValue::Int(6)), ("tile_overlap", ParamValue::Int(3))],
    ]);
}

#[test]
fn bad_parameters_files_and_tasks_are_named_errors() {
    sr_checks::assert_common_refusals::<SrResNet>("mse_weights", 225);
    let sr = testing::standard_task(TaskKind::ImageSuperResolution);
    for alpha in [-0.01, 1.5, f64::NAN] {
        let err = sr_checks::refusal::<SrResNet>(&[("alpha", ParamValue::Float(alpha))], &sr);
        assert!(matches!(&err, PluginError::InvalidParameter { name, .. } if name.as_str() == "alpha"), "{err}");
    }
    // the right names, one tensor of the wrong shape; then one tensor with a NaN
    let dir = sr_checks::point_at_models();
    let mut tensors = Tensor::read_safetensors(dir.join("srresnet_mse_x4.safetensors")).unwrap();
    for (broken, want) in [
        (Tensor::zeros([63], (Kind::Float, Device::Cpu)), "tensor 'head.conv.bias' has shape [63]"),
        (Tensor::full([64], f64::NAN, (Kind::Float, Device::Cpu)), "tensor 'head.conv.bias' holds NaN"),
    ] {
        let slot = tensors.iter_mut().find(|(name, _)| name == "head.conv.bias").unwrap();
        slot.1 = broken;
        let file = std::env::temp_dir().join(format!("srresnet-x4-broken-{}.safetensors", std::process::id()));
        Tensor::write_safetensors(&tensors, &file).unwrap();
        let weights = ParamValue::Text(file.to_string_lossy().as_ref().into());
        let err = sr_checks::refusal::<SrResNet>(&[("gan_weights", weights)], &sr);
        let _ = std::fs::remove_file(&file);
        assert!(err.to_string().contains(want), "{err}");
    }
}
