//! Distortion against uncertainty for one task: every model has MSE ≥ U (an entropy power never
//! exceeds the mean square it comes from) and U ≥ N(X|Y), so all points lie above the diagonal
//! and right of the inherent uncertainty (`theory.md`, result 4).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    by_plugin, draw_markers, inherent_known, inherent_symbol, log_ticks, text, tick, uncertainty_unit, with_legend,
    Mark, Marker, Plot, BOUND_LINE,
};
use crate::record::{ConfigResult, TaskSummary};

/// Fill of the region MSE < U, where no model can be.
const BELOW_DIAGONAL: RGBColor = RGBColor(0xF9, 0xE0, 0xE0);

/// One task's distortion plot.
pub(super) struct Distortion<'a> {
    pub(super) task: &'a TaskSummary,
    pub(super) results: &'a [&'a ConfigResult],
    /// The run's plugins, in order: their colours.
    pub(super) plugins: &'a [String],
}

impl Distortion<'_> {
    pub(super) fn title(&self) -> String {
        format!("{}: distortion against uncertainty (d = {})", self.task.name, self.task.signal_dim)
    }

    pub(super) fn caption(&self) -> String {
        let unit = if inherent_known(self.task) {
            format!("Both axes in units of {} = {:.4e}; ", inherent_symbol(self.task), uncertainty_unit(self.task))
        } else {
            "Both axes per dimension (N(X|Y) unknown); ".to_string()
        };
        let against = if self.task.image.is_some() {
            "MSE is measured against one ground truth per image, shared by all models, so the points scatter around \
             their expectations together."
        } else {
            "MSE is measured against the K exact posterior draws per observation, as U is (a sample paired with a \
             draw; a deterministic model's restoration against each draw)."
        };
        format!(
            "{unit}log scales; per-dimension MSE against U. In expectation every model lies on or above the line MSE = U \
             (shaded below) and at or right of U = N(X|Y): the uncertainty–perception tradeoff implies the \
             perception–distortion one. {against} Whiskers: confidence intervals."
        )
    }
}

impl Plot for Distortion<'_> {
    /// The legend, the log axes, the regions (MSE < U shaded, the diagonal, U = N(X|Y)), then
    /// each plugin's markers on top.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let spans = self.spans();
        let (x_lo, x_hi, y_lo, y_hi) = (spans.x_lo, spans.x_hi, spans.y_lo, spans.y_hi);
        let area = with_legend(root, &self.legend())?;
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(
                (x_lo..x_hi).log_scale().with_key_points(log_ticks(x_lo, x_hi)),
                (y_lo..y_hi).log_scale().with_key_points(log_ticks(y_lo, y_hi)),
            )
            .map_err(text)?;
        let (x_desc, y_desc) = self.axis_descriptions();
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v: &f64| tick(*v))
            .y_label_formatter(&|v: &f64| tick(*v))
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(text)?;
        self.draw_regions(&mut chart, &spans)?;
        self.draw_results(&mut chart, &spans)
    }
}

/// The plot's log ranges, in its unit: U along x, MSE along y.
#[derive(Clone, Copy)]
struct Spans {
    x_lo: f64,
    x_hi: f64,
    y_lo: f64,
    y_hi: f64,
}

impl Distortion<'_> {
    /// The ranges over every point and interval end, with U = N(X|Y) when it is known.
    fn spans(&self) -> Spans {
        let known = inherent_known(self.task);
        let unit = uncertainty_unit(self.task);
        let us = self.results.iter().flat_map(|r| {
            let u = &r.judgement.uncertainty;
            [u.point / unit, u.ci.lower / unit, u.ci.upper / unit]
        });
        let mses = self.results.iter().flat_map(|r| {
            let m = &r.judgement.mse;
            [m.point / unit, m.ci.lower / unit, m.ci.upper / unit]
        });
        // Log axes: MSE is an arithmetic mean of the error's variances and U their geometric
        // mean, so on real images MSE runs tens of times above U.
        let (x_lo, x_hi) = log_span(us, known);
        let (y_lo, y_hi) = log_span(mses, known);
        Spans { x_lo, x_hi, y_lo, y_hi }
    }

    /// The legend: the region no model reaches, the diagonal, the least uncertainty when
    /// N(X|Y) is known, each plugin's colour.
    fn legend(&self) -> Vec<(String, Mark)> {
        let mut legend = vec![
            ("MSE < U: no model in expectation".to_string(), Mark::Fill(BELOW_DIAGONAL)),
            ("MSE = U".to_string(), Mark::Line(BLACK)),
        ];
        if inherent_known(self.task) {
            legend.push((format!("U = {} (least possible)", inherent_symbol(self.task)), Mark::Line(BOUND_LINE)));
        }
        for (plugin, c, _) in by_plugin(self.results, self.plugins) {
            legend.push((plugin, Mark::Dot(c)));
        }
        legend
    }

    /// The axes' titles: in units of N(X|Y) when it is known, else per dimension.
    fn axis_descriptions(&self) -> (String, String) {
        if inherent_known(self.task) {
            let symbol = inherent_symbol(self.task);
            (format!("uncertainty U / {symbol}"), format!("distortion MSE / {symbol}"))
        } else {
            ("uncertainty U (per dimension)".to_string(), "distortion MSE (per dimension)".to_string())
        }
    }

    /// The region MSE < U shaded, the diagonal MSE = U, and the line U = N(X|Y) when it is
    /// known and in range.
    fn draw_regions<DB, X, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
        spans: &Spans,
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        let Spans { x_lo, x_hi, y_lo, y_hi } = *spans;
        let steps = 200;
        let diagonal: Vec<(f64, f64)> = (0..=steps)
            .map(|k| {
                let x = x_lo * (x_hi / x_lo).powf(k as f64 / steps as f64);
                (x, x.clamp(y_lo, y_hi))
            })
            .collect();
        let below: Vec<(f64, f64)> =
            [(x_lo, y_lo), (x_hi, y_lo)].into_iter().chain(diagonal.iter().rev().copied()).collect();
        chart.draw_series(std::iter::once(Polygon::new(below, BELOW_DIAGONAL.filled()))).map_err(text)?;
        let on_diagonal = diagonal.into_iter().filter(|&(x, y)| x == y);
        chart.draw_series(LineSeries::new(on_diagonal, BLACK.stroke_width(1))).map_err(text)?;
        if inherent_known(self.task) && (x_lo..=x_hi).contains(&1.0) {
            chart
                .draw_series(LineSeries::new(vec![(1.0, y_lo), (1.0, y_hi)], BOUND_LINE.stroke_width(2)))
                .map_err(text)?;
        }
        Ok(())
    }

    /// Each plugin's configurations with positive finite U and MSE, with their intervals.
    fn draw_results<DB, X, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
        spans: &Spans,
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        let unit = uncertainty_unit(self.task);
        for (_, c, group) in by_plugin(self.results, self.plugins) {
            let point = |r: &ConfigResult| (r.judgement.uncertainty.point / unit, r.judgement.mse.point / unit);
            let group: Vec<&ConfigResult> = group
                .into_iter()
                .filter(|r| [point(r).0, point(r).1].iter().all(|v| v.is_finite() && *v > 0.0))
                .collect();
            // log axes: interval ends at or below zero are drawn to the axis
            let (x, y) = (|v: f64| v.max(spans.x_lo), |v: f64| v.max(spans.y_lo));
            let markers: Vec<Marker> = group
                .iter()
                .map(|r| {
                    let (u, m) = (&r.judgement.uncertainty, &r.judgement.mse);
                    Marker {
                        at: point(r),
                        x_interval: (x(u.ci.lower / unit), x(u.ci.upper / unit)),
                        y_interval: (y(m.ci.lower / unit), y(m.ci.upper / unit)),
                        valid: r.judgement.validity.is_valid(),
                    }
                })
                .collect();
            draw_markers(chart, &markers, c)?;
        }
        Ok(())
    }
}

/// A log axis range over the positive finite `values`, padded by a factor 1.25, including 1 (U =
/// N(X|Y)) when N(X|Y) is `known`.
fn log_span(values: impl Iterator<Item = f64>, known: bool) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values.filter(|v| v.is_finite() && *v > 0.0).chain(known.then_some(1.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    (lo / 1.25, hi * 1.25)
}
