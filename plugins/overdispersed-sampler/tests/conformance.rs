//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_overdispersed_sampler::OverdispersedSampler;
use upbench_sdk::{testing, ParamValue, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    for spread in [1.0, 1.5] {
        let params = [("spread", ParamValue::Float(spread))];
        testing::assert_conforms::<OverdispersedSampler>(&TaskKind::EXACT, &params, true);
    }
}
