//! The convergence study of `docs/sampler.md`: the sampler with the exact MMSE denoiser on exact
//! tasks, its samples' law against the true posterior as `steps` grows, at η = 1 (and η = 0's
//! distance to the posterior mean). Gaussian tasks: Gaussian-fit perception D_½ and U/N(X|Y) per
//! measurement, next to the same statistics of exact posterior draws of the same size (the
//! estimator's floor). Mixture task: the posterior mode weights and D_½ on a grid (d = 2).
//!
//! `scripts/with-libtorch cargo run --release -p pnp-sampler --example convergence`

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use upbench_sdk::{ParamValue, TaskKind};
use upbench_tch::tch::{self, Kind, Tensor};

fn gaussian_row(name: &str, task: &upbench_sdk::TaskSpec, data_step: &str, steps_list: &[i64]) {
    let exact = Exact::of(task);
    let (n, k) = (8i64, 4096u32);
    let y = exact.measurements(n, 7);
    let posts: Vec<_> = (0..n).map(|i| exact.posterior(&y.get(i)).remove(0)).collect();
    let score = |samples: &Tensor| {
        let (mut p, mut u) = (0.0, 0.0);
        for (i, (_, m, c)) in posts.iter().enumerate() {
            let (pi, ui) = gaussian_scores(&samples.get(i as i64), m, c);
            p += pi / n as f64;
            u += ui / n as f64;
        }
        (p, u.exp())
    };
    let floor: Vec<Tensor> =
        posts.iter().enumerate().map(|(i, (_, m, c))| exact_draws(m, c, i64::from(k), 100 + i as i64)).collect();
    let (pf, uf) = score(&Tensor::stack(&floor, 0));
    println!("{name} [{data_step}]: exact draws (estimator floor): P = {pf:.4}, U/N = {uf:.4}");
    for &steps in steps_list {
        let t = std::time::Instant::now();
        let params = [
            ("steps", ParamValue::Int(steps)),
            ("data_step", ParamValue::Text(data_step.into())),
            ("eta", ParamValue::Float(1.0)),
        ];
        let samples = plugin_samples(task, &params, &y, k, 3);
        let (p, u) = score(&samples);
        let params0 = [
            ("steps", ParamValue::Int(steps)),
            ("data_step", ParamValue::Text(data_step.into())),
            ("eta", ParamValue::Float(0.0)),
        ];
        let det = plugin_samples(task, &params0, &y, 1, 3);
        let mut rel = 0.0;
        for (i, (_, m, c)) in posts.iter().enumerate() {
            let err = (det.get(i as i64).get(0) - m).square().sum(Kind::Double).double_value(&[]);
            rel += err / c.trace().double_value(&[]) / n as f64;
        }
        println!(
            "  steps {steps:4}: eta=1 P = {p:.4}, U/N = {u:.4}; eta=0 |x - E[X|y]|^2 / tr Cov = {rel:.2e}  ({:.1} s)",
            t.elapsed().as_secs_f64()
        );
    }
}

/// Posterior mode weights and a grid D_½ for the d = 2 mixture.
fn mixture_row(task: &upbench_sdk::TaskSpec, steps_list: &[i64]) {
    let exact = Exact::of(task);
    let (n, k) = (8i64, 10000u32);
    let y = exact.measurements(n, 9);
    let grid = 240i64;
    let (lo, hi) = (-6.0, 6.0);
    let cell = (hi - lo) / grid as f64;
    let centres = Tensor::arange(grid, F64) * cell + lo + cell / 2.0;
    let gx = centres.view([grid, 1]).expand([grid, grid], false).reshape([-1]);
    let gy = centres.view([1, grid]).expand([grid, grid], false).reshape([-1]);
    let points = Tensor::stack(&[gx, gy], 1); // [G², 2]
    let density = |post: &[(f64, Tensor, Tensor)]| {
        let mut p = Tensor::zeros([grid * grid], F64);
        for (w, m, c) in post {
            let r = &points - m;
            let q = (r.matmul(&c.inverse()) * &r).sum_dim_intlist(1, false, Kind::Double);
            p += (q * -0.5).exp() * (*w / (std::f64::consts::TAU * c.det().double_value(&[]).sqrt()));
        }
        p * (cell * cell)
    };
    let histogram = |s: &Tensor| {
        let idx = ((s - lo) / cell).floor().to_kind(Kind::Int64).clamp(0, grid - 1);
        let flat = idx.select(1, 0) * grid + idx.select(1, 1);
        flat.bincount(None::<Tensor>, grid * grid).to_kind(Kind::Double) / s.size()[0] as f64
    };
    let posts: Vec<Vec<(f64, Tensor, Tensor)>> = (0..n).map(|i| exact.posterior(&y.get(i))).collect();
    let stats = |samples: &Tensor| {
        let (mut p, mut werr) = (0.0, 0.0f64);
        for (i, post) in posts.iter().enumerate() {
            let s = samples.get(i as i64);
            let bc = (density(post) * histogram(&s)).sqrt().sum(Kind::Double).double_value(&[]);
            p += -2.0 * bc.ln() / n as f64;
            // Mode weight: the share of samples nearer component 1's posterior mean.
            let (m0, m1) = (&post[0].1, &post[1].1);
            let near1 = ((&s - m1)
                .square()
                .sum_dim_intlist(1, false, Kind::Double)
                .lt_tensor(&(&s - m0).square().sum_dim_intlist(1, false, Kind::Double)))
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]);
            werr = werr.max((near1 - exact_share(post, &s.size())).abs());
        }
        (p, werr)
    };
    // Exact draws for the floor.
    tch::manual_seed(77);
    let floor: Vec<Tensor> = posts
        .iter()
        .map(|post| {
            let w = Tensor::from_slice(&post.iter().map(|c| c.0).collect::<Vec<_>>());
            let pick = w.multinomial(i64::from(k), true);
            let draws: Vec<Tensor> = post.iter().map(|(_, m, c)| exact_draws(m, c, i64::from(k), 5)).collect();
            draws[0].where_self(&pick.eq(0).unsqueeze(1), &draws[1])
        })
        .collect();
    let (pf, wf) = stats(&Tensor::stack(&floor, 0));
    println!("mixture-d2: exact draws (floor): grid P = {pf:.4}, max |mode share error| = {wf:.4}");
    for &steps in steps_list {
        let params = [("steps", ParamValue::Int(steps)), ("eta", ParamValue::Float(1.0))];
        let samples = plugin_samples(task, &params, &y, k, 3);
        let (p, w) = stats(&samples);
        println!("  steps {steps:4}: eta=1 grid P = {p:.4}, max |mode share error| = {w:.4}");
    }
}

/// The share of an exact draw nearer component 1's posterior mean, by quadrature on many draws.
fn exact_share(post: &[(f64, Tensor, Tensor)], _shape: &[i64]) -> f64 {
    tch::manual_seed(1234);
    let k = 200_000;
    let (m0, m1) = (&post[0].1, &post[1].1);
    let mut share = 0.0;
    for (w, m, c) in post {
        let s = exact_draws(m, c, k, 99);
        let near1 = (&s - m1)
            .square()
            .sum_dim_intlist(1, false, Kind::Double)
            .lt_tensor(&(&s - m0).square().sum_dim_intlist(1, false, Kind::Double))
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]);
        share += w * near1;
    }
    share
}

fn main() {
    let _guard = tch::no_grad_guard();
    // Small tensors: one thread avoids the thread pool's overhead on a shared 2-core machine.
    tch::set_num_threads(1);
    // The Gaussian rows confirm tests/reference/exact_law.py's exact-law tables by sampling at
    // a few step counts (the full tables are that script's); the mixture has no exact law.
    let d = 16;
    let den = task(TaskKind::Denoising, d, selection(d, &(0..d).collect::<Vec<_>>()), 0.5, gaussian(ar1(d, 0.8)));
    gaussian_row("ar1(0.8)-denoising-d16 σ=0.5", &den, "tweedie", &[25, 100, 200]);
    gaussian_row("ar1(0.8)-denoising-d16 σ=0.5", &den, "prox", &[100]);
    let kept = [0, 2, 3, 6, 9, 10, 12, 15];
    let inp = task(TaskKind::Inpainting, d, selection(d, &kept), 0.2, gaussian(ar1(d, 0.9)));
    gaussian_row("ar1(0.9)-inpainting-d16 σ=0.2", &inp, "tweedie", &[100]);
    let mix = task(TaskKind::Inpainting, 2, selection(2, &[0]), 0.3, two_modes(4.0, [0.6, 0.8]));
    let steps = [10, 25, 50, 100, 200];
    mixture_row(&mix, &steps);
}
