//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_gamma_optimal::GammaOptimal;
use upbench_sdk::{testing, ParamValue, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    for gamma in [0.0, 0.5, 1.0] {
        testing::assert_conforms::<GammaOptimal>(&TaskKind::EXACT, &[("gamma", ParamValue::Float(gamma))], gamma > 0.0);
    }
}
