//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_bicubic::Bicubic;
use upbench_sdk::{testing, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    let kind = TaskKind::ImageSuperResolution;
    let params = testing::params_with::<Bicubic>(&[]);
    let report = testing::check_plugin(testing::module::<Bicubic>(), &params, &testing::standard_task(kind));
    report.assert_passed();
    assert_eq!(report.stochastic, Some(false), "{report}");
}
