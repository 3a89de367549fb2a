//! The SDK's conformance checks (what every upbench run relies on: output shape, layout, device,
//! finite values, seeding, batch independence) on every task kind this plugin declares.

use upbench_plugin_posterior_mean::PosteriorMean;
use upbench_sdk::{testing, TaskKind};

#[test]
fn every_declared_task_kind_conforms() {
    testing::assert_conforms::<PosteriorMean>(&TaskKind::EXACT, &[], false);
}
