//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_isotropic_noise::IsotropicNoise;
use upbench_sdk::{testing, ParamValue, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    for tau in [0.1, 0.3] {
        testing::assert_conforms::<IsotropicNoise>(&TaskKind::EXACT, &[("tau", ParamValue::Float(tau))], true);
    }
}
