//! η(P; d) against P for several d: the shape of the bound.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{colour, log_ticks, text, tick, Plot};
use crate::judge::bound::eta;

/// Dimensions always drawn, for scale.
const REFERENCE_DIMS: [usize; 4] = [1, 16, 256, 4096];
/// Curves at most.
const MAX_CURVES: usize = 8;

/// One curve per dimension: the run's, then references up to [`MAX_CURVES`].
pub(super) struct EtaCurves {
    dims: Vec<(usize, bool)>,
}

impl EtaCurves {
    /// The run's dimensions (marked "task"), completed with reference ones.
    pub(super) fn new(run_dims: &[usize]) -> Self {
        let mut dims: Vec<(usize, bool)> = Vec::new();
        for &d in run_dims.iter().filter(|&&d| d > 0) {
            if !dims.iter().any(|&(e, _)| e == d) && dims.len() < MAX_CURVES {
                dims.push((d, true));
            }
        }
        for d in REFERENCE_DIMS {
            if !dims.iter().any(|&(e, _)| e == d) && dims.len() < MAX_CURVES {
                dims.push((d, false));
            }
        }
        dims.sort_unstable();
        EtaCurves { dims }
    }
}

impl Plot for EtaCurves {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (p_lo, p_hi) = (1e-3f64, 1e5f64);
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d((p_lo..p_hi).log_scale().with_key_points(log_ticks(p_lo, p_hi)), 0.95f64..2.05)
            .map_err(text)?;
        chart
            .configure_mesh()
            .x_desc("perception index P (nats, Rényi-½ divergence), log scale")
            .y_desc("η(P; d) = least U / N(X|Y)")
            .x_label_formatter(&|v: &f64| tick(*v))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(text)?;
        let steps = 400;
        for (i, &(d, in_run)) in self.dims.iter().enumerate() {
            let c = colour(i);
            let points = (0..=steps).map(|k| {
                let p = p_lo * (p_hi / p_lo).powf(k as f64 / steps as f64);
                (p, eta(p, d))
            });
            let label = if in_run { format!("d = {d} (in this run)") } else { format!("d = {d}") };
            let width = if in_run { 3 } else { 1 };
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(width)))
                .map_err(text)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(width)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(text)?;
        Ok(())
    }
}
