//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_overdispersed_sampler::OverdispersedSampler;
use upbench_sdk::{testing, ParamValue, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    for kind in TaskKind::EXACT {
        for value in [1.0, 1.5] {
            let params = testing::params_with::<OverdispersedSampler>(&[("spread", ParamValue::Float(value))]);
            let report = testing::check_plugin(
                testing::module::<OverdispersedSampler>(),
                &params,
                &testing::standard_task(kind),
            );
            report.assert_passed();
            assert_eq!(report.stochastic, Some(true), "{report}");
        }
    }
}
