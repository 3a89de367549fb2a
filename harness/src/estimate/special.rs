//! Special functions the estimators need (digamma for the Wishart log-determinant bias).

/// ψ(x), the digamma function, for x > 0: recurrence up to x ≥ 10, then the asymptotic series
/// (first omitted term 691/(32760·x¹²) < 3e-14 there).
pub fn digamma(mut x: f64) -> f64 {
    debug_assert!(x > 0.0);
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // ln x − 1/(2x) − Σ B_2k / (2k x^2k)
    let series =
        inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 * (1.0 / 132.0)))));
    acc + x.ln() - 0.5 * inv - series
}

#[cfg(test)]
mod tests {
    use super::digamma;

    #[test]
    fn digamma_known_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-13);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-13);
        // ψ(n+1) = ψ(n) + 1/n
        for n in 1..30 {
            let x = n as f64 * 0.73;
            assert!((digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() < 1e-12);
        }
    }
}
