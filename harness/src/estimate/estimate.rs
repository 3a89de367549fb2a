//! [`Estimate`]: a point value with its confidence interval; never a bare number.

use serde::{Deserialize, Serialize};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// Coverage, e.g. 0.95.
    #[serde(with = "crate::float")]
    pub level: f64,
    /// Lower end.
    #[serde(with = "crate::float")]
    pub lower: f64,
    /// Upper end.
    #[serde(with = "crate::float")]
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
    #[serde(with = "crate::float")]
    pub point: f64,
    /// The confidence interval (`estimate::intervals`).
    pub ci: ConfidenceInterval,
    /// Standard error: the jackknife's, or the bootstrap standard deviation; NaN when n < 2.
    #[serde(with = "crate::float")]
    pub standard_error: f64,
    /// Independent units behind it.
    pub n: usize,
}

impl Estimate {
    /// The estimate of f(θ) for an increasing f: point and interval ends mapped, the standard
    /// error by the delta method (`derivative` = f′ at the point).
    pub fn map_increasing(self, f: impl Fn(f64) -> f64, derivative: f64) -> Estimate {
        Estimate {
            point: f(self.point),
            ci: ConfidenceInterval { level: self.ci.level, lower: f(self.ci.lower), upper: f(self.ci.upper) },
            standard_error: self.standard_error * derivative,
            n: self.n,
        }
    }

    /// exp(θ), e.g. an entropy power from a mean log-determinant.
    pub fn exp(self) -> Estimate {
        let at = self.point.exp();
        self.map_increasing(f64::exp, at)
    }

    /// s·θ for s > 0.
    pub fn scaled(self, s: f64) -> Estimate {
        self.map_increasing(|v| v * s, s)
    }

    /// An exactly known value (zero-width interval), e.g. P = ∞ for a deterministic model.
    pub fn exact(value: f64, level: f64, n: usize) -> Self {
        Estimate { point: value, ci: ConfidenceInterval { level, lower: value, upper: value }, standard_error: 0.0, n }
    }
}
