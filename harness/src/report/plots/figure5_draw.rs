//! Draws one [`MeasurePlot`] (the seed paper's Figure 5 for one measure of one image task): each
//! configuration numbered, in its plugin's colour family, with both intervals; sweeps joined in
//! the order of their parameter; Spearman's ρ above the frame; the ground truth's score and the
//! empty corner where there are.
//!
//! Log axes (U; MSE) are drawn on linear coordinates of log10 of the value with their own ticks,
//! so that every axis combination shares one chart type.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::figure5::{MeasurePlot, MeasurePoint};
use super::{colour, draw_markers, log_ticks, text, tick, with_legend, Mark, Marker, Plot};
use crate::estimate::quality::Better;

/// Fill of the empty corner (low U with a good score, reached by no configuration).
pub const EMPTY_CORNER_FILL: RGBColor = RGBColor(0xD6, 0xE4, 0xF5);
/// The ground truth's score.
const REFERENCE_LINE: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Legend labels are cut to this many characters (the column is 250 px wide).
const LABEL_CHARS: usize = 32;

/// One figure: the data and the run's plugin order (their colours).
pub(super) struct Figure5<'a> {
    pub(super) data: &'a MeasurePlot,
    pub(super) plugins: &'a [String],
}

/// One axis: its range in drawing coordinates (log10 of the value on a log axis).
#[derive(Debug, Clone, Copy)]
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    /// The range over the points, widened to their intervals' ends by at most the points' own
    /// span (or a tenth of the value) on each side, padded by 6 %.
    fn over(points: &[f64], ends: &[f64], log: bool) -> Axis {
        let to = |v: f64| if log { v.log10() } else { v };
        let usable = |v: &&f64| v.is_finite() && (!log || **v > 0.0);
        let pts: Vec<f64> = points.iter().filter(usable).map(|&v| to(v)).collect();
        let (lo, hi) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let width = if hi > lo {
            hi - lo
        } else if log {
            0.1
        } else {
            (lo.abs() * 0.1).max(1e-6)
        };
        let (mut a, mut b) = (lo, hi);
        for v in ends.iter().filter(usable).map(|&v| to(v)) {
            a = a.min(v.max(lo - width));
            b = b.max(v.min(hi + width));
        }
        if b - a < 1e-12 {
            (a, b) = (a - width / 2.0, b + width / 2.0);
        }
        let pad = (b - a) * 0.06;
        Axis { log, lo: a - pad, hi: b + pad }
    }

    /// A value in drawing coordinates, clamped to the frame (a whisker's end beyond it, or at
    /// or below zero on a log axis, is drawn to the frame).
    fn at(&self, v: f64) -> f64 {
        let t = if self.log {
            if v > 0.0 {
                v.log10()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            v
        };
        if t.is_nan() {
            return self.lo;
        }
        t.clamp(self.lo, self.hi)
    }

    /// Tick positions in drawing coordinates.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (lo, hi) = (10f64.powf(self.lo), 10f64.powf(self.hi));
            let all: Vec<f64> = log_ticks(lo, hi).into_iter().map(f64::log10).collect();
            // on a short span every mantissa is a tick: keep 1, 2 and 5 where that leaves enough
            let mantissa = |t: &f64| (10f64.powf(t - t.floor()) * 1e6).round() / 1e6;
            let sparse: Vec<f64> = all.iter().copied().filter(|t| [1.0, 2.0, 5.0].contains(&mantissa(t))).collect();
            return if all.len() > 8 && sparse.len() >= 3 { sparse } else { all };
        }
        let raw = (self.hi - self.lo) / 6.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect()
    }

    /// A tick's label: the value itself.
    fn label(&self, t: f64) -> String {
        tick(if self.log { 10f64.powf(t) } else { t })
    }
}

/// A configuration's colour: its plugin's colour, darker for its first configurations and
/// lighter for its last, so that a plugin keeps one colour family.
fn shade(base: RGBColor, index: usize, count: usize) -> RGBColor {
    if count <= 1 {
        return base;
    }
    let f = -0.3 + 0.6 * index as f64 / (count - 1) as f64;
    let mix = |c: u8| {
        let c = c as f64;
        let v = if f < 0.0 { c * (1.0 + f) } else { c + (255.0 - c) * f * 0.8 };
        v.round().clamp(0.0, 255.0) as u8
    };
    RGBColor(mix(base.0), mix(base.1), mix(base.2))
}

/// "5 bicubic", cut to [`LABEL_CHARS`].
fn numbered(k: usize, label: &str) -> String {
    let text = format!("{} {label}", k + 1);
    if text.chars().count() <= LABEL_CHARS {
        return text;
    }
    let cut: String = text.chars().take(LABEL_CHARS - 1).collect();
    format!("{cut}…")
}

impl Figure5<'_> {
    pub(super) fn title(&self) -> String {
        let d = self.data;
        if d.measure.is_perception() {
            format!("{}: uncertainty against {}", d.task, d.measure.title())
        } else {
            format!("{}: {} against uncertainty", d.task, d.measure.title())
        }
    }

    pub(super) fn caption(&self) -> String {
        let d = self.data;
        let level = d.points.first().map_or(95.0, |p| p.uncertainty.ci.level * 100.0);
        let (axes, scale) = if d.measure.is_perception() {
            ("U (per dimension) against the measure, as on the U–P plane", "U on a log scale")
        } else if d.measure == super::figure5::Measure::Mse {
            ("the measure against U (per dimension), as on the distortion plot", "both on log scales")
        } else {
            ("the measure against U (per dimension), as on the distortion plot", "U on a log scale")
        };
        let direction = if d.better == Better::Lower { "lower" } else { "higher" };
        let mut caption = format!(
            "{axes}; {scale}; {direction} is better. One point per configuration, numbered as in the legend, in its \
             plugin's colour (darker to lighter in the run's order); whiskers: {level:.0} % confidence intervals (U over \
             observations, the measure over images), cut at the frame; hollow: results the verdict does not trust. \
             {} Spearman ρ over the configurations, with a {level:.0} % Fisher-z interval using the Bonett–Wright \
             standard error √((1 + ρ²/2)/(n − 3)) (none for n ≤ 3).",
            self.sweep_sentence()
        );
        if d.reference.is_some() {
            caption.push_str(" Dashed: the ground truth's mean score.");
        }
        caption.push_str(&self.corner_sentence());
        if !d.left_out.is_empty() {
            caption.push_str(&format!(" Left out (no finite value): {}.", d.left_out.join("; ")));
        }
        caption
    }

    /// What the lines join.
    fn sweep_sentence(&self) -> String {
        let mut names: Vec<&str> = self.data.sweeps.iter().map(|(p, _)| p.as_str()).collect();
        names.dedup();
        if names.is_empty() {
            return "No sweep (configurations of one plugin differing in one numeric parameter).".into();
        }
        format!("Lines join each sweep in the order of its parameter ({}).", names.join(", "))
    }

    /// The empty corner's definition, or why it is not shaded (perception measures only).
    fn corner_sentence(&self) -> String {
        let d = self.data;
        if !d.measure.is_perception() {
            return String::new();
        }
        if d.shows_empty_corner() {
            " Shaded: the empty corner — between the frame's corner of low U and good score and the configurations \
             no other matches or beats in both (their Pareto front), the region no configuration reaches."
                .into()
        } else if d.points.len() < 3 {
            " No empty corner is shaded with fewer than three configurations.".into()
        } else {
            " No empty corner is shaded: one configuration is best in both (the data show no tradeoff).".into()
        }
    }

    /// Each point's colour: the plugin's place in the run, its place among the plugin's points.
    fn colours(&self) -> Vec<RGBColor> {
        let points = &self.data.points;
        let rank = |p: &MeasurePoint| self.plugins.iter().position(|n| *n == p.plugin).unwrap_or(self.plugins.len());
        points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let same: Vec<usize> = (0..points.len()).filter(|&j| points[j].plugin == p.plugin).collect();
                let index = same.iter().position(|&j| j == i).unwrap_or(0);
                shade(colour(rank(p)), index, same.len())
            })
            .collect()
    }

    /// The legend: the empty corner and the ground truth where drawn, then every configuration.
    fn legend(&self, colours: &[RGBColor]) -> Vec<(String, Mark)> {
        let d = self.data;
        let mut legend = Vec::new();
        if d.shows_empty_corner() {
            legend.push(("empty corner (no configuration)".to_string(), Mark::Fill(EMPTY_CORNER_FILL)));
        }
        if d.reference.is_some() {
            legend.push(("ground truth (mean)".to_string(), Mark::Line(REFERENCE_LINE)));
        }
        for (k, (p, c)) in d.points.iter().zip(colours).enumerate() {
            legend.push((numbered(k, &p.label), Mark::Dot(*c)));
        }
        legend
    }

    /// (x, y) of a point's value and of its interval ends, by orientation: perception measures
    /// along x, U along y; distortion measures along y, U along x.
    fn xy(&self, p: &MeasurePoint) -> [(f64, f64); 3] {
        let (u, m) = (&p.uncertainty, &p.measure);
        let pairs = [(m.point, u.point), (m.ci.lower, u.ci.lower), (m.ci.upper, u.ci.upper)];
        if self.data.measure.is_perception() {
            pairs
        } else {
            pairs.map(|(m, u)| (u, m))
        }
    }

    /// The two axes.
    fn axes(&self) -> (Axis, Axis) {
        let perception = self.data.measure.is_perception();
        let (x_log, y_log) =
            if perception { (false, true) } else { (true, self.data.measure == super::figure5::Measure::Mse) };
        let all: Vec<[(f64, f64); 3]> = self.data.points.iter().map(|p| self.xy(p)).collect();
        let mut xs: Vec<f64> = all.iter().map(|a| a[0].0).collect();
        xs.extend(self.data.reference);
        let ys: Vec<f64> = all.iter().map(|a| a[0].1).collect();
        let x_ends: Vec<f64> = all.iter().flat_map(|a| [a[1].0, a[2].0]).collect();
        let y_ends: Vec<f64> = all.iter().flat_map(|a| [a[1].1, a[2].1]).collect();
        (Axis::over(&xs, &x_ends, x_log), Axis::over(&ys, &y_ends, y_log))
    }

    /// The axes' titles.
    fn descriptions(&self) -> (String, String) {
        let u = "uncertainty U (per dimension)".to_string();
        if self.data.measure.is_perception() {
            (self.data.measure.title(), u)
        } else {
            (u, self.data.measure.title())
        }
    }
}

impl Plot for Figure5<'_> {
    /// The legend, the frame with ρ above it, the empty corner, the ground truth's line, the
    /// sweeps' lines, then every configuration's whiskers, marker and number.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let colours = self.colours();
        let (x, y) = self.axes();
        let area = with_legend(root, &self.legend(&colours))?;
        let rho = self.data.spearman.map_or_else(|| "Spearman ρ: one configuration".to_string(), |s| s.text());
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .caption(rho, ("sans-serif", 16))
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(Ticked::new(x), Ticked::new(y))
            .map_err(text)?;
        let (x_desc, y_desc) = self.descriptions();
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v: &f64| x.label(*v))
            .y_label_formatter(&|v: &f64| y.label(*v))
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(text)?;
        if self.data.shows_empty_corner() {
            let corner = self.empty_corner(x, y);
            chart.draw_series(std::iter::once(Polygon::new(corner, EMPTY_CORNER_FILL.filled()))).map_err(text)?;
        }
        if let Some(r) = self.data.reference {
            let line = vec![(x.at(r), y.lo), (x.at(r), y.hi)];
            let dashed = DashedPathElement::new(line, 6, 4, REFERENCE_LINE.stroke_width(2));
            chart.draw_series(std::iter::once(dashed)).map_err(text)?;
        }
        self.draw_points(&mut chart, x, y, &colours)
    }
}

impl Figure5<'_> {
    /// The empty corner in drawing coordinates: within the box from the frame's better corner
    /// to the front's extremes, the part no configuration matches or beats in both (the region
    /// below and on the better side of the front's staircase).
    fn empty_corner(&self, x: Axis, y: Axis) -> Vec<(f64, f64)> {
        let d = self.data;
        let edge = if d.better == Better::Lower { x.lo } else { x.hi };
        let front: Vec<(f64, f64)> =
            d.front.iter().map(|&i| (x.at(d.points[i].measure.point), y.at(d.points[i].uncertainty.point))).collect();
        let mut corner = vec![(edge, y.lo), (edge, front[0].1)];
        for (k, &(s, u)) in front.iter().enumerate() {
            corner.push((s, u));
            if let Some(next) = front.get(k + 1) {
                corner.push((s, next.1));
            }
        }
        corner.push((front[front.len() - 1].0, y.lo));
        corner
    }

    /// The sweeps' lines, then each point's whiskers and marker, then its number.
    fn draw_points<DB, X, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
        x: Axis,
        y: Axis,
        colours: &[RGBColor],
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        let d = self.data;
        let at = |p: &MeasurePoint| {
            let [(px, py), (lx, ly), (hx, hy)] = self.xy(p);
            ((x.at(px), y.at(py)), (x.at(lx), x.at(hx)), (y.at(ly), y.at(hy)))
        };
        for (_, members) in &d.sweeps {
            let line: Vec<(f64, f64)> = members.iter().map(|&i| at(&d.points[i]).0).collect();
            let c = colour(self.plugins.iter().position(|n| *n == d.points[members[0]].plugin).unwrap_or(0));
            chart.draw_series(LineSeries::new(line, c.stroke_width(2))).map_err(text)?;
        }
        for (p, c) in d.points.iter().zip(colours) {
            let (point, x_interval, y_interval) = at(p);
            let marker = Marker { at: point, x_interval, y_interval, valid: p.valid };
            draw_markers(chart, std::slice::from_ref(&marker), *c)?;
        }
        let style = ("sans-serif", 13).into_font().color(&BLACK);
        let labels = d
            .points
            .iter()
            .enumerate()
            .map(|(k, p)| EmptyElement::at(at(p).0) + Text::new(format!("{}", k + 1), (7, -17), style.clone()));
        chart.draw_series(labels).map_err(text)?;
        Ok(())
    }
}

/// A linear f64 coordinate with an [`Axis`]'s own ticks (log axes in log10 coordinates), whose
/// labels the chart's formatters write. (plotters' `WithKeyPoints` over a linear f64 range has
/// no label formatter to configure a mesh with.)
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(axis: Axis) -> Ticked {
        Ticked { lo: axis.lo, hi: axis.hi, ticks: axis.ticks() }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

#[cfg(test)]
mod tests {
    use super::super::figure5::{pareto_front, Measure};
    use super::*;
    use crate::estimate::Estimate;

    fn plot(better: Better, pairs: &[(f64, f64)]) -> MeasurePlot {
        let points = pairs
            .iter()
            .map(|&(s, u)| MeasurePoint {
                label: format!("{s}"),
                plugin: "p".into(),
                uncertainty: Estimate::exact(u, 0.95, 2),
                measure: Estimate::exact(s, 0.95, 2),
                valid: true,
            })
            .collect();
        MeasurePlot {
            task: "t".into(),
            measure: Measure::Quality("m".into()),
            better,
            points,
            left_out: Vec::new(),
            sweeps: Vec::new(),
            spearman: None,
            reference: None,
            front: pareto_front(pairs, better),
        }
    }

    /// The corner runs from the frame's better corner along the front's staircase.
    #[test]
    fn the_empty_corner_follows_the_front_from_the_better_side() {
        let (x, y) = (Axis { log: false, lo: 0.0, hi: 10.0 }, Axis { log: false, lo: 0.0, hi: 10.0 });
        let pairs = [(1.0, 5.0), (3.0, 2.0), (4.0, 4.0)];
        let lower = plot(Better::Lower, &pairs);
        assert!(lower.shows_empty_corner());
        let figure = Figure5 { data: &lower, plugins: &[] };
        assert_eq!(figure.empty_corner(x, y), [(0.0, 0.0), (0.0, 5.0), (1.0, 5.0), (1.0, 2.0), (3.0, 2.0), (3.0, 0.0)]);
        let higher = plot(Better::Higher, &pairs);
        let figure = Figure5 { data: &higher, plugins: &[] };
        assert_eq!(
            figure.empty_corner(x, y),
            [(10.0, 0.0), (10.0, 4.0), (4.0, 4.0), (4.0, 2.0), (3.0, 2.0), (3.0, 0.0)]
        );
        // one configuration best in both: no tradeoff, no corner
        assert!(!plot(Better::Lower, &[(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]).shows_empty_corner());
    }

    #[test]
    fn log_axes_tick_at_their_values_and_clamp_to_the_frame() {
        let axis = Axis::over(&[1e-4, 1e-3], &[-1.0, 1.0], true);
        // the upper end (10⁰) is a decade beyond the points' one-decade span: cut to one decade above,
        // then padded by 6 % of the two decades; the end at −1 has no logarithm and is left out
        assert!((axis.lo - -4.12).abs() < 1e-9 && (axis.hi - -1.88).abs() < 1e-9, "{axis:?}");
        assert_eq!(axis.at(-1.0), axis.lo);
        assert_eq!(axis.label(-3.0), "1.0e-3");
        assert!(axis.ticks().iter().all(|t| (axis.lo..=axis.hi).contains(t)));
        assert_eq!(numbered(0, "bicubic"), "1 bicubic");
        assert_eq!(numbered(9, &"x".repeat(40)).chars().count(), LABEL_CHARS);
    }
}
