//! Distortion against uncertainty for one task: every model has MSE ≥ U (an entropy power never
//! exceeds the mean square it comes from) and U ≥ N(X|Y), so all points lie above the diagonal
//! and right of the inherent uncertainty (`theory.md`, result 4).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{by_plugin, inherent_known, inherent_symbol, span, text, tick, with_legend, Mark, Plot, BOUND_LINE};
use crate::report::{ConfigResult, TaskSummary};

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
            format!("Both axes in units of {} = {:.4e}; ", inherent_symbol(self.task), self.task.inherent_uncertainty)
        } else {
            "Both axes per dimension (N(X|Y) unknown); ".to_string()
        };
        format!(
            "{unit}per-dimension MSE against U. In expectation every model lies on or above the line MSE = U \
             (shaded below) and at or right of U = N(X|Y): the uncertainty–perception tradeoff implies the \
             perception–distortion one. MSE is measured against one ground truth per observation, shared by \
             all models, so the points scatter around their expectations together. Whiskers: confidence intervals."
        )
    }

    fn unit(&self) -> f64 {
        if inherent_known(self.task) {
            self.task.inherent_uncertainty
        } else {
            1.0
        }
    }
}

impl Plot for Distortion<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let t = self.task;
        let known = inherent_known(t);
        let unit = self.unit();
        let us = self.results.iter().flat_map(|r| {
            let u = &r.judgement.uncertainty;
            [u.point / unit, u.ci.lower / unit, u.ci.upper / unit]
        });
        let mses = self.results.iter().flat_map(|r| {
            let m = &r.judgement.mse;
            [m.point / unit, m.ci.lower / unit, m.ci.upper / unit]
        });
        let floor = if known { (0.0, 1.2) } else { (0.0, 0.0) };
        let (_, x_hi) = span(us, floor, 0.08);
        let (_, y_hi) = span(mses, floor, 0.08);
        let hi = x_hi.max(y_hi).max(f64::MIN_POSITIVE);
        let symbol = inherent_symbol(t);
        let mut legend = vec![
            ("MSE < U: no model in expectation".to_string(), Mark::Fill(BELOW_DIAGONAL)),
            ("MSE = U".to_string(), Mark::Line(BLACK)),
        ];
        if known {
            legend.push((format!("U = {symbol} (least possible)"), Mark::Line(BOUND_LINE)));
        }
        for (plugin, c, _) in by_plugin(self.results, self.plugins) {
            legend.push((plugin, Mark::Dot(c)));
        }
        let area = with_legend(root, &legend)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..hi, 0.0..hi)
            .map_err(text)?;
        let (x_desc, y_desc) = if known {
            (format!("uncertainty U / {symbol}"), format!("distortion MSE / {symbol}"))
        } else {
            ("uncertainty U (per dimension)".to_string(), "distortion MSE (per dimension)".to_string())
        };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v: &f64| tick(*v))
            .y_label_formatter(&|v: &f64| tick(*v))
            .light_line_style(WHITE.mix(0.0))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(text)?;
        chart
            .draw_series(std::iter::once(Polygon::new(vec![(0.0, 0.0), (hi, 0.0), (hi, hi)], BELOW_DIAGONAL.filled())))
            .map_err(text)?;
        chart.draw_series(LineSeries::new(vec![(0.0, 0.0), (hi, hi)], BLACK.stroke_width(1))).map_err(text)?;
        if known {
            chart
                .draw_series(LineSeries::new(vec![(1.0, 0.0), (1.0, hi)], BOUND_LINE.stroke_width(2)))
                .map_err(text)?;
        }
        for (_, c, group) in by_plugin(self.results, self.plugins) {
            let point = |r: &ConfigResult| (r.judgement.uncertainty.point / unit, r.judgement.mse.point / unit);
            let group: Vec<&ConfigResult> =
                group.into_iter().filter(|r| point(r).0.is_finite() && point(r).1.is_finite()).collect();
            for r in &group {
                let (px, py) = point(r);
                let (u, m) = (&r.judgement.uncertainty, &r.judgement.mse);
                let whiskers = [
                    vec![(px, m.ci.lower / unit), (px, m.ci.upper / unit)],
                    vec![(u.ci.lower / unit, py), (u.ci.upper / unit, py)],
                ];
                chart
                    .draw_series(whiskers.into_iter().map(|w| PathElement::new(w, c.stroke_width(2))))
                    .map_err(text)?;
            }
            let markers = group.iter().map(|r| {
                let style = if r.judgement.validity.is_valid() { c.filled() } else { c.stroke_width(2) };
                Circle::new(point(r), 5, style)
            });
            chart.draw_series(markers).map_err(text)?;
        }
        Ok(())
    }
}
