//! What the exact-posterior tests and the convergence study (`examples/convergence.rs`) share:
//! exact tasks as the harness describes them, their closed-form posteriors computed here
//! independently of the plugin, the plugin's samples, and Gaussian-fit statistics.
#![allow(dead_code)]

use upbench_plugin_pnp_sampler::PnpSampler;
use upbench_sdk::{
    testing, Device, Extensions, GaussianPrior, MixturePrior, OwnedTensor, ParamValue, TaskKind, TaskSpec,
};
use upbench_tch::tch::{self, Kind, Tensor};

/// Float64 on the CPU.
pub const F64: (Kind, tch::Device) = (Kind::Double, tch::Device::Cpu);

/// Σ_ij = ρ^|i−j|, the harness's `ar1` prior (unit variance).
pub fn ar1(d: usize, rho: f64) -> Vec<f64> {
    (0..d * d).map(|k| rho.powi((k / d).abs_diff(k % d) as i32)).collect()
}

/// The rows of the identity that observe `kept` of `d` coordinates.
pub fn selection(d: usize, kept: &[usize]) -> Vec<f64> {
    let mut a = vec![0.0; kept.len() * d];
    for (row, &c) in kept.iter().enumerate() {
        a[row * d + c] = 1.0;
    }
    a
}

/// An exact task: Y = A·X + σ·W, X ~ Σ_c w_c·N(m_c, Σ_c).
pub fn task(kind: TaskKind, d: usize, operator: Vec<f64>, noise_std: f64, prior: MixturePrior) -> TaskSpec {
    TaskSpec {
        name: "study".into(),
        kind: kind.as_str().into(),
        signal_dim: d as u64,
        measurement_dim: (operator.len() / d) as u64,
        operator: operator.into(),
        noise_std,
        prior: Some(prior).into(),
        device: Device::CPU,
        image: None.into(),
        extensions: Extensions::new(),
    }
}

/// A one-component prior N(0, Σ).
pub fn gaussian(cov: Vec<f64>) -> MixturePrior {
    let d = (cov.len() as f64).sqrt() as usize;
    MixturePrior::gaussian(vec![0.0; d], cov)
}

/// The harness's `gaussian-mixture` prior in d = 2 with identity base: two equal components at
/// ±(separation/2)·u, u a unit vector.
pub fn two_modes(separation: f64, u: [f64; 2]) -> MixturePrior {
    let comp = |s: f64| GaussianPrior {
        mean: vec![s * separation / 2.0 * u[0], s * separation / 2.0 * u[1]].into(),
        covariance: vec![1.0, 0.0, 0.0, 1.0].into(),
    };
    MixturePrior { weights: vec![0.5, 0.5].into(), components: vec![comp(-1.0), comp(1.0)].into() }
}

/// A task's A `[m, d]`, σ and prior components (w, m `[d]`, Σ `[d, d]`) as tensors.
pub struct Exact {
    pub a: Tensor,
    pub noise_std: f64,
    pub components: Vec<(f64, Tensor, Tensor)>,
}

impl Exact {
    pub fn of(task: &TaskSpec) -> Exact {
        let (d, m) = (task.signal_dim as i64, task.measurement_dim as i64);
        let prior = task.prior.as_ref().into_option().expect("exact task");
        let components = prior
            .weights
            .iter()
            .zip(prior.components.iter())
            .map(|(w, c)| (*w, Tensor::from_slice(&c.mean[..]), Tensor::from_slice(&c.covariance[..]).view([d, d])))
            .collect();
        Exact { a: Tensor::from_slice(&task.operator[..]).view([m, d]), noise_std: task.noise_std, components }
    }

    /// `n` measurements from the task's own model, reproducible from `seed`.
    pub fn measurements(&self, n: i64, seed: i64) -> Tensor {
        tch::manual_seed(seed);
        let d = self.a.size()[1];
        let weights = Tensor::from_slice(&self.components.iter().map(|c| c.0).collect::<Vec<_>>());
        let chosen = weights.multinomial(n, true);
        let rows: Vec<Tensor> = (0..n)
            .map(|i| {
                let (_, mean, cov) = &self.components[chosen.int64_value(&[i]) as usize];
                mean + cov.linalg_cholesky(false).matmul(&Tensor::randn([d], F64))
            })
            .collect();
        let x = Tensor::stack(&rows, 0);
        x.matmul(&self.a.tr()) + Tensor::randn([n, self.a.size()[0]], F64) * self.noise_std
    }

    /// The exact posterior of one measurement `y` `[m]`: (w_c(y), mean_c `[d]`, cov_c `[d, d]`)
    /// per component, by the Kalman-gain formulas.
    pub fn posterior(&self, y: &Tensor) -> Vec<(f64, Tensor, Tensor)> {
        let m = self.a.size()[0];
        let mut out = Vec::new();
        let mut log_w = Vec::new();
        for (w, mean, cov) in &self.components {
            let s = self.a.matmul(cov).matmul(&self.a.tr()) + Tensor::eye(m, F64) * self.noise_std.powi(2);
            let gain = cov.matmul(&self.a.tr()).matmul(&s.inverse());
            let innovation = y - self.a.matmul(mean);
            let post_mean = mean + gain.matmul(&innovation);
            let post_cov = cov - gain.matmul(&self.a).matmul(cov);
            let quad = innovation.dot(&s.inverse().matmul(&innovation)).double_value(&[]);
            log_w.push(w.ln() - 0.5 * quad - 0.5 * s.logdet().double_value(&[]));
            out.push((0.0, post_mean, (&post_cov + post_cov.tr()) * 0.5));
        }
        let top = log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = log_w.iter().map(|l| (l - top).exp()).sum();
        for (o, l) in out.iter_mut().zip(log_w) {
            o.0 = (l - top).exp() / total;
        }
        out
    }
}

/// The plugin's `k` samples for each measurement of `y` `[n, m]`: `[n, k, d]`.
pub fn plugin_samples(task: &TaskSpec, overrides: &[(&str, ParamValue)], y: &Tensor, k: u32, seed: u64) -> Tensor {
    let mut params = vec![("denoiser", ParamValue::Text("exact".into()))];
    params.extend(overrides.iter().cloned());
    let params = testing::params_with::<PnpSampler>(&params);
    let mut model = testing::module::<PnpSampler>().new_model()(&params, task).into_result().expect("the model builds");
    let (n, m) = (y.size()[0], y.size()[1]);
    let values: Vec<f64> = Vec::<f64>::try_from(&y.contiguous().view([-1])).expect("float64");
    let input = OwnedTensor::from_f64_vec(values, &[n, m]).expect("measurements");
    let d = task.signal_dim as i64;
    let out = testing::restore_checked(&mut model, input.view(), k, seed, &[d]).expect("restores");
    Tensor::from_slice(&out).view([n, i64::from(k), d])
}

/// Sample mean `[d]` and covariance `[d, d]` (unbiased) of `x` `[k, d]`.
pub fn moments(x: &Tensor) -> (Tensor, Tensor) {
    let mean = x.mean_dim(0, false, Kind::Double);
    let c = x - &mean;
    let cov = c.tr().matmul(&c) / (x.size()[0] - 1) as f64;
    (mean, cov)
}

/// D_½(N(m1, S1) ‖ N(m2, S2)) (`theory.md`).
pub fn d_half(m1: &Tensor, s1: &Tensor, m2: &Tensor, s2: &Tensor) -> f64 {
    let avg = (s1 + s2) * 0.5;
    let dm = m1 - m2;
    let quad = dm.dot(&avg.inverse().matmul(&dm)).double_value(&[]);
    0.25 * quad + avg.logdet().double_value(&[]) - 0.5 * (s1.logdet().double_value(&[]) + s2.logdet().double_value(&[]))
}

/// For one measurement of a Gaussian task, from `k` samples `[k, d]` and the exact posterior
/// (mean, cov): the Gaussian-fit perception D_½ and ln(U/N(X|Y)) = (1/d)·ln(|Ĉ + C|/|C|) (the
/// error X̂ − X is the sum of independent draws given y).
pub fn gaussian_scores(samples: &Tensor, mean: &Tensor, cov: &Tensor) -> (f64, f64) {
    let (m_hat, c_hat) = moments(samples);
    let d = cov.size()[0] as f64;
    let ratio = ((&c_hat + cov).logdet().double_value(&[]) - cov.logdet().double_value(&[])) / d;
    (d_half(&m_hat, &c_hat, mean, cov), ratio)
}

/// `k` exact draws from N(mean, cov), the reference for the estimator's own noise.
pub fn exact_draws(mean: &Tensor, cov: &Tensor, k: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    let d = mean.size()[0];
    mean + Tensor::randn([k, d], F64).matmul(&cov.linalg_cholesky(false).tr())
}
