//! The terminal score table (comfy-table): one table per task, one row per plugin
//! configuration, ranked by distance to the bound.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};

use super::{Exporter, ReportError, RunReport};
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
        return "NaN".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn with_ci(e: &Estimate) -> String {
    if e.point.is_infinite() || e.ci.lower == e.ci.upper {
        sig(e.point)
    } else {
        format!("{} [{}, {}]", sig(e.point), sig(e.ci.lower), sig(e.ci.upper))
    }
}

impl TableExporter {
    /// The tables as text, with a caption per task.
    pub fn render(&self, report: &RunReport) -> String {
        let mut out = String::new();
        for task in &report.tasks {
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
            out.push_str(&format!(
                "Task {} — {}, prior {}, d = {}, m = {}, σ = {}; {inherent}; n = {} observations × K = {} samples\n",
                task.name,
                task.kind,
                task.prior,
                task.signal_dim,
                task.measurement_dim,
                task.noise_std,
                task.observations,
                task.samples_per_observation
            ));
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
            if let Some(w) = self.width {
                table.set_width(w);
            }
            table.set_header(vec![
                "#",
                "model",
                "U ↓",
                "U/N(X|Y)",
                "P ↓ (nats)",
                "U / bound (1 = optimal)",
                "region",
                "MSE ↓",
                "PSNR ↑ (dB)",
                "samples/s ↑",
                "verdict",
            ]);
            for r in report.results.iter().filter(|r| r.task == task.name) {
                let j = &r.judgement;
                table.add_row(vec![
                    Cell::new(r.rank),
                    Cell::new(&r.label),
                    Cell::new(with_ci(&j.uncertainty)),
                    Cell::new(sig(j.uncertainty_ratio.point)).set_alignment(CellAlignment::Right),
                    Cell::new(with_ci(&j.perception_nats)),
                    Cell::new(with_ci(&j.bound_ratio)),
                    Cell::new(j.region.to_string()),
                    Cell::new(sig(j.mse.point)).set_alignment(CellAlignment::Right),
                    Cell::new(format!("{:.2}", r.psnr_db)).set_alignment(CellAlignment::Right),
                    Cell::new(r.throughput_samples_per_sec.as_ref().map_or("—".into(), with_ci)),
                    Cell::new(j.validity.to_string()),
                ]);
            }
            out.push_str(&table.to_string());
            out.push('\n');
            let failed: Vec<_> =
                report.failures.iter().filter(|f| f.task.as_deref() == Some(task.name.as_str())).collect();
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
