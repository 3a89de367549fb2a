//! The sampler with the exact MMSE denoiser on exact tasks, where the posterior is known in
//! closed form (computed in `common` independently of the plugin): at η = 1 the samples' law
//! approaches p(x | y) as the steps grow, at η = 0 the output is deterministic and near E[X | y],
//! and seeds behave. Tolerances come from the convergence study in `docs/sampler.md`
//! (`examples/convergence.rs`), stated next to each assertion.

mod common;

use common::*;
use upbench_sdk::{ParamValue, TaskKind};
use upbench_tch::tch::{self, Kind, Tensor};

/// One test: libtorch's generator is process-wide, so the draws must not run on parallel threads.
#[test]
fn the_exact_denoiser_samples_the_posterior() {
    let _guard = tch::no_grad_guard();
    tch::set_num_threads(1);
    gaussian_posterior_is_reached();
    deterministic_is_near_the_posterior_mean();
    seeds_reproduce_and_differ();
    mixture_modes_are_kept();
}

fn ar1_denoising() -> upbench_sdk::TaskSpec {
    let d = 16;
    task(TaskKind::Denoising, d, selection(d, &(0..d).collect::<Vec<_>>()), 0.5, gaussian(ar1(d, 0.8)))
}

/// Mean over `n` measurements of the Gaussian-fit D_½ and of ln(U/N(X|Y)).
fn scores(exact: &Exact, y: &Tensor, samples: &Tensor) -> (f64, f64) {
    let n = y.size()[0];
    let (mut p, mut u) = (0.0, 0.0);
    for i in 0..n {
        let (_, m, c) = exact.posterior(&y.get(i)).remove(0);
        let (pi, ui) = gaussian_scores(&samples.get(i), &m, &c);
        p += pi / n as f64;
        u += ui / n as f64;
    }
    (p, u.exp())
}

/// d = 16, AR(1) ρ = 0.8 prior, denoising σ = 0.5 (the harness's `ar1-denoising-d16`), 4
/// measurements × 4096 samples.
fn gaussian_posterior_is_reached() {
    let task = ar1_denoising();
    let exact = Exact::of(&task);
    let y = exact.measurements(4, 7);
    let at = |steps: i64| {
        let params = [("steps", ParamValue::Int(steps)), ("eta", ParamValue::Float(1.0))];
        scores(&exact, &y, &plugin_samples(&task, &params, &y, 4096, 3))
    };
    let (p100, u100) = at(100);
    let (p25, u25) = at(25);
    eprintln!(
        "ar1-denoising-d16, η = 1: P = {p100:.4}, U/N = {u100:.4} at 100 steps; P = {p25:.4}, U/N = {u25:.4} at 25"
    );
    // Study: the exact law has P = 0.0194 at 100 steps; this Gaussian-fit estimate adds its own
    // floor (0.009 for exact draws of this size), measured 0.030 on 8 measurements.
    assert!(p100 < 0.07, "P at 100 steps = {p100}");
    // Study: U/N(X|Y) = 1.906 at 100 steps (exact law; 2 in the limit, the paper's
    // perfect-perception point, approached as ≈ 2 − 9.4/steps).
    assert!((1.86..1.95).contains(&u100), "U/N at 100 steps = {u100}");
    // Fewer steps are measurably further from the posterior (exact law: P = 0.294, U/N = 1.681
    // at 25 steps).
    assert!(p25 > 0.15 && p25 > 3.0 * p100, "P at 25 steps = {p25}, at 100 = {p100}");
    assert!(u25 < u100 - 0.1, "U/N at 25 steps = {u25}, at 100 = {u100}");
}

/// η = 0: every seed gives the same output, within 1 % of the posterior's spread of E[X | y].
fn deterministic_is_near_the_posterior_mean() {
    let task = ar1_denoising();
    let exact = Exact::of(&task);
    let y = exact.measurements(8, 11);
    let params = [("eta", ParamValue::Float(0.0))];
    let out = plugin_samples(&task, &params, &y, 1, 5);
    let again = plugin_samples(&task, &params, &y, 1, 6);
    assert!(out.equal(&again), "η = 0 depends on the seed");
    for i in 0..8 {
        let (_, m, c) = exact.posterior(&y.get(i)).remove(0);
        let rel = (out.get(i).get(0) - &m).square().sum(Kind::Double).double_value(&[]) / c.trace().double_value(&[]);
        // Study: 3.1e-5 on average at 100 steps (exact law).
        assert!(rel < 1e-3, "measurement {i}: |x̂ − E[X|y]|² / tr Cov = {rel}");
    }
}

/// The same seed gives the same samples; another seed other samples (η > 0).
fn seeds_reproduce_and_differ() {
    let task = ar1_denoising();
    let exact = Exact::of(&task);
    let y = exact.measurements(2, 13);
    let params = [("steps", ParamValue::Int(20)), ("eta", ParamValue::Float(0.5))];
    let a = plugin_samples(&task, &params, &y, 3, 1);
    let b = plugin_samples(&task, &params, &y, 3, 1);
    let c = plugin_samples(&task, &params, &y, 3, 2);
    assert!(a.equal(&b), "same seed, different samples");
    let gap = (&a - &c).abs().min().double_value(&[]);
    assert!(gap > 0.0, "different seeds gave a coordinate in common");
}

/// The share of `samples` `[k, 2]` that the exact posterior `post` assigns to its second
/// component rather than its first (larger posterior responsibility).
fn share_of_second(post: &[(f64, Tensor, Tensor)], samples: &Tensor) -> f64 {
    let log_resp = |c: usize| {
        let (w, m, cov) = &post[c];
        let r = samples - m;
        (r.matmul(&cov.inverse()) * &r).sum_dim_intlist(1, false, Kind::Double) * -0.5
            + (w.ln() - 0.5 * cov.logdet().double_value(&[]))
    };
    log_resp(1).gt_tensor(&log_resp(0)).to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
}

/// d = 2, two unit components 4 apart, one noisy coordinate observed (the harness's
/// `mixture-d2` shape): a bimodal posterior. The share of samples in each mode against exact
/// posterior draws; the Gaussian moment match of the Tweedie step is not exact here, so this
/// measures how far the sampler is, with the tolerance from the study.
fn mixture_modes_are_kept() {
    let task = task(TaskKind::Inpainting, 2, selection(2, &[0]), 0.3, two_modes(4.0, [0.6, 0.8]));
    let exact = Exact::of(&task);
    let y = exact.measurements(6, 9);
    let params = [("eta", ParamValue::Float(1.0))];
    let samples = plugin_samples(&task, &params, &y, 4000, 3);
    let mut worst = 0.0f64;
    for i in 0..6 {
        let post = exact.posterior(&y.get(i));
        let reference = {
            let draws: Vec<Tensor> = post.iter().map(|(_, m, c)| exact_draws(m, c, 100_000, 21 + i)).collect();
            let pick = Tensor::from_slice(&[post[0].0, post[1].0]).multinomial(100_000, true).eq(0).unsqueeze(1);
            draws[0].where_self(&pick, &draws[1])
        };
        worst = worst.max((share_of_second(&post, &samples.get(i)) - share_of_second(&post, &reference)).abs());
    }
    eprintln!("mixture-d2, η = 1, 100 steps: worst mode-share error {worst:.4}");
    // Study: the worst of 8 measurements is 0.045–0.065 at 25–200 steps (exact draws: 0.006); it
    // does not shrink with the steps — the moment match's bias, not noise.
    assert!(worst < 0.1, "worst mode-share error {worst}");
}
