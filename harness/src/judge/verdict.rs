//! Verdict types: where a model sits ([`Region`]) and whether its numbers hold ([`Validity`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Position of a model in the (P, U) plane, decided from the whole confidence interval of
/// U / (η(P; d)·N(X|Y)), never from the point alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// The whole interval lies below the bound by more than the tolerance: no model can be
    /// there, so the estimate is wrong.
    Impossible,
    /// The interval lies within the band [η·N(X|Y), η·N(X_G|Y)], up to the tolerance: optimal.
    OptimalBand,
    /// The whole interval lies above the band: a better model exists at this perception.
    Suboptimal,
    /// The interval straddles a boundary: more observations are needed to tell.
    Undecided,
}

impl Region {
    /// Classifies the interval [lower, upper] of the bound ratio; the band is [1, band_top],
    /// resolved to the relative `tolerance` (the verdict's stated precision) on both sides.
    pub fn from_interval(lower: f64, upper: f64, band_top: f64, tolerance: f64) -> Region {
        if upper < 1.0 - tolerance {
            Region::Impossible
        } else if lower > band_top * (1.0 + tolerance) {
            Region::Suboptimal
        } else if lower >= 1.0 - tolerance && upper <= band_top * (1.0 + tolerance) {
            Region::OptimalBand
        } else {
            Region::Undecided
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Region::Impossible => "impossible",
            Region::OptimalBand => "optimal band",
            Region::Suboptimal => "suboptimal",
            Region::Undecided => "undecided",
        })
    }
}

/// Why a measurement cannot be trusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// K ≤ d: the sample covariance is singular.
    TooFewSamples {
        /// K.
        samples: usize,
        /// d.
        dim: usize,
    },
    /// Fewer than 8 observations: the bootstrap interval is meaningless.
    TooFewObservations {
        /// n.
        observations: usize,
    },
    /// The model's output or the estimate is NaN or infinite where it must be finite.
    NonFinite,
    /// The ratio's whole interval is below 1: impossible, so the estimate is biased.
    BelowBound {
        /// The interval's upper end.
        upper: f64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TooFewSamples { samples, dim } => {
                write!(f, "{samples} samples per observation for d = {dim}: covariance is singular; raise samples_per_observation well above d (≥ 10·d avoids shrinkage)")
            }
            Reason::TooFewObservations { observations } => {
                write!(f, "only {observations} observations; use at least 8 (32 or more for tight intervals)")
            }
            Reason::NonFinite => {
                write!(f, "NaN or infinite values in the model's samples or the estimates; check the plugin's output")
            }
            Reason::BelowBound { upper } => {
                write!(f, "measured in the impossible region (U/bound ≤ {upper:.3}, beyond the tolerance): the estimate is biased; add samples or observations")
            }
        }
    }
}

/// Whether a result's numbers hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "details", rename_all = "kebab-case")]
pub enum Validity {
    /// Trustworthy; `shrinkage_used` notes a (small, conservative) covariance-shrinkage bias.
    Valid {
        /// Whether Ledoit–Wolf shrinkage was applied.
        shrinkage_used: bool,
    },
    /// Not trustworthy, with every reason.
    Invalid(Vec<Reason>),
}

impl Validity {
    /// Whether the verdict is [`Validity::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Validity::Valid { .. })
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validity::Valid { shrinkage_used: false } => f.write_str("valid"),
            Validity::Valid { shrinkage_used: true } => f.write_str("valid (shrinkage)"),
            Validity::Invalid(reasons) => {
                f.write_str("INVALID: ")?;
                let texts: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
                f.write_str(&texts.join("; "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_uses_the_whole_interval() {
        assert_eq!(Region::from_interval(0.90, 0.97, 1.0, 0.02), Region::Impossible);
        assert_eq!(Region::from_interval(0.99, 1.01, 1.0, 0.02), Region::OptimalBand);
        // below the bound, but within the stated precision: on the bound
        assert_eq!(Region::from_interval(0.9969, 0.9993, 1.0, 0.02), Region::OptimalBand);
        assert_eq!(Region::from_interval(1.05, 1.2, 1.0, 0.02), Region::Suboptimal);
        assert_eq!(Region::from_interval(0.95, 1.10, 1.0, 0.02), Region::Undecided);
        // a wide Gaussian-gap band contains what lies between the two curves
        assert_eq!(Region::from_interval(1.1, 1.3, 1.4, 0.02), Region::OptimalBand);
    }
}
