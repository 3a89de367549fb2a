//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_isotropic_noise::IsotropicNoise;
use upbench_sdk::{testing, ParamValue, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    for kind in TaskKind::EXACT {
        for value in [0.1, 0.3] {
            let params = testing::params_with::<IsotropicNoise>(&[("tau", ParamValue::Float(value))]);
            let report =
                testing::check_plugin(testing::module::<IsotropicNoise>(), &params, &testing::standard_task(kind));
            report.assert_passed();
            assert_eq!(report.stochastic, Some(true), "{report}");
        }
    }
}
