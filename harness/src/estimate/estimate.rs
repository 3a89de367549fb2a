//! [`Estimate`]: a point value with its confidence interval; never a bare number.

use serde::{Deserialize, Serialize};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// Coverage, e.g. 0.95.
    pub level: f64,
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
}

impl ConfidenceInterval {
    /// Whether `value` lies inside, ends included.
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }
}

/// A measured quantity: point estimate, confidence interval, standard error and the number of
/// independent units it rests on (observations y, or timing repetitions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The estimate on the full data.
    pub point: f64,
    /// The bootstrap percentile interval.
    pub ci: ConfidenceInterval,
    /// Bootstrap standard deviation.
    pub standard_error: f64,
    /// Independent units behind it.
    pub n: usize,
}

impl Estimate {
    /// An exactly known value (zero-width interval), e.g. P = ∞ for a deterministic model.
    pub fn exact(value: f64, level: f64, n: usize) -> Self {
        Estimate { point: value, ci: ConfidenceInterval { level, lower: value, upper: value }, standard_error: 0.0, n }
    }
}
