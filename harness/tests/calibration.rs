//! Calibration of samplers' spread (issue [16]) on exact tasks, where the answer is known: the
//! exact posterior sampler's truth ranks are uniform and its central intervals cover at their
//! finite-K nominal level; a sampler spread wider than the posterior (`overdispersed-sampler`)
//! covers too often; γ-optimal with γ < 1 (spread √γ of the posterior's) too rarely; a
//! deterministic model has no calibration.

use std::sync::OnceLock;

use upbench::judge::calibration::CalibrationVerdict;
use upbench::record::RunReport;

use crate::util::{result, run, SuiteBuilder};

fn report() -> &'static RunReport {
    static REPORT: OnceLock<RunReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        let suite = SuiteBuilder::new(16)
            .sampling(64, 99)
            .task(
                "d16",
                r#"dim = 16
                prior = { kind = "ar1", rho = 0.8 }
                operator = { kind = "denoising", noise_std = 0.5 }"#,
            )
            .plugin("posterior-mean")
            .plugin("posterior-sampler")
            .plugin_with("gamma-optimal", "gamma = 0.5")
            .plugin_with("overdispersed-sampler", "spread = 1.5");
        run(&suite.toml())
    })
}

#[test]
fn the_exact_posterior_sampler_is_calibrated() {
    let calibration = result(report(), "d16", "posterior-sampler").calibration.as_ref().expect("a stochastic row");
    assert_eq!(calibration.verdict, CalibrationVerdict::Calibrated, "{}", calibration.reason);
    let c = &calibration.measured;
    assert_eq!((c.samples, c.observations, c.coordinates), (99, 64, 16));
    assert_eq!(c.rank_histogram.iter().sum::<u64>(), 64 * 16);
    for coverage in &c.coverage {
        let ci = &coverage.estimate.ci;
        assert!(ci.lower <= coverage.nominal && coverage.nominal <= ci.upper, "{coverage:?}");
    }
    // K = 99: the finite-K nominal levels are the asked ones exactly.
    let nominal: Vec<f64> = c.coverage.iter().map(|v| v.nominal).collect();
    assert_eq!(nominal, [0.5, 0.8, 0.9]);
    assert!(c.uniformity.p_value > 0.01, "{:?}", c.uniformity);
}

#[test]
fn a_wider_spread_is_underconfident_and_a_narrower_one_overconfident() {
    let verdict = |label: &str| {
        let calibration = result(report(), "d16", label).calibration.as_ref().expect("a stochastic row");
        (calibration.verdict, calibration.reason.clone())
    };
    let (wide, why) = verdict("overdispersed-sampler(spread=1.5)");
    assert_eq!(wide, CalibrationVerdict::Underconfident, "{why}");
    let (narrow, why) = verdict("gamma-optimal(gamma=0.5)");
    assert_eq!(narrow, CalibrationVerdict::Overconfident, "{why}");
    assert!(why.contains("too small"), "{why}");
}

#[test]
fn a_deterministic_model_has_no_calibration() {
    assert!(result(report(), "d16", "posterior-mean").calibration.is_none());
}
