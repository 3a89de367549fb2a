//! CSV for spreadsheets and scripts: `results.csv`, one row per plugin configuration and task;
//! `images.csv`, one row per image, configuration and patch side of the image tasks.

use super::{Exporter, ReportError};
use crate::estimate::calibration::LEVELS;
use crate::judge::calibration::JudgedCalibration;
use crate::record::{mean_of, score_of, RunReport};

/// `results.csv`: flat columns, CI ends as `_lo`/`_hi`, infinity as `inf`.
pub struct CsvExporter;

const HEADER: &str = "task,plugin,label,rank,stochastic,uncertainty,uncertainty_lo,uncertainty_hi,uncertainty_ratio,perception_nats,perception_lo,perception_hi,bound,bound_ratio,bound_ratio_lo,bound_ratio_hi,region,mse,mse_lo,mse_hi,psnr_db,samples_per_sec,samples_per_sec_lo,samples_per_sec_hi,headroom_uncertainty,headroom_perception_nats,validity,measurements_per_sec,mean_call_secs,timing,implied_inherent,implied_inherent_lo,implied_inherent_hi,efficiency,mse_over_mmse,psnr_y_db,psnr_y_db_lo,psnr_y_db_hi,ssim,ssim_lo,ssim_hi";

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Exporter for CsvExporter {
    fn file_name(&self) -> &'static str {
        "results.csv"
    }

    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        let metrics = run_metrics(report);
        let mut out = String::from(HEADER);
        out.push_str(",calibration");
        for level in LEVELS {
            let c = format!("coverage_{:.0}", level * 100.0);
            out.push_str(&format!(",{c},{c}_lo,{c}_hi,{c}_nominal"));
        }
        out.push_str(",rank_uniformity_p");
        for m in &metrics {
            out.push_str(&format!(",{m},{m}_lo,{m}_hi"));
        }
        out.push('\n');
        for r in &report.results {
            let j = &r.judgement;
            let nums = [
                j.uncertainty.point,
                j.uncertainty.ci.lower,
                j.uncertainty.ci.upper,
                j.uncertainty_ratio.point,
                j.perception_nats.point,
                j.perception_nats.ci.lower,
                j.perception_nats.ci.upper,
                j.bound,
                j.bound_ratio.point,
                j.bound_ratio.ci.lower,
                j.bound_ratio.ci.upper,
            ];
            let mut cells =
                vec![field(&r.task), field(&r.plugin), field(&r.label), r.rank.to_string(), r.stochastic.to_string()];
            cells.extend(nums.iter().map(|v| format!("{v:e}")));
            cells.push(j.region.to_string());
            cells.extend([j.mse.point, j.mse.ci.lower, j.mse.ci.upper, r.psnr_db].iter().map(|v| format!("{v:e}")));
            let timing = r.timing.as_ref();
            let rate = timing.map(|t| &t.samples_per_sec);
            let t = rate.map_or([f64::NAN; 3], |t| [t.point, t.ci.lower, t.ci.upper]);
            cells.extend(t.iter().chain([&j.headroom.uncertainty]).map(|v| format!("{v:e}")));
            cells.push(j.headroom.perception_nats.map(|v| format!("{v:e}")).unwrap_or_default());
            cells.push(field(&j.validity.to_string()));
            let point = |e: Option<&crate::estimate::Estimate>| e.map_or(f64::NAN, |e| e.point);
            cells.push(format!("{:e}", point(timing.and_then(|t| t.measurements_per_sec.as_ref()))));
            cells.push(format!("{:e}", point(timing.and_then(|t| t.mean_call_secs.as_ref()))));
            cells.push(timing.map_or(String::new(), |t| t.source.name().to_string()));
            let implied = &j.implied_inherent;
            cells.extend([implied.point, implied.ci.lower, implied.ci.upper].iter().map(|v| format!("{v:e}")));
            cells.push(format!("{:e}", r.efficiency.unwrap_or(f64::NAN)));
            cells.push(format!("{:e}", point(j.mse_over_mmse.as_ref())));
            for e in [&r.psnr_y_db, &r.ssim] {
                let ends = e.as_ref().map_or([f64::NAN; 3], |e| [e.point, e.ci.lower, e.ci.upper]);
                cells.extend(ends.iter().map(|v| format!("{v:e}")));
            }
            cells.extend(calibration_cells(r.calibration.as_ref()));
            for m in &metrics {
                let ends = mean_of(&r.quality, m).map_or([f64::NAN; 3], |q| {
                    let e = &q.estimate;
                    [e.point, e.ci.lower, e.ci.upper]
                });
                cells.extend(ends.iter().map(|v| format!("{v:e}")));
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        Ok(out.into_bytes())
    }
}

/// A configuration's calibration columns (issue [16]): the verdict, each level's coverage with
/// its interval and nominal value, the uniformity test's p-value; empty for a deterministic
/// configuration.
fn calibration_cells(calibration: Option<&JudgedCalibration>) -> Vec<String> {
    let Some(c) = calibration else { return vec![String::new(); 2 + 4 * LEVELS.len()] };
    let mut cells = vec![c.verdict.to_string()];
    for level in LEVELS {
        let coverage = c.measured.coverage.iter().find(|v| v.level == level);
        let values =
            coverage.map_or([f64::NAN; 4], |v| [v.estimate.point, v.estimate.ci.lower, v.estimate.ci.upper, v.nominal]);
        cells.extend(values.iter().map(|v| format!("{v:e}")));
    }
    cells.push(format!("{:e}", c.measured.uniformity.p_value));
    cells
}

/// The quality metrics any image task of the run computed, in the order they first appear.
fn run_metrics(report: &RunReport) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for quality in report.tasks.iter().filter_map(|t| t.image.as_ref()?.quality.as_ref()) {
        for m in &quality.metrics {
            if !names.contains(&m.name) {
                names.push(m.name.clone());
            }
        }
    }
    names
}

/// `images.csv`: each image's PSNR-Y, SSIM, U and P per configuration and patch side (empty
/// cells where an image was left out of a patch side), then one column per quality metric (on
/// the image's first sample); each image task's patch side ends with `ground truth` rows, the
/// no-reference metrics on the ground-truth images. Only the header without image tasks.
pub struct ImagesCsvExporter;

/// The `plugin` and `label` of the ground-truth rows.
const GROUND_TRUTH: &str = "ground truth";

const IMAGES_HEADER: &str = "task,plugin,label,image,psnr_y_db,ssim,uncertainty,perception_nats";

impl Exporter for ImagesCsvExporter {
    fn file_name(&self) -> &'static str {
        "images.csv"
    }

    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        let metrics = run_metrics(report);
        let mut out = String::from(IMAGES_HEADER);
        for m in &metrics {
            out.push_str(&format!(",{}", field(m)));
        }
        out.push('\n');
        let optional = |v: Option<f64>| v.map(|v| format!("{v:e}")).unwrap_or_default();
        for task in &report.tasks {
            for r in report.results.iter().filter(|r| r.task == task.name) {
                for i in &r.images {
                    let mut cells = vec![
                        field(&r.task),
                        field(&r.plugin),
                        field(&r.label),
                        field(&i.image),
                        format!("{:e}", i.psnr_y_db),
                        format!("{:e}", i.ssim),
                        optional(i.uncertainty),
                        optional(i.perception_nats),
                    ];
                    cells.extend(metrics.iter().map(|m| optional(score_of(&i.quality, m))));
                    out.push_str(&cells.join(","));
                    out.push('\n');
                }
            }
            let Some(quality) = task.image.as_ref().and_then(|i| i.quality.as_ref()) else { continue };
            for truth in quality.ground_truth.iter().filter(|_| !quality.metrics.is_empty()) {
                let mut cells = vec![field(&task.name), GROUND_TRUTH.into(), GROUND_TRUTH.into(), field(&truth.image)];
                cells.extend(std::iter::repeat_n(String::new(), 4));
                cells.extend(metrics.iter().map(|m| optional(score_of(&truth.scores, m))));
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        Ok(out.into_bytes())
    }
}
