//! [`InherentUncertainty`]: a task's N(X|Y) and where it comes from, the one representation that
//! travels from the task that states it to the judge and every report.

use serde::{Deserialize, Serialize};

use crate::estimate::{ConfidenceInterval, Estimate};

/// N(X|Y) per dimension, by source. The source decides what a result below the bound means:
/// with an exact N(X|Y) (closed form or Monte Carlo over exact posterior draws) the estimates
/// of U or P must be wrong; with an estimated one the estimate of N(X|Y) may be too high; with
/// none there is no bound to be below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum InherentUncertainty {
    /// In closed form (Gaussian prior); N(X_G|Y) is the same.
    Exact {
        /// N(X|Y).
        #[serde(with = "crate::float")]
        value: f64,
    },
    /// Monte Carlo over exact posterior draws (mixture prior), with its interval over
    /// observations; N(X_G|Y), of the posterior's Gaussian with the same covariance, is exact.
    MonteCarlo {
        /// N(X|Y) with its interval.
        estimate: Estimate,
        /// N(X_G|Y) ≥ N(X|Y), exact.
        #[serde(with = "crate::float")]
        gaussian: f64,
    },
    /// Estimated by a model of the data (real images); the model is Gaussian, so it is its own
    /// N(X_G|Y).
    Estimated {
        /// N̂(X|Y).
        #[serde(with = "crate::float")]
        value: f64,
        /// How it was estimated, in the words every output carries.
        method: String,
    },
    /// Not known: U and P are reported, no bound or region.
    Unknown {
        /// Why, in words.
        reason: String,
    },
}

impl InherentUncertainty {
    /// N(X|Y), when known.
    pub fn value(&self) -> Option<f64> {
        match self {
            InherentUncertainty::Exact { value } | InherentUncertainty::Estimated { value, .. } => Some(*value),
            InherentUncertainty::MonteCarlo { estimate, .. } => Some(estimate.point),
            InherentUncertainty::Unknown { .. } => None,
        }
    }

    /// N(X_G|Y), the top of the optimal band's uncertainty range, when known.
    pub fn gaussian(&self) -> Option<f64> {
        match self {
            InherentUncertainty::MonteCarlo { gaussian, .. } => Some(*gaussian),
            other => other.value(),
        }
    }

    /// The Monte-Carlo interval, for a Monte-Carlo value.
    pub fn interval(&self) -> Option<ConfidenceInterval> {
        match self {
            InherentUncertainty::MonteCarlo { estimate, .. } => Some(estimate.ci),
            _ => None,
        }
    }

    /// Whether N(X|Y) is exact (closed form or Monte Carlo over exact draws): then a result
    /// below the bound is an estimation failure.
    pub fn is_exact(&self) -> bool {
        matches!(self, InherentUncertainty::Exact { .. } | InherentUncertainty::MonteCarlo { .. })
    }

    /// Where it comes from, in words.
    pub fn basis(&self) -> &str {
        match self {
            InherentUncertainty::Exact { .. } => "exact (closed form)",
            InherentUncertainty::MonteCarlo { .. } => "Monte Carlo over exact posterior draws",
            InherentUncertainty::Estimated { method, .. } => method,
            InherentUncertainty::Unknown { reason } => reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_serialises_with_its_tag_and_reads_back() {
        let cases = [
            InherentUncertainty::Exact { value: 0.5 },
            InherentUncertainty::MonteCarlo { estimate: Estimate::exact(0.4, 0.95, 32), gaussian: 0.6 },
            InherentUncertainty::Estimated { value: 1e-4, method: "a model".into() },
            InherentUncertainty::Unknown { reason: "no estimate".into() },
        ];
        let tags = ["exact", "monte-carlo", "estimated", "unknown"];
        for (case, tag) in cases.iter().zip(tags) {
            let json = serde_json::to_value(case).unwrap();
            assert_eq!(json["source"], tag);
            assert_eq!(&serde_json::from_value::<InherentUncertainty>(json).unwrap(), case);
        }
        assert_eq!(cases[1].gaussian(), Some(0.6));
        assert_eq!(cases[2].gaussian(), Some(1e-4));
        assert_eq!(cases[3].value(), None);
        assert!(cases[1].is_exact() && !cases[2].is_exact());
    }
}
