//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_gaussian_prior::GaussianPrior;
use upbench_sdk::{testing, ParamValue, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    for kind in TaskKind::IMAGE {
        for value in [0.0, 1.0] {
            let params = testing::params_with::<GaussianPrior>(&[
                ("training", ParamValue::Text("dead-leaves".into())),
                ("gamma", ParamValue::Float(value)),
            ]);
            let report =
                testing::check_plugin(testing::module::<GaussianPrior>(), &params, &testing::standard_task(kind));
            report.assert_passed();
            assert_eq!(report.stochastic, Some(value > 0.0), "{report}");
        }
    }
}
