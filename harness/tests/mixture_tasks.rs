//! Gaussian-mixture priors: the posterior is a mixture in closed form, N(X_G|Y) exact and N(X|Y)
//! a Monte-Carlo estimate, and the optimal band [η·N(X|Y), η·N(X_G|Y)] has a width.

use upbench::judge::Region;

use crate::util::{result, run};

fn suite(estimator: &str) -> String {
    format!(
        r#"
seed = 5
[sampling]
observations = 32
samples_per_observation = 2048
[estimator]
kind = "{estimator}"
[timing]
warmup = 0
repetitions = 2
[[task]]
name = "mix"
dim = 2
prior = {{ kind = "gaussian-mixture", components = 2, separation = 6.0, base = {{ kind = "identity" }} }}
operator = {{ kind = "denoising", noise_std = 2.5 }}
[[plugin]]
name = "posterior-mean"
[[plugin]]
name = "posterior-sampler"
"#
    )
}

#[test]
fn the_band_has_width_and_the_oracles_sit_where_theory_puts_them() {
    let report = run(&suite("knn"));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let task = &report.tasks[0];
    let band = task.gaussian_inherent_uncertainty / task.inherent_uncertainty;
    let ci = task.inherent_uncertainty_ci.expect("a Monte-Carlo interval for a mixture");
    // The interval reflects how N(X|y) varies over y (some y decide the component, some do not).
    assert!(ci.contains(task.inherent_uncertainty) && ci.upper - ci.lower < 0.25 * task.inherent_uncertainty, "{ci:?}");
    // Bimodal posteriors: the Gaussian with the same covariance has clearly more entropy.
    assert!(band > 1.1, "N(X_G|Y)/N(X|Y) = {band}");

    // The posterior mean's error is the posterior shifted: U = N(X|Y) (k-NN, within 3 %).
    let mean = &result(&report, "mix", "posterior-mean").judgement;
    assert!((mean.uncertainty_ratio.point - 1.0).abs() < 0.03, "{:?}", mean.uncertainty_ratio);

    // Perfect perception: P ≈ 0 and 2·N(X|Y) ≤ U ≤ 2·N(X_G|Y) (theory.md, result 1).
    let sampler = &result(&report, "mix", "posterior-sampler").judgement;
    assert!(sampler.perception_nats.point.abs() < 0.02, "{:?}", sampler.perception_nats);
    let u = sampler.uncertainty_ratio.point;
    assert!(u > 2.0 * 0.98 && u < 2.0 * band * 1.02, "U/N = {u}, band top {}", 2.0 * band);
    assert_eq!(sampler.region, Region::OptimalBand);
}

#[test]
fn the_gaussian_estimator_gives_the_gaussian_upper_bound() {
    // For the posterior mean, the Gaussian estimator measures |Cov(X|y)|^(1/d) = N(X_G|Y).
    let report = run(&suite("gaussian"));
    let task = &report.tasks[0];
    let mean = &result(&report, "mix", "posterior-mean").judgement;
    let ratio = mean.uncertainty.point / task.gaussian_inherent_uncertainty;
    assert!((ratio - 1.0).abs() < 0.02, "U / N(X_G|Y) = {ratio}");
}
