//! The run's plots, drawn with plotters from a [`RunReport`] alone (so `upbench report` redraws
//! them from `results.json`), each as SVG (inlined in the HTML report) and PNG (for slides and
//! papers). Text is laid out with an embedded DejaVu Sans: no system fonts are needed.

pub mod calibration;
mod calibration_draw;
mod distortion;
mod eta;
pub mod figure5;
mod figure5_draw;
mod plane;
pub mod rank;

use plotters::coord::ranged1d::Ranged;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::draw::{encode_png, file_stem, register_fonts};
use crate::record::{ConfigResult, RunReport, TaskSummary};
pub use figure5_draw::EMPTY_CORNER_FILL;

/// Fill of the impossible region (below η(P; d)·N(X|Y)); `scripts/check-report` looks for it.
pub const IMPOSSIBLE_FILL: RGBColor = RGBColor(0xF4, 0xB6, 0xB6);
/// Fill of the optimal band, [η·N(X|Y), η·N(X_G|Y)] plus the verdict's tolerance.
pub const BAND_FILL: RGBColor = RGBColor(0xBF, 0xE3, 0xB4);
/// Fill of the suboptimal region above the band.
pub const SUBOPTIMAL_FILL: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);
/// The bound's curve.
pub const BOUND_LINE: RGBColor = RGBColor(0xB0, 0x1E, 0x1E);

/// Plugin colours (Tableau 10), in order of first appearance.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0xBA, 0xB0, 0xAC),
    RGBColor(0xFF, 0x9D, 0xA7),
];

/// Pixel size of every plot.
const SIZE: (u32, u32) = (960, 560);

/// One plot, rendered both ways.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem, e.g. `plane-gauss-16`.
    pub name: String,
    /// What it shows, one line.
    pub title: String,
    /// How to read it.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG file's bytes.
    pub png: Vec<u8>,
}

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {figure}: {message}")]
pub struct PlotError {
    /// The figure.
    pub figure: String,
    /// What plotters or the PNG encoder said.
    pub message: String,
}

/// Something that can draw itself on any plotters backend.
trait Plot {
    /// Draws on `root`; errors as text (backends' error types differ).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Maps any plotters error to text.
fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Every plot of a run: η(P; d) for the run's dimensions, then per task the U–P plane and
/// distortion against uncertainty, where a task has stochastic configurations their rank
/// histograms and coverage ([`calibration`]), and for image tasks the seed paper's Figure 5 (U
/// against each measure, [`figure5`]).
pub fn figures(report: &RunReport) -> Result<Vec<Figure>, PlotError> {
    let mut out = Vec::new();
    let dims: Vec<usize> = report.tasks.iter().map(|t| t.signal_dim).collect();
    out.push(render(
        "eta".into(),
        "η(P; d): the least uncertainty at perception index P, in units of N(X|Y)".into(),
        "Below each curve is the impossible region for that dimension; η(0) = 2 and η(∞) = 1. \
         The curves depend on P/d only, so they shift right as d grows."
            .into(),
        &eta::EtaCurves::new(&dims),
    )?);
    let tolerance = report.manifest.band_tolerance;
    let plugins: Vec<String> = report.manifest.plugins.iter().map(|p| p.name.clone()).collect();
    for task in &report.tasks {
        let results: Vec<&ConfigResult> = report.results.iter().filter(|r| r.task == task.name).collect();
        if results.is_empty() {
            continue;
        }
        let stem = file_stem(&task.name);
        let interval = report.manifest.interval_method;
        let frontier = report.frontiers.iter().find(|f| f.task == task.name);
        let plane = plane::Plane { task, results: &results, plugins: &plugins, tolerance, interval, frontier };
        out.push(render(format!("plane-{stem}"), plane.title(), plane.caption(), &plane)?);
        let distortion = distortion::Distortion { task, results: &results, plugins: &plugins };
        out.push(render(format!("distortion-{stem}"), distortion.title(), distortion.caption(), &distortion)?);
        out.extend(calibration_figures(report, &task.name)?);
        if task.image.is_some() {
            out.extend(figure5s(report, task, &plugins)?);
        }
    }
    Ok(out)
}

/// One task's rank-histogram and coverage plots (`rank-histogram-<task>`, `coverage-<task>`),
/// none when it has no stochastic configuration.
fn calibration_figures(report: &RunReport, task: &str) -> Result<Vec<Figure>, PlotError> {
    let Some(data) = calibration::CalibrationPlot::of(report, task) else { return Ok(Vec::new()) };
    let stem = file_stem(task);
    let ranks = calibration_draw::RankHistogram { data: &data };
    let coverage = calibration_draw::CoveragePlot { data: &data };
    Ok(vec![
        render(format!("rank-histogram-{stem}"), ranks.title(), ranks.caption(), &ranks)?,
        render(format!("coverage-{stem}"), coverage.title(), coverage.caption(), &coverage)?,
    ])
}

/// The file stem of the Figure 5 plot of `measure` on `task`: `figure5-<task>-<measure>`.
pub fn figure5_name(task: &str, measure: &figure5::Measure) -> String {
    format!("figure5-{}-{}", file_stem(task), measure.slug())
}

/// One image task's Figure 5 plots, one per measure with a finite value (the others are
/// named, with why, by [`figure5::MeasurePlot::of`]'s error).
fn figure5s(report: &RunReport, task: &TaskSummary, plugins: &[String]) -> Result<Vec<Figure>, PlotError> {
    let mut out = Vec::new();
    for measure in figure5::Measure::all(task) {
        let Ok(data) = figure5::MeasurePlot::of(report, &task.name, &measure) else { continue };
        let plot = figure5_draw::Figure5 { data: &data, plugins };
        out.push(render(figure5_name(&task.name, &measure), plot.title(), plot.caption(), &plot)?);
    }
    Ok(out)
}

fn render(name: String, title: String, caption: String, plot: &impl Plot) -> Result<Figure, PlotError> {
    register_fonts();
    let fail = |message: String| PlotError { figure: name.clone(), message };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(text).map_err(fail)?;
        plot.draw(&root).map_err(fail)?;
        root.present().map_err(text).map_err(fail)?;
    }
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(text).map_err(fail)?;
        plot.draw(&root).map_err(fail)?;
        root.present().map_err(text).map_err(fail)?;
    }
    let png = encode_png(pixels, SIZE).map_err(fail)?;
    Ok(Figure { name, title, caption, svg, png })
}

/// An axis tick: as few digits as the value needs.
fn tick(v: f64) -> String {
    let text = if v == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        return format!("{v:.1e}");
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Tick positions of a log axis over [lo, hi]: every decade, with 2…9 between decades on short
/// spans and 2 and 5 on middling ones; increasing, each once. (plotters' own log key points
/// list a decade twice, once as the last light point of the decade below: "10" drawn twice.)
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = (hi / lo).log10();
    let mantissas: &[f64] = if decades <= 1.5 {
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    } else if decades <= 4.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let step = if decades > 8.0 { 2 } else { 1 };
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let mut ticks: Vec<f64> = (first..=last)
        .step_by(step)
        // dividing by an exact power of ten keeps 0.05 exactly 0.05
        .flat_map(|e| mantissas.iter().map(move |m| if e >= 0 { m * 10f64.powi(e) } else { m / 10f64.powi(-e) }))
        .filter(|v| (lo..=hi).contains(v))
        .collect();
    ticks.dedup();
    ticks
}

/// How a legend entry is marked.
#[derive(Debug, Clone, Copy)]
enum Mark {
    /// A filled square: a region.
    Fill(RGBColor),
    /// A line: a curve.
    Line(RGBColor),
    /// A dot: a plugin's points.
    Dot(RGBColor),
    /// No mark: a second line of the entry above.
    Continued,
}

/// Width of the legend column right of a plot.
const LEGEND_WIDTH: u32 = 250;

/// Splits `root` into the plot's area and a legend column, and draws the legend there (outside
/// the data, so it never hides a point).
fn with_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(String, Mark)],
) -> Result<DrawingArea<DB, Shift>, String> {
    let (width, _) = root.dim_in_pixel();
    let (plot, legend) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    for (i, (label, mark)) in entries.iter().enumerate() {
        let y = 28 + 22 * i as i32;
        match *mark {
            Mark::Fill(c) => legend.draw(&Rectangle::new([(6, y - 7), (24, y + 7)], c.filled())),
            Mark::Line(c) => legend.draw(&PathElement::new(vec![(6, y), (24, y)], c.stroke_width(2))),
            Mark::Dot(c) => legend.draw(&Circle::new((15, y), 5, c.filled())),
            Mark::Continued => Ok(()),
        }
        .map_err(text)?;
        let style = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        legend.draw_text(label, &style, (32, y)).map_err(text)?;
    }
    Ok(plot)
}

/// The colour of the i-th plugin.
fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The results of each plugin with its colour, in the run's plugin order (`order`, the
/// manifest's), so that a plugin has one colour in every plot of a run.
fn by_plugin<'a>(results: &[&'a ConfigResult], order: &[String]) -> Vec<(String, RGBColor, Vec<&'a ConfigResult>)> {
    let mut groups: Vec<(usize, String, Vec<&ConfigResult>)> = Vec::new();
    for r in results {
        match groups.iter_mut().find(|(_, name, _)| *name == r.plugin) {
            Some((_, _, g)) => g.push(r),
            None => {
                let rank = order.iter().position(|p| *p == r.plugin).unwrap_or(order.len() + groups.len());
                groups.push((rank, r.plugin.clone(), vec![r]));
            }
        }
    }
    groups.sort_by_key(|g| g.0);
    groups.into_iter().map(|(rank, name, g)| (name, colour(rank), g)).collect()
}

/// Whether N(X|Y) is known (exactly or as an estimate), so that U can be put in its units.
fn inherent_known(task: &TaskSummary) -> bool {
    task.inherent.value().is_some_and(|v| v.is_finite() && v > 0.0)
}

/// U's unit on the plots: N(X|Y) when known, else 1 (raw per-dimension values).
fn uncertainty_unit(task: &TaskSummary) -> f64 {
    task.inherent.value().filter(|_| inherent_known(task)).unwrap_or(1.0)
}

/// One configuration on a plot.
struct Marker {
    /// Its point.
    at: (f64, f64),
    /// Its confidence interval along x.
    x_interval: (f64, f64),
    /// Its confidence interval along y.
    y_interval: (f64, f64),
    /// Filled when valid, hollow when not.
    valid: bool,
}

/// One plugin's markers in colour `c`: every whisker first, then the points, so that no
/// whisker hides a point.
fn draw_markers<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    markers: &[Marker],
    c: RGBColor,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for m in markers {
        let (px, py) = m.at;
        let whiskers =
            [vec![(px, m.y_interval.0), (px, m.y_interval.1)], vec![(m.x_interval.0, py), (m.x_interval.1, py)]];
        chart.draw_series(whiskers.into_iter().map(|w| PathElement::new(w, c.stroke_width(2)))).map_err(text)?;
    }
    let points = markers.iter().map(|m| Circle::new(m.at, 5, if m.valid { c.filled() } else { c.stroke_width(2) }));
    chart.draw_series(points).map_err(text)?;
    Ok(())
}

/// A short label of how N(X|Y) was obtained, for axis titles.
fn inherent_symbol(task: &TaskSummary) -> &'static str {
    if task.inherent.is_exact() {
        "N(X|Y)"
    } else {
        "N̂(X|Y)"
    }
}

/// Axis range [lo, hi] covering `values` (finite ones), padded by `pad` of the span, and
/// never narrower than `[floor_lo, floor_hi]`.
fn span(values: impl Iterator<Item = f64>, floor: (f64, f64), pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = floor;
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let margin = (hi - lo) * pad;
    (lo - margin, hi + margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("bsd100-x4/p9"), "bsd100-x4_p9");
        assert_eq!(file_stem("gauss d=16"), "gauss_d_16");
    }

    #[test]
    fn spans_ignore_infinities_and_keep_the_floor() {
        assert_eq!(span([f64::INFINITY, 3.0].into_iter(), (0.0, 1.0), 0.0), (0.0, 3.0));
        assert_eq!(span(std::iter::empty(), (1.0, 2.0), 0.5), (0.5, 2.5));
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(20.0), "20");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(1.5), "1.5");
        assert_eq!(tick(140.0), "140");
        assert_eq!(tick(0.001), "1.0e-3");
    }

    #[test]
    fn log_ticks_name_each_value_once() {
        assert_eq!(log_ticks(0.8, 12.5), [0.8, 0.9, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(log_ticks(1e-3, 1e5).len(), 9);
        assert_eq!(log_ticks(0.05, 60.0), [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        for (lo, hi) in [(0.3, 0.9), (1e-6, 1e6), (2.0, 3000.0), (0.01, 0.011)] {
            let labels: Vec<String> = log_ticks(lo, hi).into_iter().map(tick).collect();
            let mut unique = labels.clone();
            unique.dedup();
            assert_eq!(labels, unique, "{lo}..{hi}");
        }
    }
}
