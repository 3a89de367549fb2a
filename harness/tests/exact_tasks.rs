//! The reference plugins on exact tasks (d = 1, 16, 64) land where the closed forms say
//! (`theory.md`, results 2 and 3): every assertion compares a measured value with an exact one.

use std::sync::OnceLock;

use tch::Kind;
use upbench::judge::{bound::eta, Region};
use upbench::record::RunReport;
use upbench::task::{ExactTask, TaskConfig};

use crate::util::{result, run, SuiteBuilder};

// The tests check 8 gamma-optimal intervals for containing 1 at once; at 95 % each, all eight
// would contain it only about 2 times in 3 even for a perfect estimator. Per-interval coverage
// 99.5 % keeps the family-wise coverage near 96 % (Bonferroni).
fn suite() -> SuiteBuilder {
    SuiteBuilder::new(11)
        .sampling(64, 4096)
        .section("statistics", "confidence_level = 0.995\nbootstrap_resamples = 4000")
        .preset("d1", "example-1")
        .task(
            "d16",
            r#"dim = 16
            prior = { kind = "ar1", rho = 0.8 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .task(
            "d16-inpainting",
            r#"dim = 16
            prior = { kind = "ar1", rho = 0.9 }
            operator = { kind = "inpainting", noise_std = 0.2, observed_fraction = 0.5 }"#,
        )
        .task(
            "d64",
            r#"dim = 64
            prior = { kind = "power-law", beta = 2.0 }
            operator = { kind = "super-resolution", noise_std = 0.1, factor = 2, blur_std = 1.0 }"#,
        )
        .plugin("posterior-mean")
        .plugin("posterior-sampler")
        .plugin_with("gamma-optimal", "gamma = [0.25, 0.5]")
        .plugin_with("isotropic-noise", "tau = 0.3")
        .plugin_with("overdispersed-sampler", "spread = 1.5")
}

const TASKS: [(&str, usize); 4] = [("d1", 1), ("d16", 16), ("d16-inpainting", 16), ("d64", 64)];

fn report() -> &'static RunReport {
    static REPORT: OnceLock<RunReport> = OnceLock::new();
    REPORT.get_or_init(|| run(&suite().toml()))
}

fn close(measured: f64, exact: f64, rel: f64, what: &str) {
    assert!((measured / exact - 1.0).abs() <= rel, "{what}: measured {measured}, exact {exact} (tolerance {rel})");
}

#[test]
fn the_run_has_no_failures() {
    assert!(report().failures.is_empty(), "{:?}", report().failures);
    assert_eq!(report().results.len(), 4 * 6);
}

#[test]
fn gamma_optimal_lands_on_the_bound() {
    for (task, d) in TASKS {
        for gamma in [0.25, 0.5] {
            let r = result(report(), task, &format!("gamma-optimal(gamma={gamma})"));
            let j = &r.judgement;
            let what = format!("{task} γ={gamma}");
            assert!((j.bound_ratio.point - 1.0).abs() <= 0.02, "{what}: U/bound = {:?}", j.bound_ratio);
            assert!(j.bound_ratio.ci.contains(1.0), "{what}: CI {:?} excludes 1", j.bound_ratio.ci);
            close(j.uncertainty_ratio.point, 1.0 + gamma, 0.02, &format!("{what} U/N"));
            let p_exact = d as f64 / 2.0 * ((1.0 + gamma).powi(2) / (4.0 * gamma)).ln();
            assert!(
                (j.perception_nats.point - p_exact).abs() <= 0.03 * p_exact + 0.01,
                "{what}: P = {}, exact {p_exact}",
                j.perception_nats.point
            );
            assert_eq!(j.region, Region::OptimalBand, "{what}");
            assert!(j.validity.is_valid(), "{what}: {}", j.validity);
        }
    }
}

#[test]
fn posterior_sampler_has_perfect_perception_and_twice_the_inherent_uncertainty() {
    for (task, _) in TASKS {
        let j = &result(report(), task, "posterior-sampler").judgement;
        assert!(j.perception_nats.point.abs() < 0.02, "{task}: P = {:?}", j.perception_nats);
        close(j.uncertainty_ratio.point, 2.0, 0.02, &format!("{task} U/N"));
        assert_eq!(j.region, Region::OptimalBand, "{task}");
    }
}

#[test]
fn posterior_mean_has_the_inherent_uncertainty_and_infinite_perception_index() {
    for (task, _) in TASKS {
        let r = result(report(), task, "posterior-mean");
        let j = &r.judgement;
        assert!(!r.stochastic);
        assert_eq!(j.perception_nats.point, f64::INFINITY);
        close(j.uncertainty_ratio.point, 1.0, 0.02, &format!("{task} U/N"));
        assert!(
            j.uncertainty_ratio.ci.contains(1.0) || (j.uncertainty_ratio.point - 1.0).abs() < 0.005,
            "{task}: {:?}",
            j.uncertainty_ratio
        );
        // Its expected MSE is tr(Σ)/d, which bounds U = N(X|Y) = |Σ|^(1/d) from above
        // (theory.md, result 4: MSE ≥ U ≥ N(X|Y) for conditionally unbiased models).
        let sigma = exact_task(task).posterior_covariance().shallow_clone();
        let mse_exact = sigma.trace().double_value(&[]) / sigma.size()[0] as f64;
        assert!(j.mse.ci.contains(mse_exact), "{task}: MSE {:?}, exact {mse_exact}", j.mse);
        assert!(mse_exact >= j.uncertainty.point * (1.0 - 0.02), "{task}");
        // The MMSE is stated in closed form, and the posterior mean attains it.
        let summary = report().tasks.iter().find(|t| t.name == task).unwrap();
        close(summary.mmse.expect("an exact task's MMSE"), mse_exact, 1e-9, &format!("{task} MMSE"));
        let ratio = j.mse_over_mmse.expect("MSE/MMSE");
        assert!(ratio.ci.contains(1.0), "{task}: MSE/MMSE {ratio:?}");
    }
}

/// MSE is measured against the exact posterior draws, as U is: a perfect sampler's samples are
/// as far from the draws as two draws are from each other, 2·MMSE in expectation; before, against
/// the 64 shared truths, its MSE scattered with theirs.
#[test]
fn a_perfect_sampler_has_twice_the_mmse() {
    for (task, _) in TASKS {
        let j = &result(report(), task, "posterior-sampler").judgement;
        let ratio = j.mse_over_mmse.expect("MSE/MMSE");
        close(ratio.point, 2.0, 0.02, &format!("{task} MSE/MMSE"));
        assert!(ratio.ci.contains(2.0), "{task}: {ratio:?}");
    }
}

/// Every model proves N(X|Y) ≤ U/η(P; d): the tightest bound (the frontier) never falls below
/// the exact N(X|Y) beyond its interval, the optimal family attains it, and a suboptimal model
/// proves a looser one.
#[test]
fn the_frontier_never_falls_below_the_inherent_uncertainty_and_the_gamma_family_attains_it() {
    for (task, _) in TASKS {
        let exact = report().tasks.iter().find(|t| t.name == task).unwrap().inherent.value().unwrap();
        let frontier = report().frontiers.iter().find(|f| f.task == task).expect("a frontier");
        assert!(frontier.inherent.ci.upper >= exact, "{task}: frontier {:?} below N(X|Y) = {exact}", frontier.inherent);
        for label in ["posterior-mean", "posterior-sampler", "gamma-optimal(gamma=0.25)", "gamma-optimal(gamma=0.5)"] {
            let r = result(report(), task, label);
            let implied = r.judgement.implied_inherent;
            assert!(
                implied.ci.contains(exact) || (implied.point / exact - 1.0).abs() < 0.005,
                "{task} {label}: U/η(P) = {implied:?}, N(X|Y) = {exact}"
            );
            assert!(r.efficiency.unwrap() > 0.97, "{task} {label}: efficiency {:?}", r.efficiency);
        }
        let loose = result(report(), task, "overdispersed-sampler(spread=1.5)");
        assert!(loose.judgement.implied_inherent.ci.lower > exact, "{task}: {:?}", loose.judgement.implied_inherent);
        assert!(loose.efficiency.unwrap() < 0.9, "{task}: {:?}", loose.efficiency);
    }
}

/// The suite's task `name`, built as the pipeline builds it.
fn exact_task(name: &str) -> ExactTask {
    let text = suite().toml();
    let section =
        text.split("[[").find(|t| t.starts_with("task]]") && t.contains(&format!("name = \"{name}\""))).unwrap();
    let cfg: TaskConfig = toml::from_str(section.trim_start_matches("task]]")).unwrap();
    ExactTask::build(&cfg, upbench::seed::derive_seed(11, &["task", name])).unwrap()
}

/// The exact U and P of μ + τZ: eigenvalues λ of the posterior covariance give
/// U = exp(mean ln(λ + τ²)) and P = Σ ln((λ + τ²)/2) − ½ ln λ − ½ ln τ².
fn isotropic_exact(task_name: &str, tau: f64) -> (f64, f64, f64) {
    let task = exact_task(task_name);
    let lambda = Vec::<f64>::try_from(task.posterior_covariance().linalg_eigvalsh("L").to_kind(Kind::Double)).unwrap();
    let t2 = tau * tau;
    let u = (lambda.iter().map(|l| (l + t2).ln()).sum::<f64>() / lambda.len() as f64).exp();
    let p = lambda.iter().map(|l| ((l + t2) / 2.0).ln() - 0.5 * l.ln() - 0.5 * t2.ln()).sum::<f64>();
    (u, p, task.exact_inherent_uncertainty().expect("a Gaussian task"))
}

#[test]
fn isotropic_noise_matches_its_closed_form_and_is_strictly_suboptimal_on_correlated_posteriors() {
    for (task, d) in TASKS {
        let j = &result(report(), task, "isotropic-noise(tau=0.3)").judgement;
        let (u, p, n_inh) = isotropic_exact(task, 0.3);
        close(j.uncertainty.point, u, 0.02, &format!("{task} U"));
        assert!(
            (j.perception_nats.point - p).abs() <= 0.03 * p + 0.01,
            "{task}: P {} vs exact {p}",
            j.perception_nats.point
        );
        let exact_ratio = u / (eta(p, d) * n_inh);
        if d == 1 {
            // A scalar posterior is isotropic: μ + τZ is then the optimal model with γ = τ²/Σ.
            assert!((exact_ratio - 1.0).abs() < 1e-12);
            assert_eq!(j.region, Region::OptimalBand, "{task}");
        } else {
            assert!(exact_ratio > 1.05, "{task}: exact ratio {exact_ratio}");
            assert_eq!(j.region, Region::Suboptimal, "{task}: {:?}", j.bound_ratio);
            assert!(j.bound_ratio.ci.lower > 1.02, "{task}: {:?}", j.bound_ratio);
            close(j.bound_ratio.point, exact_ratio, 0.02, &format!("{task} U/bound"));
        }
    }
}

#[test]
fn overdispersed_sampler_sits_s_squared_above_the_bound() {
    // U = (1 + s²)·N, P = d·ln((1 + s²)/(2s)); the optimal model at that P has γ = 1/s², so
    // U / bound = (1 + s²)/(1 + 1/s²) = s².
    let s: f64 = 1.5;
    for (task, d) in TASKS {
        let j = &result(report(), task, "overdispersed-sampler(spread=1.5)").judgement;
        close(j.uncertainty_ratio.point, 1.0 + s * s, 0.02, &format!("{task} U/N"));
        let p = d as f64 * ((1.0 + s * s) / (2.0 * s)).ln();
        assert!((j.perception_nats.point - p).abs() <= 0.03 * p + 0.01, "{task}: P {} vs {p}", j.perception_nats.point);
        close(j.bound_ratio.point, s * s, 0.02, &format!("{task} U/bound"));
        assert_eq!(j.region, Region::Suboptimal);
    }
}

#[test]
fn results_are_bit_for_bit_reproducible() {
    let again = run(&suite().toml());
    for (a, b) in report().results.iter().zip(&again.results) {
        assert_eq!(a.label, b.label);
        assert_eq!(a.judgement, b.judgement, "{} on {}", a.label, a.task);
    }
}

#[test]
fn ranks_put_valid_results_closest_to_the_bound_first() {
    let d16: Vec<_> = report().results.iter().filter(|r| r.task == "d16").collect();
    assert_eq!(d16.iter().map(|r| r.rank).collect::<Vec<_>>(), (1..=6).collect::<Vec<_>>());
    assert_eq!(d16.last().unwrap().label, "overdispersed-sampler(spread=1.5)");
}

#[test]
fn the_thread_count_is_set_recorded_and_reproducible_at_two_threads() {
    let suite = SuiteBuilder::new(4)
        .threads(2)
        .sampling(16, 512)
        .task(
            "d16",
            r#"dim = 16
            prior = { kind = "ar1", rho = 0.8 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .plugin_with("gamma-optimal", "gamma = [0.0, 0.5]")
        .plugin("posterior-mean")
        .toml();
    let (a, b) = (run(&suite), run(&suite));
    assert_eq!(a.manifest.torch_threads, 2);
    assert_eq!(a.results.len(), 3);
    for (x, y) in a.results.iter().zip(&b.results) {
        assert_eq!(x.judgement, y.judgement, "{} at 2 threads", x.label);
    }
    // Without the setting a run uses one thread (and `results_are_bit_for_bit_reproducible`
    // checks that count).
    assert_eq!(report().manifest.torch_threads, 1);
}
