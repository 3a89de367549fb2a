//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_srvgg_x4::Srvgg;
use upbench_sdk::{testing, TaskKind};

/// The weights live in `../shared/models` beside the checkout unless `UPBENCH_MODELS_DIR` says.
fn point_at_models() {
    if std::env::var_os("UPBENCH_MODELS_DIR").is_none() {
        std::env::set_var("UPBENCH_MODELS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models"));
    }
}

#[test]
fn every_declared_task_kind_conforms() {
    point_at_models();
    testing::assert_conforms::<Srvgg>(&[TaskKind::ImageSuperResolution], &[], false);
}
