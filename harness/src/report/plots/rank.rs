//! Spearman's rank correlation over a plot's configurations, with a Fisher-z interval, for the
//! seed paper's Figure 5 (`figure5.rs`): how consistently a measure rises or falls with U.
//!
//! ρ is Pearson's correlation of the average ranks (ties share their mean rank), as
//! `scipy.stats.spearmanr` computes it. Its interval is tanh(atanh ρ ± z·se) with Bonett and
//! Wright's standard error se = sqrt((1 + ρ²/2)/(n − 3)) (Psychometrika 65, 2000), which keeps
//! closer to its level for rank correlations than Fisher's 1/sqrt(n − 3); it needs n > 3.

use statrs::distribution::{ContinuousCDF, Normal};

/// Spearman's ρ of n pairs, with its interval where one exists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spearman {
    /// ρ; NaN when one of the variables is constant (no ranks to correlate).
    pub rho: f64,
    /// Pairs behind it.
    pub n: usize,
    /// The interval's confidence level.
    pub level: f64,
    /// The Fisher-z interval with the Bonett–Wright standard error; `None` for n ≤ 3 or an
    /// undefined ρ.
    pub interval: Option<(f64, f64)>,
}

impl Spearman {
    /// ρ of the pairs `(x, y)` at the interval level `level`; `None` for fewer than two pairs.
    pub fn of(pairs: &[(f64, f64)], level: f64) -> Option<Spearman> {
        let n = pairs.len();
        if n < 2 {
            return None;
        }
        let xs: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let rho = pearson(&average_ranks(&xs), &average_ranks(&ys));
        let interval = (n > 3 && rho.is_finite()).then(|| {
            let z = Normal::standard().inverse_cdf(0.5 + level / 2.0);
            let se = ((1.0 + rho * rho / 2.0) / (n as f64 - 3.0)).sqrt();
            let centre = rho.atanh();
            ((centre - z * se).tanh(), (centre + z * se).tanh())
        });
        Some(Spearman { rho, n, level, interval })
    }

    /// One line for a plot: `Spearman ρ = 0.82, 95 % CI [0.11, 0.97], n = 5`.
    pub fn text(&self) -> String {
        if !self.rho.is_finite() {
            return format!("Spearman ρ undefined (a constant variable), n = {}", self.n);
        }
        let interval = match self.interval {
            Some((lo, hi)) => format!("{:.0} % CI [{lo:.2}, {hi:.2}]", self.level * 100.0),
            None => "no interval for n ≤ 3".to_string(),
        };
        format!("Spearman ρ = {:.2}, {interval}, n = {}", self.rho, self.n)
    }
}

/// The ranks 1…n of `values` (total order; ties get the mean of the ranks they span).
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // positions start..end hold ranks start+1 ..= end
        let mean = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mean;
        }
        start = end;
    }
    ranks
}

/// Pearson's correlation; NaN when either variable is constant.
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(average_ranks(&[5.0, 6.0, 7.0, 8.0, 7.0]), [1.0, 2.0, 3.5, 5.0, 3.5]);
        assert_eq!(average_ranks(&[2.0, 2.0, 2.0]), [2.0, 2.0, 2.0]);
        assert_eq!(average_ranks(&[f64::INFINITY, 1.0]), [2.0, 1.0]);
    }

    /// By hand (and `scipy.stats.spearmanr([1,2,3,4,5], [5,6,7,8,7])` = 0.8207826816681233):
    /// ranks of y are 1, 2, 3.5, 5, 3.5, so ρ = 8/sqrt(10·9.5). Interval: z = atanh ρ =
    /// 1.15921, se = sqrt((1 + ρ²/2)/2) = 0.81757, 1.95996·se = 1.60241, so [−0.4163, 0.9920].
    #[test]
    fn rho_and_its_interval_match_a_hand_computation() {
        let s = Spearman::of(&[(1.0, 5.0), (2.0, 6.0), (3.0, 7.0), (4.0, 8.0), (5.0, 7.0)], 0.95).unwrap();
        assert!((s.rho - 0.820_782_681_668_123_3).abs() < 1e-15, "{}", s.rho);
        let (lo, hi) = s.interval.unwrap();
        let z = 0.820_782_681_668_123_3_f64.atanh();
        let se = ((1.0 + 0.820_782_681_668_123_3_f64.powi(2) / 2.0) / 2.0).sqrt();
        assert!((se - 0.81757).abs() < 1e-5 && (z - 1.15921).abs() < 1e-5);
        assert!((lo - (z - 1.959_963_984_540_054 * se).tanh()).abs() < 1e-12);
        assert!((hi - (z + 1.959_963_984_540_054 * se).tanh()).abs() < 1e-12);
        assert!((lo - -0.4163).abs() < 1e-4 && (hi - 0.9920).abs() < 1e-4, "{lo} {hi}");
        assert_eq!(s.text(), "Spearman ρ = 0.82, 95 % CI [-0.42, 0.99], n = 5");
    }

    #[test]
    fn small_or_constant_samples_have_no_interval() {
        let s = Spearman::of(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)], 0.95).unwrap();
        assert_eq!((s.rho, s.interval), (-1.0, None));
        assert!(s.text().contains("no interval for n ≤ 3"));
        let flat = Spearman::of(&[(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 1.0)], 0.95).unwrap();
        assert!(flat.rho.is_nan() && flat.interval.is_none() && flat.text().contains("undefined"));
        assert_eq!(Spearman::of(&[(1.0, 1.0)], 0.95), None);
    }
}
