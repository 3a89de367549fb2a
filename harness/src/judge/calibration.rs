//! Whether a sampler's spread can be believed: a [`CalibrationVerdict`] from the coverage of its
//! central intervals (each with its interval over observations) and the uniformity of the
//! truth's ranks ([`crate::estimate::calibration`]). Like the region verdict, it rests on whole
//! intervals: a coverage is too low or too high only when its entire interval is.

use serde::{Deserialize, Serialize};

use crate::estimate::calibration::Calibration;

/// Fewer observations than this decide nothing: the intervals over observations are too loose.
pub const MIN_OBSERVATIONS: usize = 8;

/// A uniformity p-value below this rejects uniform ranks.
pub const UNIFORMITY_ALPHA: f64 = 0.01;

/// Coverage intervals wider than this on either side of their estimate are too loose to call a
/// sampler calibrated.
pub const MAX_HALF_WIDTH: f64 = 0.1;

/// Whether the spread is honest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CalibrationVerdict {
    /// Every level's coverage agrees with its nominal value, the intervals are tight enough to
    /// say so, and the ranks do not reject uniformity.
    Calibrated,
    /// The truth falls outside the intervals too often: the spread is too small (a sampler that
    /// hallucinates with confidence).
    Overconfident,
    /// The truth falls inside the intervals too often: the spread is larger than the
    /// uncertainty.
    Underconfident,
    /// The data do not decide (too few observations, loose intervals, coverage too low at one
    /// level and too high at another, or non-uniform ranks with agreeing coverage).
    Undecided,
}

impl std::fmt::Display for CalibrationVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CalibrationVerdict::Calibrated => "calibrated",
            CalibrationVerdict::Overconfident => "overconfident",
            CalibrationVerdict::Underconfident => "underconfident",
            CalibrationVerdict::Undecided => "undecided",
        })
    }
}

/// A sampler's calibration with its verdict and the reason, as results record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedCalibration {
    /// The verdict.
    pub verdict: CalibrationVerdict,
    /// Why, in words (the decisive level and its numbers).
    pub reason: String,
    /// What was measured.
    #[serde(flatten)]
    pub measured: Calibration,
}

/// The verdict on `measured`, with its reason.
pub fn judge_calibration(measured: Calibration) -> JudgedCalibration {
    let (verdict, reason) = verdict(&measured);
    JudgedCalibration { verdict, reason, measured }
}

fn verdict(c: &Calibration) -> (CalibrationVerdict, String) {
    use CalibrationVerdict::*;
    if c.observations < MIN_OBSERVATIONS {
        return (Undecided, format!("{} observations; at least {MIN_OBSERVATIONS} are needed", c.observations));
    }
    let describe = |i: usize| {
        let v = &c.coverage[i];
        format!(
            "the {:.0} % interval held the truth {:.3} [{:.3}, {:.3}] of the time, {:.3} expected with K = {}",
            v.level * 100.0,
            v.estimate.point,
            v.estimate.ci.lower,
            v.estimate.ci.upper,
            v.nominal,
            c.samples
        )
    };
    let low: Vec<usize> =
        (0..c.coverage.len()).filter(|&i| c.coverage[i].estimate.ci.upper < c.coverage[i].nominal).collect();
    let high: Vec<usize> =
        (0..c.coverage.len()).filter(|&i| c.coverage[i].estimate.ci.lower > c.coverage[i].nominal).collect();
    match (low.last(), high.last()) {
        (Some(&i), None) => (Overconfident, format!("{}: the spread is too small", describe(i))),
        (None, Some(&i)) => (Underconfident, format!("{}: the spread is too large", describe(i))),
        (Some(&i), Some(&j)) => {
            (Undecided, format!("{}, but {}: a biased or misshapen spread", describe(i), describe(j)))
        }
        (None, None) => {
            let p = c.uniformity.p_value;
            let widest =
                c.coverage.iter().map(|v| (v.estimate.ci.upper - v.estimate.ci.lower) / 2.0).fold(0.0, f64::max);
            let last = c.coverage.len() - 1;
            if p < UNIFORMITY_ALPHA {
                (
                    Undecided,
                    format!("coverage agrees, but the ranks are not uniform (χ² p = {p:.2e}): a misshapen spread"),
                )
            } else if widest > MAX_HALF_WIDTH || widest.is_nan() {
                (Undecided, format!("coverage intervals ±{widest:.3} are too loose to tell; more observations"))
            } else {
                (Calibrated, describe(last))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::calibration::{Coverage, Uniformity};
    use crate::estimate::{ConfidenceInterval, Estimate};

    fn measured(points: [(f64, f64, f64); 3], p_value: f64, observations: usize) -> Calibration {
        let coverage = [0.5, 0.8, 0.9]
            .iter()
            .zip(points)
            .map(|(&level, (point, lower, upper))| Coverage {
                level,
                nominal: level,
                estimate: Estimate {
                    point,
                    ci: ConfidenceInterval { lower, upper, level: 0.95 },
                    standard_error: 0.01,
                    n: observations,
                },
            })
            .collect();
        let uniformity = Uniformity { ranks: observations, bins: 4, statistic: 1.0, p_value };
        Calibration { samples: 99, observations, coordinates: 4, rank_histogram: vec![0; 100], coverage, uniformity }
    }

    #[test]
    fn whole_intervals_decide_the_verdict() {
        let agree = [(0.5, 0.47, 0.53), (0.8, 0.77, 0.83), (0.9, 0.88, 0.92)];
        assert_eq!(judge_calibration(measured(agree, 0.4, 64)).verdict, CalibrationVerdict::Calibrated);
        assert_eq!(judge_calibration(measured(agree, 0.001, 64)).verdict, CalibrationVerdict::Undecided);
        assert_eq!(judge_calibration(measured(agree, 0.4, 4)).verdict, CalibrationVerdict::Undecided);
        let low = [(0.3, 0.27, 0.33), (0.6, 0.57, 0.63), (0.7, 0.68, 0.72)];
        let judged = judge_calibration(measured(low, 0.0, 64));
        assert_eq!(judged.verdict, CalibrationVerdict::Overconfident);
        assert!(judged.reason.contains("90 % interval held the truth 0.700"), "{}", judged.reason);
        let high = [(0.7, 0.67, 0.73), (0.95, 0.93, 0.97), (0.99, 0.98, 1.0)];
        assert_eq!(judge_calibration(measured(high, 0.0, 64)).verdict, CalibrationVerdict::Underconfident);
        let mixed = [(0.3, 0.27, 0.33), (0.8, 0.77, 0.83), (0.99, 0.98, 1.0)];
        assert_eq!(judge_calibration(measured(mixed, 0.0, 64)).verdict, CalibrationVerdict::Undecided);
        let loose = [(0.5, 0.3, 0.7), (0.8, 0.6, 1.0), (0.9, 0.7, 1.0)];
        assert_eq!(judge_calibration(measured(loose, 0.4, 64)).verdict, CalibrationVerdict::Undecided);
    }
}
