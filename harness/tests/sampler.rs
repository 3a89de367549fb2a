//! The pnp-sampler plugin (issue [15] item 2) through the harness, on an exact Gaussian task with
//! the prior's exact MMSE denoiser, where the answer is known: at η = 1 its P approaches 0 and its
//! U/N(X|Y) approaches 2 (the paper's perfect-perception point) as `steps` grows, and at η = 0 it
//! is the posterior mean. Tolerances from the convergence study in `docs/sampler.md`: the exact
//! law of the 100-step sampler has P = 0.0194 nats and U/N(X|Y) = 1.906, the 25-step one 0.294 and
//! 1.681; the harness measured 0.019 ± 0.002 and 1.910 ± 0.006 with 32 × 2048 samples. Here 16
//! observations × 1024 samples (wider intervals), so the bounds below leave about three of this
//! run's half-widths around the law.

use crate::util::{result, run, SuiteBuilder};

#[test]
fn the_pnp_sampler_with_the_exact_denoiser_reaches_the_posterior_through_the_harness() {
    let suite = SuiteBuilder::new(15)
        .sampling(16, 1024)
        .section("estimator", "kind = \"gaussian\"\nshrinkage = \"auto\"\nbias_correction = true")
        .task(
            "ar1-denoising-d16",
            r#"dim = 16
            prior = { kind = "ar1", rho = 0.8 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .plugin_with("pnp-sampler", r#"denoiser = "exact", eta = [0.0, 1.0], steps = [25, 100]"#);
    let report = run(&suite.toml());
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    let row = |label: &str| result(&report, "ar1-denoising-d16", label);
    let scores = |label: &str| {
        let j = &row(label).judgement;
        (j.perception_nats.point, j.uncertainty_ratio.point)
    };
    let (p100, u100) = scores(r#"pnp-sampler(eta=1, steps=100, denoiser="exact")"#);
    assert!((0.0..0.06).contains(&p100), "P at 100 steps: {p100} (law 0.0194)");
    assert!((1.86..1.95).contains(&u100), "U/N(X|Y) at 100 steps: {u100} (law 1.906)");
    let (p25, u25) = scores(r#"pnp-sampler(eta=1, steps=25, denoiser="exact")"#);
    eprintln!("η = 1: P {p100:.4} and U/N(X|Y) {u100:.4} at 100 steps, {p25:.4} and {u25:.4} at 25");
    assert!((0.22..0.37).contains(&p25) && p25 > 3.0 * p100, "P at 25 steps: {p25} (law 0.294)");
    assert!((1.63..1.73).contains(&u25), "U/N(X|Y) at 25 steps: {u25} (law 1.681)");
    for steps in [25, 100] {
        let deterministic = row(&format!(r#"pnp-sampler(eta=0, steps={steps}, denoiser="exact")"#));
        assert!(!deterministic.stochastic, "η = 0 is deterministic");
        let j = &deterministic.judgement;
        let mse_over_mmse = j.mse_over_mmse.as_ref().expect("an exact task").point;
        assert!(
            (j.uncertainty_ratio.point - 1.0).abs() < 0.02,
            "η = 0, {steps} steps: U/N = {}",
            j.uncertainty_ratio.point
        );
        assert!((mse_over_mmse - 1.0).abs() < 0.03, "η = 0, {steps} steps: MSE/MMSE = {mse_over_mmse}");
    }
}
