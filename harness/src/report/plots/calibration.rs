//! What the page's calibration plots show for one task (issue [16]): each stochastic
//! configuration's pooled rank histogram, grouped into at most [`MAX_BINS`] bins, and its
//! coverage at each level against the finite-K nominal value (`docs/calibration.md`).
//!
//! [`CalibrationPlot::of`] computes the plotted data from the [`RunReport`] alone; the drawing in
//! `calibration_draw.rs` only renders it, and the integration tests check it against the
//! records.

use crate::estimate::Estimate;
use crate::judge::calibration::{CalibrationVerdict, JudgedCalibration};
use crate::record::RunReport;

/// At most this many bins per histogram: K + 1 ranks (up to 2049) are grouped, so that a bin
/// holds enough ranks to read its height.
pub const MAX_BINS: usize = 20;

/// One task's calibrated configurations, in the run's order.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationPlot {
    /// The task.
    pub task: String,
    /// Every configuration with a calibration record (the stochastic ones).
    pub configurations: Vec<CalibratedConfiguration>,
}

/// What one configuration contributes to both plots.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibratedConfiguration {
    /// Its table label.
    pub label: String,
    /// The calibration verdict.
    pub verdict: CalibrationVerdict,
    /// K, samples per observation.
    pub samples: usize,
    /// Its rank histogram, grouped.
    pub bins: Vec<RankBin>,
    /// One point per level.
    pub coverage: Vec<CoveragePoint>,
}

/// Consecutive ranks of the truth grouped into one bin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankBin {
    /// The first rank in the bin.
    pub first: usize,
    /// One past the last rank in the bin.
    pub end: usize,
    /// The share of all ranks that fell in the bin (the shares sum to 1).
    pub frequency: f64,
    /// The height drawn: the frequency rescaled to a bin of average width
    /// (frequency · (K + 1) / (width · bins)), so that a uniform histogram is flat at 1/bins even
    /// when K + 1 does not split evenly; equal to `frequency` when it does.
    pub height: f64,
}

/// One level's coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct CoveragePoint {
    /// The level asked for (0.5, 0.8, 0.9).
    pub level: f64,
    /// x: the finite-K nominal coverage.
    pub nominal: f64,
    /// y: the measured coverage with its interval.
    pub measured: Estimate,
}

impl CalibrationPlot {
    /// The plotted data of `task`'s calibrated configurations; `None` when it has none.
    pub fn of(report: &RunReport, task: &str) -> Option<CalibrationPlot> {
        let configurations: Vec<CalibratedConfiguration> = report
            .results
            .iter()
            .filter(|r| r.task == task)
            .filter_map(|r| r.calibration.as_ref().map(|c| CalibratedConfiguration::of(&r.label, c)))
            .collect();
        (!configurations.is_empty()).then(|| CalibrationPlot { task: task.to_string(), configurations })
    }

    /// The number of bins of the histograms (the most of any configuration).
    pub fn bins(&self) -> usize {
        self.configurations.iter().map(|c| c.bins.len()).max().unwrap_or(1)
    }
}

impl CalibratedConfiguration {
    /// A configuration's plotted data from its record.
    pub fn of(label: &str, c: &JudgedCalibration) -> CalibratedConfiguration {
        let m = &c.measured;
        let coverage = m
            .coverage
            .iter()
            .map(|v| CoveragePoint { level: v.level, nominal: v.nominal, measured: v.estimate })
            .collect();
        CalibratedConfiguration {
            label: label.to_string(),
            verdict: c.verdict,
            samples: m.samples,
            bins: rank_bins(&m.rank_histogram, MAX_BINS),
            coverage,
        }
    }
}

/// The K + 1 rank counts of `histogram` grouped into min(K + 1, `max_bins`) bins of consecutive
/// ranks, as even as possible (widths differ by at most one rank), with their frequencies and
/// drawn heights ([`RankBin`]). An empty histogram, or one without ranks, gives zero heights.
pub fn rank_bins(histogram: &[u64], max_bins: usize) -> Vec<RankBin> {
    let ranks = histogram.len();
    let bins = ranks.min(max_bins.max(1));
    let total: u64 = histogram.iter().sum();
    (0..bins)
        .map(|b| {
            let (first, end) = (b * ranks / bins, (b + 1) * ranks / bins);
            let count: u64 = histogram[first..end].iter().sum();
            let frequency = if total == 0 { 0.0 } else { count as f64 / total as f64 };
            // exactly 1 when the bins are even, so that the height is the frequency
            let scale = ranks as f64 / ((end - first) * bins) as f64;
            let height = frequency * scale;
            RankBin { first, end, frequency, height }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_grouped_into_at_most_twenty_even_bins() {
        // K = 99: 100 ranks, 20 bins of 5
        let histogram: Vec<u64> = (0..100).map(|r| r as u64).collect();
        let bins = rank_bins(&histogram, MAX_BINS);
        assert_eq!(bins.len(), 20);
        assert!(bins.iter().all(|b| b.end - b.first == 5));
        let total = (0..100u64).sum::<u64>() as f64;
        assert_eq!(bins[1].frequency, (5 + 6 + 7 + 8 + 9) as f64 / total);
        assert!(bins.iter().all(|b| b.height == b.frequency));
        assert!((bins.iter().map(|b| b.frequency).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_small_k_keeps_one_bin_per_rank() {
        let bins = rank_bins(&[1, 0, 2, 0, 1], MAX_BINS);
        let frequencies: Vec<f64> = bins.iter().map(|b| b.frequency).collect();
        assert_eq!(frequencies, [0.25, 0.0, 0.5, 0.0, 0.25]);
        assert_eq!((bins[4].first, bins[4].end), (4, 5));
    }

    #[test]
    fn uniform_ranks_are_flat_at_one_over_bins_when_widths_differ() {
        // K = 2048: 2049 ranks into 20 bins of 102 or 103
        let bins = rank_bins(&[3; 2049], MAX_BINS);
        assert_eq!(bins.len(), 20);
        assert_eq!(bins.last().unwrap().end, 2049);
        assert!(bins.iter().all(|b| (102..=103).contains(&(b.end - b.first))));
        assert!(bins.iter().all(|b| (b.height - 0.05).abs() < 1e-12), "{bins:?}");
        assert!((bins.iter().map(|b| b.frequency).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_empty_histogram_has_zero_heights() {
        assert!(rank_bins(&[], MAX_BINS).is_empty());
        assert!(rank_bins(&[0, 0, 0], MAX_BINS).iter().all(|b| b.height == 0.0));
    }
}
