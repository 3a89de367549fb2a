//! The score table's content, once: captions, headers, cells and failures per task, as text.
//! The terminal table, the HTML report and the Markdown export only lay it out.

use super::{Failure, RunReport, TaskSummary};
use crate::estimate::Estimate;
use crate::task::InherentUncertainty;

/// One task's table.
#[derive(Debug, Clone)]
pub struct TaskScores {
    /// The task's name.
    pub task: String,
    /// What the task is and where N(X|Y) comes from, one line.
    pub caption: String,
    /// Column titles.
    pub header: Vec<&'static str>,
    /// Which columns hold a single number (right-aligned).
    pub numeric: Vec<bool>,
    /// One row per configuration, in rank order.
    pub rows: Vec<Vec<String>>,
    /// Failures concerning this task, as `subject — message`.
    pub failures: Vec<String>,
    /// Notes under the table: what its marks mean, its frontier.
    pub notes: Vec<String>,
}

/// The mark of a deterministic configuration's row.
pub const DETERMINISTIC: &str = "†";

/// A number with 4 significant-looking digits, `∞` and `—` (NaN) spelled out.
pub fn sig(v: f64) -> String {
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

/// `point [lower, upper]`, or the point alone when the interval is empty or the point infinite.
pub fn with_ci(e: &Estimate) -> String {
    if !e.point.is_finite() || e.ci.lower == e.ci.upper {
        sig(e.point)
    } else {
        format!("{} [{}, {}]", sig(e.point), sig(e.ci.lower), sig(e.ci.upper))
    }
}

/// The line above a task's table: what the task is and where N(X|Y) comes from.
pub fn caption(task: &TaskSummary) -> String {
    if let Some(image) = &task.image {
        let n_inherent = match task.inherent.value() {
            None => format!("N(X|Y) {}", task.inherent.basis()),
            Some(value) => format!("N(X|Y) = {} ({})", sig(value), task.inherent.basis()),
        };
        return format!(
            "Task {} — {}, {} ({} images, {}), {}; patches {p}×{p} (d = {}), border {}; {n_inherent}; K = {} samples per image for samplers",
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
    let inherent = match &task.inherent {
        InherentUncertainty::MonteCarlo { estimate, gaussian } => {
            format!("N(X|Y) = {} (Monte Carlo), N(X_G|Y) = {} (exact)", with_ci(estimate), sig(*gaussian))
        }
        InherentUncertainty::Exact { value } => format!("N(X|Y) = {} (exact)", sig(*value)),
        other => format!("N(X|Y) {}", other.basis()),
    };
    format!(
        "Task {} — {}, prior {}, d = {}, m = {}, σ = {}; {inherent}; n = {} observations × K = {} samples",
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

/// Every task's table, in suite order.
pub fn scores(report: &RunReport) -> Vec<TaskScores> {
    report.tasks.iter().map(|task| task_scores(report, task)).collect()
}

fn task_scores(report: &RunReport, task: &TaskSummary) -> TaskScores {
    let image = task.image.is_some();
    let mut columns: Vec<(&'static str, bool)> = vec![
        ("#", true),
        ("model", false),
        ("U ↓", false),
        ("U/N(X|Y)", true),
        ("P ↓ (nats)", false),
        ("U / bound (1 = optimal)", false),
        ("region", false),
        ("eff. ↑", true),
        ("MSE ↓", true),
    ];
    columns.extend(if image {
        vec![("PSNR-Y ↑ (dB)", false), ("SSIM ↑", true), ("images/s ↑", false), ("verdict", false)]
    } else {
        vec![("MSE/MMSE ↓", true), ("PSNR ↑ (dB)", true), ("samples/s ↑", false), ("verdict", false)]
    });
    let rows = report
        .results
        .iter()
        .filter(|r| r.task == task.name)
        .map(|r| {
            let j = &r.judgement;
            let mark = if r.stochastic { "" } else { DETERMINISTIC };
            let mut row = vec![
                r.rank.to_string(),
                format!("{}{}", r.label, if mark.is_empty() { String::new() } else { format!(" {mark}") }),
                with_ci(&j.uncertainty),
                sig(j.uncertainty_ratio.point),
                with_ci(&j.perception_nats),
                with_ci(&j.bound_ratio),
                j.region.to_string(),
                r.efficiency.map_or("—".into(), |e| format!("{e:.3}")),
                sig(j.mse.point),
            ];
            if !image {
                row.push(j.mse_over_mmse.as_ref().map_or("—".into(), |m| format!("{:.4}", m.point)));
            }
            match (&r.psnr_y_db, &r.ssim) {
                (Some(psnr), Some(ssim)) => {
                    row.push(format!("{:.2} [{:.2}, {:.2}]", psnr.point, psnr.ci.lower, psnr.ci.upper));
                    row.push(format!("{:.4}", ssim.point));
                }
                _ => row.push(format!("{:.2}", r.psnr_db)),
            }
            let timing = r.timing.as_ref();
            let rate =
                timing.and_then(|t| if image { t.measurements_per_sec.as_ref() } else { Some(&t.samples_per_sec) });
            let measured_apart = timing.is_some_and(|t| matches!(t.source, crate::run::TimingSource::Criterion { .. }));
            row.push(
                rate.map_or("—".into(), |rate| format!("{}{}", with_ci(rate), if measured_apart { "" } else { "*" })),
            );
            row.push(j.validity.to_string());
            row
        })
        .collect();
    TaskScores {
        task: task.name.clone(),
        caption: caption(task),
        header: columns.iter().map(|c| c.0).collect(),
        numeric: columns.iter().map(|c| c.1).collect(),
        rows,
        failures: task_failures(report, task).map(|f| format!("{} — {}", f.subject, f.message)).collect(),
        notes: task_notes(report, task),
    }
}

/// The notes under a task's table: the frontier and what the deterministic mark means there.
fn task_notes(report: &RunReport, task: &TaskSummary) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(f) = report.frontiers.iter().find(|f| f.task == task.name) {
        notes.push(format!(
            "Frontier: every model proves N(X|Y) ≤ U/η(P; d); the tightest here is {} ({}); eff. = that bound over each model's.",
            with_ci(&f.inherent),
            f.label
        ));
    }
    let deterministic = report.results.iter().any(|r| r.task == task.name && !r.stochastic);
    if deterministic {
        notes.push(if task.image.is_none() {
            format!(
                "{DETERMINISTIC} deterministic: its error given y is the posterior shifted, so U = N(X|Y) and P = ∞ for every such model — the bound is met by construction; MSE/MMSE (1 for the posterior mean) tells them apart."
            )
        } else {
            format!(
                "{DETERMINISTIC} deterministic: one restoration per image; U is the entropy power of its error patches (where it errs, not a spread of samples) and P compares its patch law with the truth's (finite, unlike an exact task's P = ∞)."
            )
        });
    }
    notes
}

/// Failures of one task. An image task's failures concern all its patch sides (`name/p<p>`):
/// they are listed under the first.
fn task_failures<'a>(report: &'a RunReport, task: &'a TaskSummary) -> impl Iterator<Item = &'a Failure> + 'a {
    let first_of_image_task =
        |base: &str| report.tasks.iter().find(|t| t.name.split('/').next() == Some(base)).map(|t| t.name == task.name);
    report.failures.iter().filter(move |f| match f.task.as_deref() {
        Some(t) if t == task.name => true,
        Some(t) => task.image.is_some() && first_of_image_task(t) == Some(true),
        None => false,
    })
}

/// Failures listed under no task's table, as `stage: subject — message`: those tied to no task
/// (plugins that did not load) and those of tasks that have no table (tasks that could not be
/// built).
pub fn global_failures(report: &RunReport) -> Vec<String> {
    let has_table = |task: &str| report.tasks.iter().any(|t| t.name == task || t.name.split('/').next() == Some(task));
    report
        .failures
        .iter()
        .filter(|f| f.task.as_deref().is_none_or(|t| !has_table(t)))
        .map(|f| format!("{:?}: {} — {}", f.stage, f.subject, f.message))
        .collect()
}

/// The warning an interrupted run's outputs open with; `None` for a complete run.
pub fn incomplete_notice(report: &RunReport) -> Option<String> {
    let incomplete = report.incomplete.as_ref()?;
    let shown: Vec<&str> = incomplete.missing.iter().take(5).map(String::as_str).collect();
    let more = incomplete.missing.len().saturating_sub(shown.len());
    Some(format!(
        "INCOMPLETE RUN: {} of {} cells did not complete ({}{}); `upbench run --resume <run dir>` runs them.",
        incomplete.missing.len(),
        incomplete.planned,
        shown.join("; "),
        if more > 0 { format!("; and {more} more") } else { String::new() }
    ))
}

/// Where the run's time went, one sentence: the plugins' share of the wall time and the
/// harness's; `None` without a profile.
pub fn time_note(report: &RunReport) -> Option<String> {
    let profile = report.profile.as_ref()?;
    let wall = report.manifest.wall_secs;
    if wall <= 0.0 {
        return None;
    }
    let cells = profile.cell_totals();
    let share = |secs: f64| 100.0 * secs / wall;
    Some(format!(
        "Time: {:.1} s in all; plugins' restore {:.0} %, timing {:.0} %, the harness's own work {:.0} % (`upbench run --profile`: by stage).",
        wall,
        share(cells.restore_secs),
        share(cells.timing_secs),
        share((wall - cells.restore_secs - cells.timing_secs).max(0.0)),
    ))
}

/// The note under the tables: what the brackets and the bound mean.
pub fn footnote(report: &RunReport) -> String {
    let ci = report.manifest.interval_method.caption(report.manifest.confidence_level);
    let time = time_note(report).map_or(String::new(), |t| format!(" {t}"));
    let (exact, images) =
        (report.tasks.iter().any(|t| t.image.is_none()), report.tasks.iter().any(|t| t.image.is_some()));
    let psnr = match (exact, images) {
        (true, true) => {
            "PSNR (exact tasks): peak² = the prior's mean variance; PSNR-Y (images): 8-bit luma, border cropped. "
        }
        (true, false) => "PSNR: peak² = the prior's mean variance. ",
        (false, true) => "PSNR-Y: 8-bit luma, border cropped, as the SR literature computes it. ",
        (false, false) => "",
    };
    format!(
        "Brackets: {ci} over observations. Bound = η(P; d)·N(X|Y); region and verdict use the whole box of the P and U intervals. {psnr}Throughput: criterion on extra calls of the first batch where they fit the timing budget (interval: its bootstrap); * from the quality run's own calls. Estimator: {}. Device: {}.",
        estimator_label(&report.manifest.estimator),
        report.manifest.device
    ) + &time
}

/// The estimator as the footnote names it: its kind, and for k-NN its k, α and whether the
/// entropy's bias was corrected.
fn estimator_label(estimator: &crate::estimate::EstimatorConfig) -> String {
    match estimator.kind {
        crate::estimate::EstimatorKind::Knn => format!(
            "knn (k = {}, α = {}{})",
            estimator.knn.k,
            estimator.knn.alpha,
            if estimator.knn.bias_correction { ", entropy bias-corrected on a Gaussian reference" } else { "" }
        ),
        kind => kind.to_string(),
    }
}
