//! The terminal score table (comfy-table): one table per task, one row per plugin
//! configuration, ranked by distance to the bound.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};

use super::{Exporter, ReportError, RunReport, TaskSummary};
use crate::estimate::Estimate;

/// Renders `table.txt` and the CLI's output.
pub struct TableExporter {
    /// Fixed width in columns, or `None` to fit the terminal.
    pub width: Option<u16>,
}

fn sig(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "∞".into() } else { "-∞".into() };
    }
    if v.is_nan() {
        return "—".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn with_ci(e: &Estimate) -> String {
    if !e.point.is_finite() || e.ci.lower == e.ci.upper {
        sig(e.point)
    } else {
        format!("{} [{}, {}]", sig(e.point), sig(e.ci.lower), sig(e.ci.upper))
    }
}

/// The line above a task's table: what the task is and where N(X|Y) comes from.
fn caption(task: &TaskSummary) -> String {
    if let Some(image) = &task.image {
        let n_inherent = if task.inherent_uncertainty.is_nan() {
            format!("N(X|Y) {}", task.inherent_basis)
        } else {
            format!("N(X|Y) = {} ({})", sig(task.inherent_uncertainty), task.inherent_basis)
        };
        return format!(
            "Task {} — {}, {} ({} images, {}), {}; patches {p}×{p} (d = {}), border {}; {n_inherent}; K = {} samples per image for samplers\n",
            task.name,
            task.kind,
            image.dataset,
            image.images,
            image.colour,
            image.degradation,
            task.signal_dim,
            image.border,
            task.samples_per_observation,
            p = image.patch,
        );
    }
    let inherent = match &task.inherent_uncertainty_ci {
        None => format!("N(X|Y) = {} (exact)", sig(task.inherent_uncertainty)),
        Some(ci) => format!(
            "N(X|Y) = {} [{}, {}] (Monte Carlo), N(X_G|Y) = {} (exact)",
            sig(task.inherent_uncertainty),
            sig(ci.lower),
            sig(ci.upper),
            sig(task.gaussian_inherent_uncertainty)
        ),
    };
    format!(
        "Task {} — {}, prior {}, d = {}, m = {}, σ = {}; {inherent}; n = {} observations × K = {} samples\n",
        task.name,
        task.kind,
        task.prior,
        task.signal_dim,
        task.measurement_dim,
        task.noise_std,
        task.observations,
        task.samples_per_observation
    )
}

impl TableExporter {
    /// The tables as text, with a caption per task.
    pub fn render(&self, report: &RunReport) -> String {
        let mut out = String::new();
        for task in &report.tasks {
            out.push_str(&caption(task));
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
            if let Some(w) = self.width {
                table.set_width(w);
            }
            let image = task.image.is_some();
            let mut header = vec!["#", "model", "U ↓", "U/N(X|Y)", "P ↓ (nats)", "U / bound (1 = optimal)", "region"];
            header.extend(if image {
                ["MSE ↓", "PSNR-Y ↑ (dB)", "SSIM ↑", "images/s ↑", "verdict"]
            } else {
                ["MSE ↓", "PSNR ↑ (dB)", "", "samples/s ↑", "verdict"]
            });
            header.retain(|h| !h.is_empty());
            table.set_header(header);
            for r in report.results.iter().filter(|r| r.task == task.name) {
                let j = &r.judgement;
                let mut row = vec![
                    Cell::new(r.rank),
                    Cell::new(&r.label),
                    Cell::new(with_ci(&j.uncertainty)),
                    Cell::new(sig(j.uncertainty_ratio.point)).set_alignment(CellAlignment::Right),
                    Cell::new(with_ci(&j.perception_nats)),
                    Cell::new(with_ci(&j.bound_ratio)),
                    Cell::new(j.region.to_string()),
                    Cell::new(sig(j.mse.point)).set_alignment(CellAlignment::Right),
                ];
                match (&r.psnr_y_db, &r.ssim) {
                    (Some(psnr), Some(ssim)) => {
                        row.push(Cell::new(format!("{:.2} [{:.2}, {:.2}]", psnr.point, psnr.ci.lower, psnr.ci.upper)));
                        row.push(Cell::new(format!("{:.4}", ssim.point)).set_alignment(CellAlignment::Right));
                    }
                    _ => row.push(Cell::new(format!("{:.2}", r.psnr_db)).set_alignment(CellAlignment::Right)),
                }
                row.push(Cell::new(r.throughput_samples_per_sec.as_ref().map_or("—".into(), with_ci)));
                row.push(Cell::new(j.validity.to_string()));
                table.add_row(row);
            }
            out.push_str(&table.to_string());
            out.push('\n');
            // An image task's failures concern all its patch sides: listed under the first.
            let first_of_image_task = |base: &str| {
                report.tasks.iter().find(|t| t.name.split('/').next() == Some(base)).map(|t| t.name == task.name)
            };
            let failed: Vec<_> = report
                .failures
                .iter()
                .filter(|f| match f.task.as_deref() {
                    Some(t) if t == task.name => true,
                    Some(t) => task.image.is_some() && first_of_image_task(t) == Some(true),
                    None => false,
                })
                .collect();
            for f in failed {
                out.push_str(&format!("  failed: {} — {}\n", f.subject, f.message));
            }
            out.push('\n');
        }
        let global: Vec<_> = report.failures.iter().filter(|f| f.task.is_none()).collect();
        if !global.is_empty() {
            out.push_str("Failures:\n");
            for f in global {
                out.push_str(&format!("  {:?}: {} — {}\n", f.stage, f.subject, f.message));
            }
        }
        let ci = report.manifest.confidence_level * 100.0;
        out.push_str(&format!(
            "Brackets: {ci:.0} % bootstrap intervals over observations. Bound = η(P; d)·N(X|Y); region and verdict use the whole box of the P and U intervals. PSNR peak² = mean prior variance. Estimator: {}. Device: {}.\n",
            report.manifest.estimator.kind,
            report.manifest.device
        ));
        out
    }
}

impl Exporter for TableExporter {
    fn file_name(&self) -> &'static str {
        "table.txt"
    }
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        Ok(self.render(report).into_bytes())
    }
}
