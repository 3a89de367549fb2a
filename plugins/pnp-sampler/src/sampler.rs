//! The sampler's core: a variance-exploding diffusion run backwards from σ_max to 0, each step
//! denoising with a [`Denoiser`], making the estimate consistent with the measurement under a
//! linear [`Operator`] (a [`DataStep`]), and re-noising DDIM-style with stochasticity η.
//!
//! One step at noise level σ_t (next level σ_{t−1}, the last one 0):
//!
//! 1. x̄ = D(x_t, σ_t), the denoiser's estimate of E[X | X + σ_t·W = x_t];
//! 2. x̂ = data step: the estimate of E[X | x_t, y] from x̄ and the measurement y = A·x + σ_n·w
//!    ([`DataStep`]);
//! 3. x_{t−1} = x̂ + √(σ_{t−1}² − c²)·(x_t − x̂)/σ_t + c·ξ, with c = η·σ_{t−1}·√(1 − σ_{t−1}²/σ_t²)
//!    and ξ standard normal (Song, Meng & Ermon 2021, DDIM, eq. 12 in the variance-exploding
//!    form): η = 1 is the DDPM ancestral step (the reverse SDE's discretisation, a posterior
//!    sampler in the many-step limit when x̂ is exact), η = 0 the deterministic probability-flow
//!    step. The final step returns x̂.
//!
//! The chain starts at x_T = e + η·σ_max·ξ, e the measurement-based estimate [`prox`] makes from a
//! guess (DiffPIR, Zhu et al. 2023, start their chain the same way for restoration): at η = 0
//! nothing is random and the whole sampler is a deterministic function of y.

use upbench_sdk::PluginError;
use upbench_tch::tch::{self, Kind, Tensor};

/// Maps a libtorch error to the SDK's.
pub(crate) fn fail(e: tch::TchError) -> PluginError {
    PluginError::failed(e)
}

/// A linear measurement operator A on a batch (first dimension) of signals, with its adjoint.
pub trait Operator {
    /// A·x for every signal of the batch `[B, …]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor, PluginError>;
    /// Aᵀ·y for every measurement of the batch `[B, …]`.
    fn adjoint(&self, y: &Tensor) -> Result<Tensor, PluginError>;
    /// A typical diagonal entry of A·Aᵀ (1 for masks and the identity): scales the starting
    /// point of the conjugate-gradient solves.
    fn gram_scale(&self) -> f64;
}

/// An MMSE denoiser: D(x, σ) = E[X | X + σ·W = x], W standard normal, for a batch of signals.
pub trait Denoiser {
    /// D(x, σ) for every signal of the batch `[B, …]`.
    fn denoise(&mut self, x: &Tensor, sigma: f64) -> Result<Tensor, PluginError>;

    /// Cov(X | X + σ·W = x)·v, which Tweedie's second-order formula writes σ²·∇D(x, σ)·v. Given
    /// `denoised` = D(x, σ). The default is a forward difference of the denoiser with a step of
    /// RMS σ/100 per coordinate (one more denoiser call); exact denoisers override it.
    fn posterior_cov(&mut self, x: &Tensor, sigma: f64, denoised: &Tensor, v: &Tensor) -> Result<Tensor, PluginError> {
        let per_coordinate = (v.numel() as f64 / v.size()[0].max(1) as f64).max(1.0);
        // A zero direction (a converged solve's) gets a finite step and so a zero product.
        let rms = (dot(v, v)? / per_coordinate).sqrt().clamp_min(1e-30);
        let step = broadcast(&(rms.reciprocal() * (sigma / 100.0)), v)?;
        let moved = self.denoise(&(x + &step * v), sigma)?;
        Ok((moved - denoised) / step * (sigma * sigma))
    }
}

/// How x̂ is made consistent with the measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DataStep {
    /// Moment matching: with p(x | x_t) taken as the Gaussian of the denoiser's mean x̄ and
    /// Tweedie covariance C_t = Cov(X | x_t), x̂ = x̄ + C_t·Aᵀ·(A·C_t·Aᵀ + σ_n²·I)⁻¹·(y − A·x̄), by
    /// conjugate gradients on the measurement side (Boys et al. 2023, TMPD; Rozet et al. 2024,
    /// MMPS). Exact for Gaussian priors, so the sampler is then exact as the steps grow.
    Tweedie,
    /// DiffPIR's proximal step (Zhu et al. 2023, eq. 13): x̂ = argmin ‖y − A·x‖²/σ_n² +
    /// λ/σ_t²·‖x − x̄‖², by conjugate gradients on AᵀA + ρ·I, ρ = λ·σ_n²/σ_t² — C_t replaced by
    /// σ_t²/λ·I. One denoiser call per step, but not exact even for Gaussian priors.
    Prox {
        /// DiffPIR's λ.
        lambda: f64,
    },
}

/// Everything a run needs besides the denoiser, the operator and the data.
#[derive(Debug, Clone)]
pub struct Settings {
    /// η ∈ [0, 1]: 0 deterministic (probability flow), 1 DDPM ancestral sampling.
    pub eta: f64,
    /// The noise levels σ_T > … > σ_1 > 0 (the chain ends at 0 after the last).
    pub sigmas: Vec<f64>,
    /// The data-consistency step.
    pub data_step: DataStep,
    /// σ_n² of the measurement (plus any modelled rounding), > 0.
    pub noise_var: f64,
    /// Conjugate-gradient iterations at most, per solve.
    pub cg_iterations: usize,
    /// Stop a solve when every residual has fallen by this factor.
    pub cg_tolerance: f64,
}

/// `steps` noise levels from `sigma_max` down to `sigma_min`, evenly spaced in log σ.
pub fn geometric(sigma_max: f64, sigma_min: f64, steps: usize) -> Vec<f64> {
    if steps <= 1 {
        return vec![sigma_max];
    }
    let ratio = (sigma_min / sigma_max).ln();
    (0..steps).map(|k| sigma_max * (ratio * k as f64 / (steps - 1) as f64).exp()).collect()
}

/// ⟨a_b, b_b⟩ for each signal b of the batch: `[B]`, float64.
pub fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor, PluginError> {
    let prod = a.f_mul(b).map_err(fail)?;
    let prod = if prod.dim() > 1 { prod.f_flatten(1, -1).map_err(fail)? } else { prod.f_unsqueeze(1).map_err(fail)? };
    prod.f_sum_dim_intlist(1, false, Kind::Double).map_err(fail)
}

/// A per-signal scalar `[B]` shaped to broadcast over `like` `[B, …]`, in `like`'s kind.
pub fn broadcast(s: &Tensor, like: &Tensor) -> Result<Tensor, PluginError> {
    let mut shape = vec![1i64; like.dim()];
    shape[0] = -1;
    s.f_reshape(shape.as_slice()).and_then(|t| t.f_to_kind(like.kind())).map_err(fail)
}

/// Solves apply(x) = b for each signal of the batch by conjugate gradients from `x0` (apply
/// symmetric positive definite, acting on each signal separately).
pub fn conjugate_gradients(
    apply: &mut dyn FnMut(&Tensor) -> Result<Tensor, PluginError>,
    b: &Tensor,
    x0: Tensor,
    max_iterations: usize,
    tolerance: f64,
) -> Result<Tensor, PluginError> {
    let mut x = x0;
    let mut r = b - apply(&x)?;
    let mut p = r.copy();
    let mut rr = dot(&r, &r)?;
    let goal = dot(b, b)?.sqrt() * tolerance;
    for _ in 0..max_iterations {
        if rr.sqrt().le_tensor(&goal).all().int64_value(&[]) != 0 {
            break;
        }
        let ap = apply(&p)?;
        let curvature = dot(&p, &ap)?;
        // A converged signal (r = p = 0) steps by 0, not 0/0; so does one whose direction has no
        // positive curvature (a learned denoiser's Jacobian need not be positive definite): its
        // solve stops where it is.
        let curved = curvature.gt(0.0);
        let alpha =
            rr.f_div(&curvature.clamp_min(f64::MIN_POSITIVE)).map_err(fail)?.where_self(&curved, &rr.zeros_like());
        x += &p * broadcast(&alpha, &p)?;
        r -= &ap * broadcast(&alpha, &ap)?;
        let rr_next = dot(&r, &r)?;
        let beta = rr_next.f_div(&rr.clamp_min(f64::MIN_POSITIVE)).map_err(fail)?;
        p = &r + &p * broadcast(&beta, &p)?;
        rr = rr_next;
    }
    Ok(x)
}

/// The proximal estimate argmin ‖y − A·x‖²/σ_n² + ‖x − guess‖²/σ² (DiffPIR's data step with
/// λ = 1): (AᵀA + ρ·I)·x = Aᵀy + ρ·guess, ρ = σ_n²/σ², by conjugate gradients from `guess`.
pub fn prox(
    op: &dyn Operator,
    y: &Tensor,
    guess: &Tensor,
    sigma: f64,
    settings: &Settings,
    lambda: f64,
) -> Result<Tensor, PluginError> {
    let rho = lambda * settings.noise_var / (sigma * sigma);
    let b = op.adjoint(y)? + guess * rho;
    let mut apply = |v: &Tensor| -> Result<Tensor, PluginError> { Ok(op.adjoint(&op.forward(v)?)? + v * rho) };
    conjugate_gradients(&mut apply, &b, guess.copy(), settings.cg_iterations, settings.cg_tolerance)
}

/// The moment-matching estimate of E[X | x_t, y] ([`DataStep::Tweedie`]).
fn tweedie(
    den: &mut dyn Denoiser,
    op: &dyn Operator,
    x: &Tensor,
    y: &Tensor,
    denoised: &Tensor,
    sigma: f64,
    settings: &Settings,
) -> Result<Tensor, PluginError> {
    let residual = y - op.forward(denoised)?;
    let noise_var = settings.noise_var;
    let mut apply = |u: &Tensor| -> Result<Tensor, PluginError> {
        let spread = den.posterior_cov(x, sigma, denoised, &op.adjoint(u)?)?;
        Ok(op.forward(&spread)? + u * noise_var)
    };
    // Start from the isotropic guess C_t ≈ σ_t²·I (DiffPIR's), A·Aᵀ ≈ its typical diagonal.
    let start = &residual / (sigma * sigma * op.gram_scale() + noise_var);
    let u = conjugate_gradients(&mut apply, &residual, start, settings.cg_iterations, settings.cg_tolerance)?;
    Ok(denoised + den.posterior_cov(x, sigma, denoised, &op.adjoint(&u)?)?)
}

/// Runs the sampler on a batch: `y` `[B, …]` the measurement of each chain, `start` `[B, …]` its
/// measurement-based estimate e (see the module's documentation). Draws from libtorch's
/// generator, which the caller seeds. Returns the samples `[B, …]`.
pub fn sample(
    den: &mut dyn Denoiser,
    op: &dyn Operator,
    y: &Tensor,
    start: &Tensor,
    settings: &Settings,
) -> Result<Tensor, PluginError> {
    let eta = settings.eta;
    let sigmas = &settings.sigmas;
    let Some(&sigma_max) = sigmas.first() else {
        return Err(PluginError::Failed("the sampler needs at least one noise level".into()));
    };
    let mut x = if eta > 0.0 { start + start.f_randn_like().map_err(fail)? * (eta * sigma_max) } else { start.copy() };
    for (k, &sigma) in sigmas.iter().enumerate() {
        let denoised = den.denoise(&x, sigma)?;
        let estimate = match settings.data_step {
            DataStep::Tweedie => tweedie(den, op, &x, y, &denoised, sigma, settings)?,
            DataStep::Prox { lambda } => prox(op, y, &denoised, sigma, settings, lambda)?,
        };
        let Some(&next) = sigmas.get(k + 1) else {
            return Ok(estimate);
        };
        let fresh = eta * next * (1.0 - (next / sigma).powi(2)).max(0.0).sqrt();
        let kept = (next * next - fresh * fresh).max(0.0).sqrt() / sigma;
        x = &estimate + (&x - &estimate) * kept;
        if fresh > 0.0 {
            x += x.f_randn_like().map_err(fail)? * fresh;
        }
    }
    unreachable!("the loop returns at its last noise level")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conjugate_gradients_solve_each_system_of_a_batch() {
        let opts = (Kind::Double, tch::Device::Cpu);
        tch::manual_seed(1);
        let m = Tensor::randn([5, 5], opts);
        let spd = m.matmul(&m.tr()) + Tensor::eye(5, opts);
        let b = Tensor::randn([3, 5], opts);
        let mut apply = |v: &Tensor| Ok(v.matmul(&spd));
        let x = conjugate_gradients(&mut apply, &b, b.zeros_like(), 50, 1e-12).unwrap();
        let want = Tensor::linalg_solve(&spd, &b.tr(), true).tr();
        let err = (x - want).abs().max().double_value(&[]);
        assert!(err < 1e-9, "max error {err}");
    }

    #[test]
    fn the_schedule_is_geometric_from_max_to_min() {
        let s = geometric(8.0, 0.125, 7);
        assert_eq!(s.len(), 7);
        for (k, v) in s.iter().enumerate() {
            assert!((v - 8.0 / 2f64.powi(k as i32)).abs() < 1e-12, "{s:?}");
        }
        assert_eq!(geometric(2.0, 0.5, 1), vec![2.0]);
    }
}
