//! The SDK's conformance checks (output shape, layout, device, finite values, seeding, batch
//! independence) whole-image and tiled, and the named errors for bad parameters, weights files
//! and tasks, raised before any model runs ([`image_kit::sr_checks`]).

use image_kit::sr_checks;
use upbench_plugin_rfdn_x4::Rfdn;
use upbench_sdk::ParamValue;

#[test]
fn every_declared_task_kind_conforms() {
    sr_checks::assert_conforms::<Rfdn>(&[
        vec![("tile", ParamValue::Int(0))],
        vec![("tile", ParamValue::Int(6)), ("tile_overlap", ParamValue::Int(3))],
    ]);
}

#[test]
fn bad_parameters_files_and_tasks_are_named_errors() {
    sr_checks::assert_common_refusals::<Rfdn>("weights", 128);
}
