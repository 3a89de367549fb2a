//! The Gaussian estimator (`theory.md`, "Estimators"): fit a mean and covariance per
//! observation, then use the closed forms. For entropy it is an upper bound (the Gaussian has the
//! largest entropy at a given covariance), exact when the law is Gaussian.
//!
//! Plug-in log-determinants and divergences are biased at finite K. Where no shrinkage is used,
//! both are corrected:
//! - ln|Σ̂|: exactly, by the Wishart expectation E ln|S| = ln|Σ| + Σ_{j=1..d} ψ((ν−j+1)/2) + d·ln(2/ν)
//!   with ν = K − 1 degrees of freedom;
//! - D_½(p ‖ q̂) with p known: to second order in the sampling noise of q̂'s mean and covariance,
//!   bias ≈ ¼·tr(M)/K + [¼·d(d+1) − ⅛·(tr(M²) + tr(M)²)]/ν with M = Σ̄⁻¹·Σ̂_q (derived from the
//!   Wishart second moments E[E_ij E_kl] = (Σ_ik Σ_jl + Σ_il Σ_jk)/ν; it equals d(d+1)/(8ν) when q = p).
//!
//!   What remains is O(1/K²) (≈ 0.003 nats at d = 16, K = 256, p = q: a sixth of one
//!   observation's standard deviation, which at n = 32 observations moves the interval by one
//!   standard error). Where each half of the samples still has K/2 ≥ 5·d, it is removed too, by
//!   Richardson extrapolation over the two halves (the generalised jackknife of Schucany, Gray &
//!   Owen 1971): D̃ = (K²·D̂_K − h²·D̂_h)/(K² − h²), with D̂_h the mean of the halves' corrected
//!   estimates, h = ⌊K/2⌋ ([`d_half_corrected`]).
//!
//! With Ledoit–Wolf shrinkage (few samples for d) the estimates are biased and flagged.

use tch::{Kind, Tensor};

use super::special::digamma;
use super::EstimateError;

/// How covariance matrices are regularised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shrinkage {
    /// Ledoit–Wolf when K < 10·d, none otherwise.
    Auto,
    /// Never: the sample covariance, bias-corrected.
    None,
    /// Always Ledoit–Wolf towards a multiple of the identity.
    LedoitWolf,
}

impl Shrinkage {
    /// Whether shrinkage applies with `k` samples in dimension `d` (exact tasks: `Auto` below 10·d).
    pub fn applies(self, k: i64, d: i64) -> bool {
        self.applies_below(k, d, 10)
    }

    /// Whether shrinkage applies with `k` samples in dimension `d` when `Auto` shrinks below
    /// `min_per_dimension`·d samples (image tasks use their own threshold, `estimate::images`).
    pub fn applies_below(self, k: i64, d: i64, min_per_dimension: i64) -> bool {
        match self {
            Shrinkage::Auto => k < min_per_dimension * d,
            Shrinkage::None => false,
            Shrinkage::LedoitWolf => true,
        }
    }
}

fn tch_err(e: tch::TchError) -> EstimateError {
    EstimateError::Numeric(e.to_string())
}

/// Per-observation means `[n, d]` and covariances `[n, d, d]` of samples `[n, K, d]`:
/// unbiased (divisor K − 1), or Ledoit–Wolf shrunk when `shrink`.
pub fn fit(samples: &Tensor, shrink: bool) -> Result<(Tensor, Tensor), EstimateError> {
    let (_, k, d) = samples.size3().map_err(tch_err)?;
    let mean = samples.f_mean_dim(1, true, Kind::Double).map_err(tch_err)?;
    let centered = samples - &mean;
    let scatter = centered.transpose(1, 2).f_matmul(&centered).map_err(tch_err)?; // [n, d, d]
    let mean = mean.squeeze_dim(1);
    if !shrink {
        return Ok((mean, scatter / (k - 1).max(1) as f64));
    }
    // Ledoit & Wolf (2004), target μ·I, in their 1/K normalisation.
    let s = &scatter / k as f64;
    let eye = Tensor::eye(d, (Kind::Double, samples.device()));
    let mu = s.diagonal(0, 1, 2).sum_dim_intlist(-1, false, Kind::Double) / d as f64; // [n]
    let target = &eye * mu.view([-1, 1, 1]);
    let delta2 = (&s - &target).square().sum_dim_intlist([1, 2].as_slice(), false, Kind::Double) / d as f64;
    let norms4 =
        centered.square().sum_dim_intlist(-1, false, Kind::Double).square().sum_dim_intlist(-1, false, Kind::Double);
    let s_norm2 = s.square().sum_dim_intlist([1, 2].as_slice(), false, Kind::Double);
    let beta_bar2 = (norms4 - s_norm2 * k as f64) / (k * k * d) as f64;
    let beta2 = beta_bar2.minimum(&delta2);
    let rho = (beta2 / delta2.clamp_min(f64::MIN_POSITIVE)).clamp(0.0, 1.0).view([-1, 1, 1]);
    let shrunk = &target * &rho + s * (1.0 - &rho);
    Ok((mean, shrunk))
}

/// Raises the eigenvalues of symmetric covariances `[…, d, d]` to at least `floor`, where any is
/// below it; returns the matrices (unchanged, the very tensor, where none is) and whether the
/// floor was used. For rank-deficient covariances (a grey image's three equal channels, a flat
/// image) whose log-determinant is −∞ and whose Cholesky factor does not exist.
pub fn floor_eigenvalues(cov: &Tensor, floor: f64) -> Result<(Tensor, bool), EstimateError> {
    let (values, vectors) = cov.f_linalg_eigh("L").map_err(tch_err)?;
    if values.min().double_value(&[]) >= floor {
        return Ok((cov.shallow_clone(), false));
    }
    let raised = values.clamp_min(floor);
    let rebuilt = (&vectors * raised.unsqueeze(-2)).f_matmul(&vectors.transpose(-2, -1)).map_err(tch_err)?;
    Ok((rebuilt, true))
}

/// ln|Σ| of symmetric positive semi-definite matrices `[…, d, d]`; −∞ where singular.
pub fn log_det(cov: &Tensor) -> Result<Tensor, EstimateError> {
    let (sign, logabs) = Tensor::f_linalg_slogdet(cov).map_err(tch_err)?;
    let singular = sign.le(0.0);
    Ok(logabs.masked_fill(&singular, f64::NEG_INFINITY))
}

/// E ln|S| − ln|Σ| for S the unbiased sample covariance of `k` Gaussian samples in dimension d.
pub fn wishart_log_det_bias(d: i64, k: i64) -> f64 {
    let nu = (k - 1) as f64;
    (1..=d).map(|j| digamma((nu - j as f64 + 1.0) / 2.0)).sum::<f64>() + d as f64 * (2.0 / nu).ln()
}

/// D_½(N(μ1, Σ1) ‖ N(μ2, Σ2)) = ¼·Δμᵀ Σ̄⁻¹ Δμ + ln|Σ̄| − ½·ln|Σ1| − ½·ln|Σ2|, Σ̄ = (Σ1 + Σ2)/2
/// (`theory.md`, "Gaussian closed form"), batched over leading dimensions; +∞ where Σ2 is singular.
pub fn d_half(mu1: &Tensor, cov1: &Tensor, mu2: &Tensor, cov2: &Tensor) -> Result<Tensor, EstimateError> {
    let cov_bar = (cov1 + cov2) * 0.5;
    let chol = cov_bar.f_linalg_cholesky(false).map_err(tch_err)?;
    let diff = (mu1 - mu2).unsqueeze(-1);
    let white = Tensor::f_linalg_solve_triangular(&chol, &diff, false, true, false).map_err(tch_err)?;
    let quad = white.square().sum_dim_intlist([-2, -1].as_slice(), false, Kind::Double);
    let ld_bar = chol.diagonal(0, -2, -1).log().sum_dim_intlist(-1, false, Kind::Double) * 2.0;
    Ok(quad * 0.25 + ld_bar - log_det(cov1)? * 0.5 - log_det(cov2)? * 0.5)
}

/// The second-order bias of [`d_half`] when (μ2, Σ2) are estimated from `k` samples
/// (module docs), for each batch entry.
pub fn d_half_bias(cov1: &Tensor, cov2_hat: &Tensor, k: i64) -> Result<Tensor, EstimateError> {
    let d = *cov2_hat.size().last().unwrap_or(&1) as f64;
    let nu = (k - 1) as f64;
    let cov_bar = (cov1 + cov2_hat) * 0.5;
    let chol = cov_bar.f_linalg_cholesky(false).map_err(tch_err)?;
    let m = cov2_hat.f_cholesky_solve(&chol, false).map_err(tch_err)?; // Σ̄⁻¹·Σ̂
    let tr_m = m.diagonal(0, -2, -1).sum_dim_intlist(-1, false, Kind::Double);
    let tr_m2 = (&m * m.transpose(-2, -1)).sum_dim_intlist([-2, -1].as_slice(), false, Kind::Double);
    Ok(&tr_m * (0.25 / k as f64) + ((tr_m2 + tr_m.square()) * -0.125 + 0.25 * d * (d + 1.0)) / nu)
}

/// Each half must hold at least this many samples per dimension for [`d_half_corrected`] to
/// extrapolate: below it the second-order correction is itself poor at K/2 and the
/// extrapolation overshoots (measured: at K/2 = 2·d it turns a +0.06 nats bias into −0.04).
pub const RICHARDSON_SAMPLES_PER_DIM: i64 = 5;

/// D_½(N(μ1, Σ1) ‖ q̂) per batch entry, with q̂ fitted (unshrunk) to each entry's `samples` `[n, K, d]`: the
/// plug-in value less its second-order bias ([`d_half_bias`]), extrapolated over the two halves
/// of the samples where they are large enough (module docs) so that the O(1/K²) remainder goes
/// too. Deterministic: the halves are the first and the last ⌊K/2⌋ samples.
pub fn d_half_corrected(mu1: &Tensor, cov1: &Tensor, samples: &Tensor) -> Result<Tensor, EstimateError> {
    let (_, k, d) = samples.size3().map_err(tch_err)?;
    let second_order = |x: &Tensor| -> Result<Tensor, EstimateError> {
        let (mean, cov) = fit(x, false)?;
        Ok(d_half(mu1, cov1, &mean, &cov)? - d_half_bias(cov1, &cov, x.size()[1])?)
    };
    let full = second_order(samples)?;
    let h = k / 2;
    if h < RICHARDSON_SAMPLES_PER_DIM * d {
        return Ok(full);
    }
    let halves = (second_order(&samples.narrow(1, 0, h))? + second_order(&samples.narrow(1, k - h, h))?) * 0.5;
    let (k2, h2) = ((k * k) as f64, (h * h) as f64);
    let extrapolated = (&full * k2 - halves * h2) / (k2 - h2);
    // Samples without spread (a γ = 0 "sampler") have D½ = +∞ at every size; ∞ − ∞ is no value.
    Ok(extrapolated.where_self(&full.isfinite(), &full))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).reshape(shape)
    }

    #[test]
    fn d_half_matches_theory_check_value() {
        let got = d_half(&t(&[0.3], &[1]), &t(&[0.49], &[1, 1]), &t(&[-0.4], &[1]), &t(&[3.61], &[1, 1]))
            .unwrap()
            .double_value(&[]);
        assert!((got - 0.492417).abs() < 5e-7, "{got}");
    }

    /// −2·ln ∫ sqrt(p·q) by Simpson's rule on a wide grid.
    fn d_half_numeric(m1: f64, s1: f64, m2: f64, s2: f64) -> f64 {
        let pdf =
            |x: f64, m: f64, s: f64| (-(x - m).powi(2) / (2.0 * s * s)).exp() / (s * (std::f64::consts::TAU).sqrt());
        let (a, b, n) = (-60.0, 60.0, 200_000);
        let h = (b - a) / n as f64;
        let f = |x: f64| (pdf(x, m1, s1) * pdf(x, m2, s2)).sqrt();
        let mut sum = f(a) + f(b);
        for i in 1..n {
            sum += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        -2.0 * (sum * h / 3.0).ln()
    }

    #[test]
    fn d_half_matches_numerical_integration() {
        for (m1, s1, m2, s2) in
            [(0.3, 0.7, -0.4, 1.9), (0.0, 1.0, 0.0, 1.0), (2.0, 0.5, -1.0, 3.0), (0.1, 2.2, 0.4, 0.3)]
        {
            let closed = d_half(&t(&[m1], &[1]), &t(&[s1 * s1], &[1, 1]), &t(&[m2], &[1]), &t(&[s2 * s2], &[1, 1]))
                .unwrap()
                .double_value(&[]);
            let numeric = d_half_numeric(m1, s1, m2, s2);
            assert!((closed - numeric).abs() < 1e-8, "({m1},{s1})‖({m2},{s2}): closed {closed}, numeric {numeric}");
        }
    }

    #[test]
    fn d_half_is_symmetric_and_additive_over_independent_coordinates() {
        let mu1 = t(&[0.1, -0.2], &[2]);
        let mu2 = t(&[0.5, 0.3], &[2]);
        let c1 = t(&[1.0, 0.0, 0.0, 2.0], &[2, 2]);
        let c2 = t(&[0.5, 0.0, 0.0, 0.7], &[2, 2]);
        let ab = d_half(&mu1, &c1, &mu2, &c2).unwrap().double_value(&[]);
        let ba = d_half(&mu2, &c2, &mu1, &c1).unwrap().double_value(&[]);
        let parts =
            d_half_numeric(0.1, 1.0, 0.5, 0.5f64.sqrt()) + d_half_numeric(-0.2, 2f64.sqrt(), 0.3, 0.7f64.sqrt());
        assert!((ab - ba).abs() < 1e-12);
        assert!((ab - parts).abs() < 1e-8);
    }

    #[test]
    fn wishart_correction_makes_log_det_unbiased() {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(11);
        let (n, k, d) = (400, 40, 8);
        let samples = Tensor::randn([n, k, d], (Kind::Double, tch::Device::Cpu));
        let (_, cov) = fit(&samples, false).unwrap();
        let mean_ld = log_det(&cov).unwrap().mean(Kind::Double).double_value(&[]);
        let corrected = mean_ld - wishart_log_det_bias(d, k);
        // true ln|I| = 0; the uncorrected mean is far off (≈ −1.9 here)
        assert!(mean_ld < -1.0);
        assert!(corrected.abs() < 0.05, "corrected mean ln|S| = {corrected}");
    }

    #[test]
    fn d_half_bias_correction_removes_sampling_bias_at_p_equals_q() {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(5);
        let (n, k, d) = (200, 200, 16);
        let samples = Tensor::randn([n, k, d], (Kind::Double, tch::Device::Cpu));
        let (mean, cov) = fit(&samples, false).unwrap();
        let eye = Tensor::eye(d, (Kind::Double, tch::Device::Cpu));
        let zero = Tensor::zeros([d], (Kind::Double, tch::Device::Cpu));
        let raw = d_half(&zero, &eye, &mean, &cov).unwrap();
        let bias = d_half_bias(&eye, &cov, k).unwrap();
        let raw_mean = raw.mean(Kind::Double).double_value(&[]);
        let corrected = (raw - bias).mean(Kind::Double).double_value(&[]);
        assert!(raw_mean > 0.15, "raw {raw_mean}");
        assert!(corrected.abs() < 0.02, "corrected {corrected}");
    }

    #[test]
    fn extrapolation_over_halves_removes_the_second_order_remainder() {
        // p = q = N(0, I), d = 16, K = 256: the second-order correction leaves ≈ +0.0031 nats
        // (the O(1/K²) term; one observation's standard deviation is ≈ 0.018). Over 1000
        // observations the mean's standard error is ≈ 0.0006, so the remainder is five of them.
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(8);
        let (n, k, d) = (1000, 256, 16);
        let samples = Tensor::randn([n, k, d], (Kind::Double, tch::Device::Cpu));
        let eye = Tensor::eye(d, (Kind::Double, tch::Device::Cpu));
        let zero = Tensor::zeros([d], (Kind::Double, tch::Device::Cpu));
        let (mean, cov) = fit(&samples, false).unwrap();
        let second = (d_half(&zero, &eye, &mean, &cov).unwrap() - d_half_bias(&eye, &cov, k).unwrap())
            .mean(Kind::Double)
            .double_value(&[]);
        let extrapolated = d_half_corrected(&zero, &eye, &samples).unwrap().mean(Kind::Double).double_value(&[]);
        assert!(second > 0.002, "second-order only: {second}");
        assert!(extrapolated.abs() < 0.0012, "extrapolated: {extrapolated}");
        // Samples without spread keep D½ = +∞ (not ∞ − ∞).
        let constant = Tensor::zeros([2, k, d], (Kind::Double, tch::Device::Cpu));
        let p = d_half_corrected(&zero, &eye, &constant).unwrap();
        assert!(p.isinf().all().int64_value(&[]) == 1 && p.min().double_value(&[]) > 0.0, "{p:?}");
        // Below 5·d samples per half it is the second-order value, unchanged.
        let few = samples.narrow(1, 0, 100);
        let (mean, cov) = fit(&few, false).unwrap();
        let plain = d_half(&zero, &eye, &mean, &cov).unwrap() - d_half_bias(&eye, &cov, 100).unwrap();
        assert!(d_half_corrected(&zero, &eye, &few).unwrap().equal(&plain));
    }

    #[test]
    fn ledoit_wolf_shrinks_towards_identity_scale() {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(2);
        let samples = Tensor::randn([1, 20, 40], (Kind::Double, tch::Device::Cpu)) * 3.0;
        let (_, cov) = fit(&samples, true).unwrap();
        // With K < d the sample covariance is singular; the shrunk one is positive definite
        // and close to 9·I.
        assert!(log_det(&cov).unwrap().double_value(&[0]).is_finite());
        let diag = cov.diagonal(0, 1, 2).mean(Kind::Double).double_value(&[]);
        assert!((diag / 9.0 - 1.0).abs() < 0.25, "mean variance {diag}");
    }
}
