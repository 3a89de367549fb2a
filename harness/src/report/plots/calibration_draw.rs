//! Draws one task's calibration plots from a [`CalibrationPlot`]: the rank histograms of its
//! stochastic configurations as step lines over the normalised rank, and their coverage against
//! the finite-K nominal value with the diagonal of a calibrated sampler (`docs/calibration.md`).

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::calibration::{CalibratedConfiguration, CalibrationPlot};
use super::{colour, draw_markers, text, tick, with_legend, Mark, Marker, Plot};

/// The uniform level of a calibrated sampler's histogram.
const UNIFORM_LINE: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Below the diagonal: coverage too low, the spread too small.
const OVERCONFIDENT_FILL: RGBColor = RGBColor(0xFB, 0xE3, 0xCF);
/// Above the diagonal: coverage too high, the spread too large.
const UNDERCONFIDENT_FILL: RGBColor = RGBColor(0xD9, 0xE8, 0xF5);

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A configuration's legend entry, its label marked with `mark` and its verdict below it (two
/// lines: labels with parameters fill the legend's width).
fn entry(legend: &mut Vec<(String, Mark)>, c: &CalibratedConfiguration, mark: Mark) {
    legend.push((c.label.clone(), mark));
    legend.push((format!("  {}", c.verdict), Mark::Continued));
}

/// The frame of a plot on `area` with its axis titles.
fn frame<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: (f64, f64),
    y: (f64, f64),
    descriptions: (&str, &str),
) -> Result<Chart<'a, DB>, String> {
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc(descriptions.0)
        .y_desc(descriptions.1)
        .x_label_formatter(&|v: &f64| tick(*v))
        .y_label_formatter(&|v: &f64| tick(*v))
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(text)?;
    Ok(chart)
}

/// The rank histograms of one task's stochastic configurations.
pub(super) struct RankHistogram<'a> {
    pub(super) data: &'a CalibrationPlot,
}

impl RankHistogram<'_> {
    pub(super) fn title(&self) -> String {
        format!("{}: rank of the truth among each sampler's K samples", self.data.task)
    }

    pub(super) fn caption(&self) -> String {
        let mut ks: Vec<usize> = self.data.configurations.iter().map(|c| c.samples).collect();
        ks.sort_unstable();
        ks.dedup();
        let ks: Vec<String> = ks.iter().map(usize::to_string).collect();
        format!(
            "For each coordinate of each observation, the number r of samples below the truth, 0 … K (K = {}), every \
             coordinate pooled and grouped into at most {} bins of consecutive ranks; x is r/(K + 1), y the share of \
             ranks in the bin. A calibrated sampler's truth is one more draw, so its histogram lies on the dashed \
             uniform level 1/bins. ∪-shaped (the truth often below or above every sample): the spread is too small; \
             ∩-shaped (the truth mostly in the middle): too large; lopsided: the samples are biased. The pooled \
             histogram is for reading; the verdict in the legend comes from the coverage and the uniformity test.",
            ks.join(", "),
            super::calibration::MAX_BINS,
        )
    }

    fn legend(&self) -> Vec<(String, Mark)> {
        let mut legend = vec![("uniform: calibrated".to_string(), Mark::Line(UNIFORM_LINE))];
        for (i, c) in self.data.configurations.iter().enumerate() {
            entry(&mut legend, c, Mark::Line(colour(i)));
        }
        legend
    }
}

impl Plot for RankHistogram<'_> {
    /// The legend, the frame, the uniform level of each bin count, then each configuration's
    /// histogram as a step line.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = with_legend(root, &self.legend())?;
        let configurations = &self.data.configurations;
        let mut levels: Vec<usize> = configurations.iter().map(|c| c.bins.len()).filter(|&b| b > 0).collect();
        levels.sort_unstable();
        levels.dedup();
        let top = configurations
            .iter()
            .flat_map(|c| c.bins.iter().map(|b| b.height))
            .chain(levels.iter().map(|&b| 1.0 / b as f64))
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let descriptions = ("rank of the truth r / (K + 1)", "share of ranks per bin");
        let mut chart = frame(&area, (0.0, 1.0), (0.0, (top * 1.15).max(1e-3)), descriptions)?;
        for bins in levels {
            let level = 1.0 / bins as f64;
            let line = DashedPathElement::new(vec![(0.0, level), (1.0, level)], 8, 5, UNIFORM_LINE.stroke_width(2));
            chart.draw_series(std::iter::once(line)).map_err(text)?;
        }
        for (i, c) in configurations.iter().enumerate() {
            let ranks = (c.samples + 1) as f64;
            let steps: Vec<(f64, f64)> = c
                .bins
                .iter()
                .flat_map(|b| [(b.first as f64 / ranks, b.height), (b.end as f64 / ranks, b.height)])
                .collect();
            chart.draw_series(LineSeries::new(steps, colour(i).stroke_width(2))).map_err(text)?;
        }
        Ok(())
    }
}

/// Measured against nominal coverage of one task's stochastic configurations.
pub(super) struct CoveragePlot<'a> {
    pub(super) data: &'a CalibrationPlot,
}

impl CoveragePlot<'_> {
    pub(super) fn title(&self) -> String {
        format!("{}: coverage of the samples' central intervals", self.data.task)
    }

    pub(super) fn caption(&self) -> String {
        "One point per configuration and level (50 %, 80 %, 90 %): x is the coverage a calibrated sampler's central \
         interval has with K samples, the finite-K nominal (K + 1 − 2a)/(K + 1) (a samples left out on each side; \
         K = 8 cannot have a 90 % interval, its widest covers 7/9), y how often the interval held the truth, mean \
         over observations, with its interval (Wilson on the effective number of trials). Calibrated lies on the \
         diagonal; below it the truth falls outside too often (overconfident: the spread is too small), above it \
         inside too often (underconfident: too large). Points of one configuration are joined and shifted a little \
         sideways so that none hides another."
            .to_string()
    }

    fn legend(&self) -> Vec<(String, Mark)> {
        let mut legend = vec![
            ("calibrated: y = x".to_string(), Mark::Line(BLACK)),
            ("overconfident (spread too small)".to_string(), Mark::Fill(OVERCONFIDENT_FILL)),
            ("underconfident (spread too large)".to_string(), Mark::Fill(UNDERCONFIDENT_FILL)),
        ];
        for (i, c) in self.data.configurations.iter().enumerate() {
            entry(&mut legend, c, Mark::Dot(colour(i)));
        }
        legend
    }

    /// One range for both axes, over every nominal value and interval end, at least [0.4, 1].
    fn range(&self) -> (f64, f64) {
        let values = self.data.configurations.iter().flat_map(|c| {
            c.coverage.iter().flat_map(|p| [p.nominal, p.measured.point, p.measured.ci.lower, p.measured.ci.upper])
        });
        let (lo, hi) = super::span(values, (0.4, 1.0), 0.05);
        (lo.max(0.0), hi.min(1.05))
    }
}

impl Plot for CoveragePlot<'_> {
    /// The legend, the frame, the two regions with their names and the diagonal, then each
    /// configuration's points with their intervals.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let area = with_legend(root, &self.legend())?;
        let (lo, hi) = self.range();
        let descriptions = ("nominal coverage (finite K)", "measured coverage");
        let mut chart = frame(&area, (lo, hi), (lo, hi), descriptions)?;
        let below = Polygon::new(vec![(lo, lo), (hi, lo), (hi, hi)], OVERCONFIDENT_FILL.filled());
        let above = Polygon::new(vec![(lo, lo), (lo, hi), (hi, hi)], UNDERCONFIDENT_FILL.filled());
        chart.draw_series([below, above]).map_err(text)?;
        let name = |s: &'static str, at: (f64, f64), h: HPos, v: VPos| {
            Text::new(s, at, ("sans-serif", 15).into_font().color(&BLACK.mix(0.6)).pos(Pos::new(h, v)))
        };
        let inset = (hi - lo) * 0.03;
        chart
            .draw_series([
                name("overconfident", (hi - inset, lo + inset), HPos::Right, VPos::Bottom),
                name("underconfident", (lo + inset, hi - inset), HPos::Left, VPos::Top),
            ])
            .map_err(text)?;
        chart.draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], BLACK.stroke_width(1))).map_err(text)?;
        let n = self.data.configurations.len() as f64;
        for (i, c) in self.data.configurations.iter().enumerate() {
            let shift = (i as f64 - (n - 1.0) / 2.0) * (hi - lo) * 0.006;
            let markers: Vec<Marker> = c
                .coverage
                .iter()
                .map(|p| {
                    let x = p.nominal + shift;
                    Marker {
                        at: (x, p.measured.point),
                        x_interval: (x, x),
                        y_interval: (p.measured.ci.lower, p.measured.ci.upper),
                        valid: true,
                    }
                })
                .collect();
            let joined = markers.iter().map(|m| m.at);
            chart.draw_series(LineSeries::new(joined, colour(i).mix(0.6).stroke_width(1))).map_err(text)?;
            draw_markers(&mut chart, &markers, colour(i))?;
        }
        Ok(())
    }
}
