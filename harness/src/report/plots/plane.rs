//! The uncertainty–perception plane of one task: the impossible region, the optimal band and
//! the suboptimal region, with every configuration as a point with its confidence whiskers.
//!
//! P is +∞ for deterministic models; the axis is broken after the largest finite P and those
//! points stand in a column of their own, where the bound is η(∞) = 1.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    by_plugin, draw_markers, inherent_known, inherent_symbol, span, text, tick, uncertainty_unit, with_legend, Mark,
    Marker, Plot, BAND_FILL, BOUND_LINE, IMPOSSIBLE_FILL, SUBOPTIMAL_FILL,
};
use crate::judge::bound::eta;
use crate::record::{ConfigResult, TaskSummary};

/// The sweeps of one plugin's configurations: the configurations that differ only in the first
/// parameter that varies among them, each sweep ordered as listed (one sweep per value of the
/// other varying parameters).
fn sweeps<'a>(group: &[&'a ConfigResult]) -> Vec<Vec<&'a ConfigResult>> {
    let Some(first) = group.first() else { return Vec::new() };
    let varying: Vec<usize> = (0..first.params.len())
        .filter(|&i| group.iter().any(|r| r.params.get(i).map(|p| &p.1) != first.params.get(i).map(|p| &p.1)))
        .collect();
    let key = |r: &ConfigResult| -> Vec<String> {
        varying.iter().skip(1).map(|&i| r.params.get(i).map_or(String::new(), |p| p.1.clone())).collect()
    };
    let mut out: Vec<(Vec<String>, Vec<&'a ConfigResult>)> = Vec::new();
    for r in group {
        match out.iter_mut().find(|(k, _)| *k == key(r)) {
            Some((_, members)) => members.push(r),
            None => out.push((key(r), vec![r])),
        }
    }
    out.into_iter().map(|(_, members)| members).collect()
}

/// One task's plane.
pub(super) struct Plane<'a> {
    pub(super) task: &'a TaskSummary,
    pub(super) results: &'a [&'a ConfigResult],
    /// The run's plugins, in order: their colours.
    pub(super) plugins: &'a [String],
    /// Relative tolerance of the region calls (the band is drawn with it).
    pub(super) tolerance: f64,
    /// How the whiskers' intervals were formed.
    pub(super) interval: crate::estimate::IntervalMethod,
    /// The task's empirical frontier, drawn as η(P; d)·N̂.
    pub(super) frontier: Option<&'a crate::record::Frontier>,
}

/// The frontier curve's colour.
const FRONTIER_LINE: RGBColor = RGBColor(90, 40, 160);

/// Where things go on the x axis.
struct XAxis {
    min: f64,
    /// The broken axis: finite P left of it, P = ∞ right of it.
    separator: f64,
    infinity: f64,
    end: f64,
    has_infinity: bool,
}

impl XAxis {
    fn of(&self, p: f64) -> f64 {
        if p == f64::INFINITY {
            self.infinity
        } else {
            p
        }
    }
}

impl Plane<'_> {
    pub(super) fn title(&self) -> String {
        format!("{}: uncertainty against perception (d = {})", self.task.name, self.task.signal_dim)
    }

    pub(super) fn caption(&self) -> String {
        let t = self.task;
        if !inherent_known(t) {
            return format!(
                "U (per dimension) against P. N(X|Y): {}; no bound or region is drawn. \
                 Whiskers: {}; hollow markers: invalid results.",
                t.inherent.basis(),
                self.interval.caption(self.level())
            );
        }
        let estimate = if !t.inherent.is_exact() {
            " N(X|Y) is an estimate, so the red region is impossible only if the estimate is right."
        } else {
            ""
        };
        format!(
            "U in units of N(X|Y) = {:.4e} ({}).{estimate} Red: impossible (U < η(P; d)·N(X|Y)); green: \
             the optimal band up to η(P; d)·N(X_G|Y), with the verdict's {:.0} % tolerance; grey: suboptimal. \
             Whiskers: {}; hollow markers: invalid results; lines join one plugin's \
             configurations.",
            uncertainty_unit(t),
            t.inherent.basis(),
            self.tolerance * 100.0,
            self.interval.caption(self.level())
        )
    }

    fn level(&self) -> f64 {
        self.results.first().map_or(0.95, |r| r.judgement.uncertainty.ci.level)
    }

    fn x_axis(&self) -> XAxis {
        let perceptions = self.results.iter().flat_map(|r| {
            let p = &r.judgement.perception_nats;
            [p.point, p.ci.lower, p.ci.upper]
        });
        let floor_hi = 0.05 * self.task.signal_dim as f64;
        let (min, max) = span(perceptions, (0.0, floor_hi), 0.04);
        let has_infinity = self.results.iter().any(|r| r.judgement.perception_nats.point == f64::INFINITY);
        let width = max - min;
        if has_infinity {
            XAxis {
                min,
                separator: max + 0.04 * width,
                infinity: max + 0.14 * width,
                end: max + 0.24 * width,
                has_infinity,
            }
        } else {
            XAxis { min, separator: max, infinity: max, end: max, has_infinity }
        }
    }
}

impl Plot for Plane<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let t = self.task;
        let known = inherent_known(t);
        let unit = uncertainty_unit(t);
        let x = self.x_axis();
        let uncertainties = self.results.iter().flat_map(|r| {
            let u = &r.judgement.uncertainty;
            [u.point / unit, u.ci.lower / unit, u.ci.upper / unit]
        });
        let floor = if known { (1.0, 2.05) } else { (0.0, 0.0) };
        let (y_lo, y_hi) = span(uncertainties, floor, 0.06);
        let y_lo = y_lo.max(0.0);
        let y_hi = if y_hi > y_lo { y_hi } else { y_lo + 1.0 };

        let symbol = inherent_symbol(t);
        let mut legend = Vec::new();
        if known {
            legend.push((format!("impossible: U < η(P; d)·{symbol}"), Mark::Fill(IMPOSSIBLE_FILL)));
            legend.push(("optimal band".to_string(), Mark::Fill(BAND_FILL)));
            legend.push(("suboptimal".to_string(), Mark::Fill(SUBOPTIMAL_FILL)));
            legend.push((format!("bound η(P; d)·{symbol}"), Mark::Line(BOUND_LINE)));
        }
        if self.frontier.is_some() {
            legend.push(("frontier η(P; d)·N̂, dashed".to_string(), Mark::Line(FRONTIER_LINE)));
        }
        for (plugin, c, _) in by_plugin(self.results, self.plugins) {
            legend.push((plugin, Mark::Dot(c)));
        }
        let area = with_legend(root, &legend)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x.min..x.end, y_lo..y_hi)
            .map_err(text)?;
        let separator = x.separator;
        let x_labels = move |v: &f64| if *v > separator { String::new() } else { tick(*v) };
        let y_labels = |v: &f64| tick(*v);
        let y_desc = if known {
            format!("uncertainty U / {}", inherent_symbol(t))
        } else {
            "uncertainty U (entropy power of the error, per dimension)".to_string()
        };
        chart
            .configure_mesh()
            .x_desc(format!("perception index P (nats, Rényi-½), d = {}", t.signal_dim))
            .y_desc(y_desc)
            .x_label_formatter(&x_labels)
            .y_label_formatter(&y_labels)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(text)?;

        if known {
            self.draw_regions(&mut chart, &x, (y_lo, y_hi))?;
        }
        if x.has_infinity {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x.separator, y_lo), (x.separator, y_hi)],
                    6,
                    4,
                    BLACK.stroke_width(1),
                )))
                .map_err(text)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    "P = ∞",
                    (x.infinity, y_hi - 0.02 * (y_hi - y_lo)),
                    ("sans-serif", 15).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top)),
                )))
                .map_err(text)?;
        }
        self.draw_frontier(&mut chart, &x, unit)?;
        self.draw_points(&mut chart, &x, unit)
    }
}

type Chart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

impl Plane<'_> {
    fn draw_regions<DB: DrawingBackend>(
        &self,
        chart: &mut Chart<'_, DB>,
        x: &XAxis,
        (y_lo, y_hi): (f64, f64),
    ) -> Result<(), String> {
        let d = self.task.signal_dim;
        let band_top = (self.task.inherent.gaussian().unwrap_or(f64::NAN) / uncertainty_unit(self.task)).max(1.0);
        let steps = 300;
        let mut curve: Vec<(f64, f64)> = (0..=steps)
            .map(|k| {
                let p = x.min + (x.separator - x.min) * k as f64 / steps as f64;
                (p, eta(p.max(0.0), d))
            })
            .collect();
        if x.has_infinity {
            curve.push((x.separator, 1.0));
            curve.push((x.end, 1.0));
        }
        let clamp = |v: f64| v.clamp(y_lo, y_hi);
        let lower: Vec<(f64, f64)> = curve.iter().map(|&(p, e)| (p, clamp(e))).collect();
        let upper: Vec<(f64, f64)> =
            curve.iter().map(|&(p, e)| (p, clamp(e * band_top * (1.0 + self.tolerance)))).collect();
        let between = |bottom: &[(f64, f64)], top: &[(f64, f64)]| -> Vec<(f64, f64)> {
            bottom.iter().copied().chain(top.iter().rev().copied()).collect()
        };
        let floor: Vec<(f64, f64)> = curve.iter().map(|&(p, _)| (p, y_lo)).collect();
        let ceiling: Vec<(f64, f64)> = curve.iter().map(|&(p, _)| (p, y_hi)).collect();
        let regions = [
            (between(&floor, &lower), IMPOSSIBLE_FILL),
            (between(&lower, &upper), BAND_FILL),
            (between(&upper, &ceiling), SUBOPTIMAL_FILL),
        ];
        for (polygon, fill) in regions {
            chart.draw_series(std::iter::once(Polygon::new(polygon, fill.filled()))).map_err(text)?;
        }
        chart.draw_series(LineSeries::new(lower, BOUND_LINE.stroke_width(2))).map_err(text)?;
        Ok(())
    }

    fn draw_points<DB: DrawingBackend>(&self, chart: &mut Chart<'_, DB>, x: &XAxis, unit: f64) -> Result<(), String> {
        // The P = ∞ column holds its points side by side, in plugin order, not on top of each other.
        let at_infinity: Vec<&ConfigResult> = by_plugin(self.results, self.plugins)
            .into_iter()
            .flat_map(|(_, _, g)| g)
            .filter(|r| r.judgement.perception_nats.point == f64::INFINITY)
            .collect();
        let column = (x.end - x.separator) * 0.6;
        let slot = |r: &ConfigResult| {
            let i = at_infinity.iter().position(|o| std::ptr::eq(*o, r)).unwrap_or(0) as f64;
            let n = at_infinity.len().max(1) as f64;
            x.infinity + column * ((i + 0.5) / n - 0.5)
        };
        let place = |p: f64, r: &ConfigResult| if p == f64::INFINITY { slot(r) } else { x.of(p) };
        for (_, c, group) in by_plugin(self.results, self.plugins) {
            let point =
                |r: &ConfigResult| (place(r.judgement.perception_nats.point, r), r.judgement.uncertainty.point / unit);
            // NaN cannot be placed (e.g. P of a deterministic model read from a version-1 file).
            let group: Vec<&ConfigResult> =
                group.into_iter().filter(|r| point(r).0.is_finite() && point(r).1.is_finite()).collect();
            // A sweep joins valid finite points only: never into the P = ∞ column, never through
            // results the judge could not trust (the impossible region's).
            for sweep in sweeps(&group) {
                let mut line: Vec<(f64, f64)> = sweep
                    .iter()
                    .filter(|r| r.judgement.perception_nats.point.is_finite() && r.judgement.validity.is_valid())
                    .map(|r| point(r))
                    .collect();
                if line.len() > 1 {
                    line.sort_by(|a, b| a.0.total_cmp(&b.0));
                    chart.draw_series(LineSeries::new(line, c.mix(0.6).stroke_width(1))).map_err(text)?;
                }
            }
            let markers: Vec<Marker> = group
                .iter()
                .map(|r| {
                    let (p, u) = (&r.judgement.perception_nats, &r.judgement.uncertainty);
                    Marker {
                        at: point(r),
                        x_interval: (place(p.ci.lower, r), place(p.ci.upper, r)),
                        y_interval: (u.ci.lower / unit, u.ci.upper / unit),
                        valid: r.judgement.validity.is_valid(),
                    }
                })
                .collect();
            draw_markers(chart, &markers, c)?;
        }
        Ok(())
    }

    /// The frontier curve η(P; d)·N̂ over the finite part of the axis and at P = ∞.
    fn draw_frontier<DB: DrawingBackend>(&self, chart: &mut Chart<'_, DB>, x: &XAxis, unit: f64) -> Result<(), String> {
        let Some(frontier) = self.frontier else { return Ok(()) };
        let d = self.task.signal_dim;
        let level = frontier.inherent.point / unit;
        let steps = 200;
        let mut curve: Vec<(f64, f64)> = (0..=steps)
            .map(|k| {
                let p = x.min + (x.separator - x.min) * k as f64 / steps as f64;
                (p, eta(p.max(0.0), d) * level)
            })
            .collect();
        if x.has_infinity {
            curve.push((x.separator, level));
            curve.push((x.end, level));
        }
        chart
            .draw_series(std::iter::once(DashedPathElement::new(curve, 8, 4, FRONTIER_LINE.stroke_width(2))))
            .map_err(text)?;
        Ok(())
    }
}
