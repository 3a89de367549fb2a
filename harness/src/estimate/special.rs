//! Special functions the estimators need: digamma (Wishart log-determinant bias, k-NN
//! entropy) and ln Γ (unit-ball volumes, the Póczos–Schneider constant).

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

/// ln N = (2/d)·h − ln(2πe): the log entropy power per dimension of a law with differential
/// entropy `h` nats in dimension d (`theory.md`, "Quantities").
pub fn log_entropy_power(h: f64, d: usize) -> f64 {
    2.0 * h / d as f64 - (2.0 * std::f64::consts::PI * std::f64::consts::E).ln()
}

/// ln Γ(x) for x > 0: Lanczos approximation (g = 7, nine coefficients; relative error about
/// 1e-15), with the reflection-free shift ln Γ(x) = ln Γ(x + 1) − ln x below 0.5.
pub fn ln_gamma(x: f64) -> f64 {
    debug_assert!(x > 0.0);
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return ln_gamma(x + 1.0) - x.ln();
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln V_d, the log-volume of the unit ball in dimension d: (d/2)·ln π − ln Γ(d/2 + 1).
pub fn ln_unit_ball_volume(d: usize) -> f64 {
    d as f64 / 2.0 * std::f64::consts::PI.ln() - ln_gamma(d as f64 / 2.0 + 1.0)
}

#[cfg(test)]
mod tests {
    use super::{digamma, ln_gamma, ln_unit_ball_volume};

    #[test]
    fn ln_gamma_known_values() {
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!(ln_gamma(2.0).abs() < 1e-14);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
        // ln 10! = 15.104412573075516
        assert!((ln_gamma(11.0) - 15.104_412_573_075_516).abs() < 1e-12);
        // Γ(x + 1) = x·Γ(x)
        for x in [0.1, 0.7, 3.3, 40.5, 300.25] {
            assert!((ln_gamma(x + 1.0) - ln_gamma(x) - f64::ln(x)).abs() < 1e-11 * ln_gamma(x + 1.0).abs().max(1.0));
        }
    }

    #[test]
    fn unit_ball_volumes() {
        assert!((ln_unit_ball_volume(1) - 2f64.ln()).abs() < 1e-14);
        assert!((ln_unit_ball_volume(2) - std::f64::consts::PI.ln()).abs() < 1e-14);
        assert!((ln_unit_ball_volume(3) - (4.0 / 3.0 * std::f64::consts::PI).ln()).abs() < 1e-14);
    }

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
