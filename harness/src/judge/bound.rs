//! The uncertainty–perception bound of `theory.md` (result 2), in numerically stable form.
//!
//! η(P; d) = 2·e^(2P/d) − sqrt((2·e^(2P/d) − 1)² − 1) cancels catastrophically for large P/d, so
//! it is computed as c = 2·e^(2P/d) − 1 = 1 + 2·expm1(2P/d), γ = 1 / (c + sqrt(c² − 1)),
//! η = 1 + γ, with sqrt(c² − 1) = 2·sqrt(expm1(x)·(1 + expm1(x))).

/// η(P; d): the least uncertainty at perception index P (Rényi-½, nats), in units of N(X|Y).
///
/// `η(0) = 2`, `η(∞) = 1`. Panics in debug builds on negative P or d = 0.
pub fn eta(perception: f64, dim: usize) -> f64 {
    debug_assert!(dim > 0, "dimension must be positive");
    debug_assert!(perception.is_nan() || perception >= 0.0, "perception index must be non-negative, got {perception}");
    1.0 + optimal_gamma(perception, dim)
}

/// η for the squared-Hellinger perception index P ∈ [0, 1] (`theory.md`, result 5; conjectured
/// by the paper): e^(2P/d) is replaced by (1 − P)^(−4/d).
pub fn eta_hellinger(perception: f64, dim: usize) -> f64 {
    if perception >= 1.0 {
        return 1.0;
    }
    let e = (-4.0 / dim as f64 * (-perception).ln_1p()).exp_m1();
    1.0 + gamma_from_excess(e)
}

/// γ = 1/(c + sqrt(c² − 1)) with c = 1 + 2e, given e = expm1(x) ≥ 0.
fn gamma_from_excess(e: f64) -> f64 {
    let c = 1.0 + 2.0 * e;
    let root = 2.0 * (e * (1.0 + e)).sqrt();
    1.0 / (c + root)
}

/// The γ of the optimal Gaussian model at perception P, η(P; d) − 1, kept to full relative
/// precision even where η rounds to 1: its uncertainty is (1 + γ)·N(X|Y).
pub fn optimal_gamma(perception: f64, dim: usize) -> f64 {
    if perception.is_infinite() {
        return 0.0;
    }
    gamma_from_excess((2.0 * perception / dim as f64).exp_m1())
}

/// The inverse of η: the least perception index a model can have at uncertainty
/// `ratio`·N(X|Y). `Some(0)` for ratio ≥ 2; `None` for ratio ≤ 1 (no model is that certain).
pub fn perception_at(ratio: f64, dim: usize) -> Option<f64> {
    if ratio.is_nan() || ratio <= 1.0 {
        return None;
    }
    if ratio >= 2.0 {
        return Some(0.0);
    }
    let gamma = ratio - 1.0;
    // e^(2P/d) = (1+γ)²/(4γ), written as 1 + (1−γ)²/(4γ) to keep precision near γ = 1.
    Some(dim as f64 / 2.0 * ((1.0 - gamma).powi(2) / (4.0 * gamma)).ln_1p())
}

/// The paper's Example 1 (scalar denoising, `theory.md` result 6): U(P)/N(X|Y) for the
/// symmetric-KL perception index, as printed in the paper (standard deviations).
pub fn example1_paper_ratio(perception: f64) -> f64 {
    let q = perception + 1.0;
    1.0 + (q - (q * q - 1.0).sqrt()).powi(2)
}

/// The same curve with the standard (Jeffreys) symmetric KL divergence (variances).
pub fn example1_jeffreys_ratio(perception: f64) -> f64 {
    let q = perception + 1.0;
    1.0 + q - (q * q - 1.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_matches_theory_reference_values() {
        for (p, d, want) in
            [(2.0, 64, 1.6050), (2.0, 2048, 1.9154), (0.1, 1, 1.4028), (1.0, 256, 1.8379), (10.0, 64, 1.3175)]
        {
            let got = eta(p, d);
            assert!((got - want).abs() < 5e-5, "η({p}; {d}) = {got}, want {want}");
        }
    }

    #[test]
    fn eta_endpoints_and_monotonicity() {
        assert_eq!(eta(0.0, 7), 2.0);
        assert_eq!(eta(f64::INFINITY, 7), 1.0);
        let mut last = 2.0;
        for i in 1..200 {
            let v = eta(i as f64 * 0.5, 16);
            assert!(v < last && v > 1.0);
            last = v;
        }
    }

    #[test]
    fn eta_is_stable_where_the_printed_form_cancels() {
        // P/d = 40: the printed form 2a − sqrt((2a − 1)² − 1) cancels to nonsense, while γ keeps
        // full precision (γ ≈ e^(−2P/d)/4) and η = 1 + γ is correctly rounded.
        let a = 80.0f64.exp();
        let printed = 2.0 * a - ((2.0 * a - 1.0).powi(2) - 1.0).sqrt();
        assert!((printed - 1.0).abs() > 0.5, "the printed form should fail here, gave {printed}");
        assert_eq!(eta(40.0 * 64.0, 64), 1.0);
        let got = optimal_gamma(40.0 * 64.0, 64);
        let want = (-80.0f64).exp() / 4.0;
        assert!((got / want - 1.0).abs() < 1e-6, "γ = {got:e}, want {want:e}");
    }

    #[test]
    fn eta_agrees_with_printed_form_where_that_is_accurate() {
        for (p, d) in [(0.3, 4usize), (5.0, 32), (1.0, 1)] {
            let a = (2.0 * p / d as f64).exp();
            let printed = 2.0 * a - ((2.0 * a - 1.0f64).powi(2) - 1.0).sqrt();
            assert!((eta(p, d) - printed).abs() < 1e-12);
        }
    }

    #[test]
    fn perception_at_inverts_eta() {
        for d in [1, 16, 243] {
            // up to P/d = 10, where η − 1 ≈ 5e−10 still carries digits
            for p in [0.01, 0.5, 3.0, 10.0 * d as f64] {
                let back = perception_at(eta(p, d), d).unwrap();
                assert!((back - p).abs() < 1e-5 * p.max(1.0), "d={d} p={p} back={back}");
            }
        }
        assert_eq!(perception_at(2.5, 3), Some(0.0));
        assert_eq!(perception_at(1.0, 3), None);
    }

    #[test]
    fn optimal_gamma_solves_its_defining_equation() {
        // (1+γ)²/(4γ) = e^(2P/d)
        for (p, d) in [(1.0, 8usize), (12.0, 64)] {
            let g = optimal_gamma(p, d);
            assert!(((1.0 + g).powi(2) / (4.0 * g) - (2.0 * p / d as f64).exp()).abs() < 1e-12);
        }
    }

    #[test]
    fn hellinger_variant_endpoints() {
        assert_eq!(eta_hellinger(0.0, 5), 2.0);
        assert_eq!(eta_hellinger(1.0, 5), 1.0);
        let direct = |p: f64, d: f64| {
            let a = 2.0 / (1.0 - p).powf(4.0 / d);
            a - ((a - 1.0).powi(2) - 1.0).sqrt()
        };
        assert!((eta_hellinger(0.3, 2) - direct(0.3, 2.0)).abs() < 1e-12);
    }

    #[test]
    fn example1_curves_match_theory_values_at_p_equal_one() {
        assert!((example1_paper_ratio(1.0) - 1.072).abs() < 5e-4);
        assert!((example1_jeffreys_ratio(1.0) - 1.268).abs() < 5e-4);
        assert_eq!(example1_paper_ratio(0.0), 2.0);
        assert_eq!(example1_jeffreys_ratio(0.0), 2.0);
    }
}
