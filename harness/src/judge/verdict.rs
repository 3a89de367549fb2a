//! Verdict types: where a model sits ([`Region`]) and whether its numbers hold ([`Validity`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Position of a model in the (P, U) plane, decided from the whole confidence box
/// [P_lo, P_hi] × [U_lo, U_hi], never from the point alone (`theory.md`, result 2).
///
/// The band at perception P is [η(P)·N(X|Y), η(P)·N(X_G|Y)], and η decreases in P, so over the
/// box the band's values span [η(P_hi)·N(X|Y), η(P_lo)·N(X_G|Y)]. Working on the box rather than
/// on the ratio U / η(P)·N keeps the call sound where η is steep (P → 0, where η falls like a
/// square root and a tiny perception error moves the ratio by percents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// Even the largest plausible U is below the lowest the bound allows over the plausible P,
    /// by more than the tolerance: no model can be there, so the estimate is wrong.
    Impossible,
    /// Every plausible U is within the tolerance of the band at some plausible P: optimal.
    OptimalBand,
    /// Even the smallest plausible U is above the band's highest value over the plausible P, by
    /// more than the tolerance: a better model exists at this perception.
    Suboptimal,
    /// The box straddles a boundary: more observations or samples are needed to tell.
    Undecided,
    /// No value of N(X|Y) is known or estimated for the task: the model cannot be placed.
    Unplaced,
    /// Below the bound drawn with an *estimate* of N(X|Y) that may be too high (real images):
    /// either the estimate of N(X|Y) or those of U and P are off; not a verdict on the model.
    BelowEstimatedBound,
}

/// A confidence box in the (P, U) plane, U in units of N(X|Y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceBox {
    /// [lower, upper] of P, nats (+∞ for a deterministic model).
    pub perception: (f64, f64),
    /// [lower, upper] of U / N(X|Y).
    pub uncertainty_ratio: (f64, f64),
}

impl Region {
    /// Classifies a confidence box in dimension `dim`; the band is [1, band_top]·η(P) in units
    /// of N(X|Y), resolved to the relative `tolerance` (the verdict's stated precision).
    pub fn from_box(b: ConfidenceBox, dim: usize, band_top: f64, tolerance: f64) -> Region {
        let eta_at = |p: f64| super::bound::eta(p.max(0.0), dim);
        let lowest_bound = eta_at(b.perception.1);
        let highest_band = eta_at(b.perception.0) * band_top;
        let (u_lo, u_hi) = b.uncertainty_ratio;
        if u_hi < lowest_bound * (1.0 - tolerance) {
            Region::Impossible
        } else if u_lo > highest_band * (1.0 + tolerance) {
            Region::Suboptimal
        } else if u_lo >= lowest_bound * (1.0 - tolerance) && u_hi <= highest_band * (1.0 + tolerance) {
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
            Region::Unplaced => "unplaced (N(X|Y) unknown)",
            Region::BelowEstimatedBound => "below estimated bound",
        })
    }
}

/// What raises the number of samples a task's estimates rest on, for the advice of
/// [`Reason::NotConverged`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Raise {
    /// Exact tasks: K, `[sampling] samples_per_observation`.
    #[default]
    SamplesPerObservation,
    /// Image tasks: the error patches per image (K × grid positions).
    PatchesPerImage,
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
    /// Image tasks, Gaussian estimator: some image has fewer than 2·d patches (grid positions) for
    /// the fits of its truth and restorations, where no patch covariance is trustworthy
    /// (`docs/protocol.md` §4).
    TooFewPatches {
        /// The fewest patches of any image.
        patches: i64,
        /// d = C·p·p.
        dim: usize,
    },
    /// Fewer than 8 observations: the interval is meaningless.
    TooFewObservations {
        /// n.
        observations: usize,
    },
    /// The model's output or the estimate is NaN or infinite where it must be finite.
    NonFinite,
    /// Some points had a zero k-th neighbour distance (duplicates): the k-NN estimates are
    /// meaningless.
    Ties {
        /// How many.
        points: usize,
    },
    /// The estimate still moves between K/2 and K samples per observation, materially and
    /// significantly: it has not converged.
    NotConverged {
        /// `U` or `η(P)`.
        quantity: String,
        /// K/2.
        from_samples: i64,
        /// K.
        to_samples: i64,
        /// Relative change from K/2 to K.
        #[serde(with = "crate::float")]
        change: f64,
        /// The setting that raises the count (it differs between exact and image tasks).
        #[serde(default)]
        raise: Raise,
    },
    /// The whole interval of P lies below 0, which no divergence can: the divergence estimate
    /// failed (e.g. k-NN distances skewed by discrete data), so P is no perception index.
    NegativeDivergence {
        /// The upper end of P's interval, nats.
        #[serde(with = "crate::float")]
        upper: f64,
    },
    /// The whole confidence box is below the bound: impossible, so the estimate is biased.
    BelowBound {
        /// The upper end of U / (η(P; d)·N(X|Y))'s interval.
        #[serde(with = "crate::float")]
        upper: f64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TooFewSamples { samples, dim } => {
                write!(f, "{samples} samples per observation for d = {dim}: covariance is singular; raise samples_per_observation well above d (≥ 10·d avoids shrinkage)")
            }
            Reason::TooFewPatches { patches, dim } => write!(
                f,
                "an image has only {patches} patches for d = {dim} (under 2·d = {}): no patch covariance is trustworthy; use larger holes or images, or a smaller patch side",
                2 * dim
            ),
            Reason::TooFewObservations { observations } => {
                write!(f, "only {observations} observations; use at least 8 (32 or more for tight intervals)")
            }
            Reason::Ties { points } => write!(
                f,
                "{points} points have a zero k-th neighbour distance (duplicates); dequantise discrete data or use the Gaussian estimator"
            ),
            Reason::NotConverged { quantity, from_samples, to_samples, change, raise } => match raise {
                Raise::SamplesPerObservation => write!(
                    f,
                    "{quantity} still changes by {:+.1} % from K = {from_samples} to K = {to_samples} samples per observation; raise [sampling] samples_per_observation",
                    change * 100.0,
                ),
                Raise::PatchesPerImage => write!(
                    f,
                    "{quantity} still changes by {:+.1} % from {from_samples} to {to_samples} error patches per image; raise the image task's samples_per_image (samplers), use larger images (image_size for dead leaves) or a smaller patch side",
                    change * 100.0,
                ),
            },
            Reason::NonFinite => {
                write!(f, "NaN or infinite values in the model's samples or the estimates; check the plugin's output")
            }
            Reason::NegativeDivergence { upper } => write!(
                f,
                "the divergence estimate is negative (P ≤ {upper:.3} nats at the interval's upper end), which no divergence is: \
                 the estimator failed on these samples; use more samples, dequantise discrete data, or the Gaussian estimator"
            ),
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
    /// Trustworthy; `shrinkage_used` notes a (small, conservative) bias from regularising a
    /// covariance.
    Valid {
        /// Whether a covariance was regularised: Ledoit–Wolf shrinkage, or (image tasks) the
        /// eigenvalue floor at one grey level's variance under a rank-deficient covariance.
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

    /// The verdict with one more reason against it: invalid from now on.
    pub fn with_reason(self, reason: Reason) -> Validity {
        match self {
            Validity::Valid { .. } => Validity::Invalid(vec![reason]),
            Validity::Invalid(mut reasons) => {
                reasons.push(reason);
                Validity::Invalid(reasons)
            }
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validity::Valid { shrinkage_used: false } => f.write_str("valid"),
            Validity::Valid { shrinkage_used: true } => f.write_str("valid (regularised)"),
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

    fn region(p: (f64, f64), u: (f64, f64), d: usize) -> Region {
        Region::from_box(ConfidenceBox { perception: p, uncertainty_ratio: u }, d, 1.0, 0.02)
    }

    #[test]
    fn region_uses_the_whole_box() {
        let inf = (f64::INFINITY, f64::INFINITY);
        assert_eq!(region(inf, (0.90, 0.97), 4), Region::Impossible);
        assert_eq!(region(inf, (0.99, 1.01), 4), Region::OptimalBand);
        // below the bound, but within the stated precision: on the bound
        assert_eq!(region(inf, (0.9969, 0.9993), 4), Region::OptimalBand);
        assert_eq!(region(inf, (1.05, 1.2), 4), Region::Suboptimal);
        assert_eq!(region(inf, (0.95, 1.10), 4), Region::Undecided);
        // a Gaussian gap widens the band to [1, 1.4]·η
        assert_eq!(
            Region::from_box(ConfidenceBox { perception: inf, uncertainty_ratio: (1.1, 1.3) }, 4, 1.4, 0.02),
            Region::OptimalBand
        );
    }

    #[test]
    fn a_perfect_sampler_is_on_the_bound_despite_the_steep_square_root() {
        // P̂ within ±1e-4 of 0 at d = 1 moves η(P̂) by up to 3 %, U/N ≈ 2: the box is explained
        // by the curve, though the ratio U/η(P̂)·N alone would straddle the tolerance.
        assert_eq!(region((-4e-5, 1.2e-4), (1.987, 2.032), 1), Region::OptimalBand);
        assert_eq!(region((-4e-5, 1.2e-4), (2.06, 2.1), 1), Region::Suboptimal);
    }
}
