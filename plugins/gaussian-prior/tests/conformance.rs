//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_gaussian_prior::GaussianPrior;
use upbench_sdk::{testing, ParamValue, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    for gamma in [0.0, 1.0] {
        let params = [("training", ParamValue::Text("dead-leaves".into())), ("gamma", ParamValue::Float(gamma))];
        testing::assert_conforms::<GaussianPrior>(&TaskKind::IMAGE, &params, gamma > 0.0);
    }
}
