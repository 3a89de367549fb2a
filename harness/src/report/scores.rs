//! The score table's content, once: captions, headers, cells and failures per task, as text.
//! The terminal table, the HTML report and the Markdown export only lay it out.

use crate::estimate::quality::Better;
use crate::estimate::Estimate;
use crate::judge::{Region, Validity};
use crate::record::{mean_of, ConfigResult, Failure, QualityMetricInfo, RunReport, TaskSummary};
use crate::task::images::LrSource;
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
    /// Each row's region, typed (the page colours the region cell by it).
    pub regions: Vec<Region>,
    /// The column holding the region's word.
    pub region_column: usize,
    /// Failures concerning this task, as `subject — message`.
    pub failures: Vec<String>,
    /// Notes under the table: what its marks mean, its frontier.
    pub notes: Vec<String>,
    /// The same rows in the terminal's narrow form.
    pub compact: CompactTable,
}

/// A task's table in the terminal's narrow form ([`super::TableLayout::Fit`]): the columns a
/// reviewer decides with, intervals as `point ±half-width`, and the reasons of INVALID rows as
/// numbered notes, so that no cell needs more than a line.
#[derive(Debug, Clone)]
pub struct CompactTable {
    /// The columns after `#` and `model`.
    pub columns: Vec<CompactColumn>,
    /// One row per configuration, in rank order.
    pub rows: Vec<CompactRow>,
    /// Notes only this form needs: the reasons its verdict marks point to (`¹ INVALID: …`), in
    /// order, and what its shortened region words stand for.
    pub notes: Vec<String>,
}

/// A column of a [`CompactTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactColumn {
    /// Its title.
    pub title: &'static str,
    /// Whether it holds a single number (right-aligned).
    pub numeric: bool,
    /// When the table is too wide, columns with a `Some` may be left out: the table keeps the
    /// highest-ranked of them it can, a column before any number of lower-ranked ones; `None`
    /// is never left out.
    pub leave_out: Option<u8>,
}

/// A row of a [`CompactTable`].
#[derive(Debug, Clone)]
pub struct CompactRow {
    /// The configuration's rank; 0 for a reference row (the ground truth), which has none.
    pub rank: usize,
    /// Its label, whole.
    pub label: String,
    /// Its mark ([`DETERMINISTIC`]), or empty.
    pub mark: &'static str,
    /// Its cells, one per [`CompactTable::columns`].
    pub cells: Vec<String>,
}

/// The mark of a deterministic configuration's row.
pub const DETERMINISTIC: &str = "†";

/// A number with 4 significant digits (fixed-point from 0.001 to 99999, else `1.234e7`), `∞` and
/// `—` (NaN) spelled out: one format for every number in every table.
pub fn sig(v: f64) -> String {
    if let Some(text) = non_finite(v) {
        return text;
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    // 99999.6 would show as a six-digit 100000
    if !(1e-3..99999.5).contains(&a) {
        return format!("{v:.3e}");
    }
    format!("{v:.*}", fixed_decimals(a, 4))
}

/// `∞`, `-∞` or `—` (NaN); `None` for a finite value.
fn non_finite(v: f64) -> Option<String> {
    match v {
        v if v.is_nan() => Some("—".into()),
        v if v.is_infinite() => Some(if v > 0.0 { "∞".into() } else { "-∞".into() }),
        _ => None,
    }
}

/// Decimals that show `digits` significant digits of `a` (> 0) in fixed point.
fn fixed_decimals(a: f64, digits: i32) -> usize {
    // the magnitude after rounding: 9.99996 shows as 10.00, not 9.9999x
    let magnitude = a.log10().floor() as i32;
    let rounded = (a * 10f64.powi(digits - 1 - magnitude)).round() / 10f64.powi(digits - 1 - magnitude);
    let magnitude = rounded.log10().floor() as i32;
    (digits - 1 - magnitude).max(0) as usize
}

/// `point ±h`: h is the larger side of the interval rounded up to one significant digit (so
/// the ± never claims more precision than the interval has) and the point shown to h's last
/// digit; the point alone when the interval is empty or the point not finite.
pub fn plus_minus(e: &Estimate) -> String {
    if let Some(text) = non_finite(e.point) {
        return text;
    }
    let half = (e.ci.upper - e.point).max(e.point - e.ci.lower);
    if !half.is_finite() {
        return format!("{} ±∞", sig(e.point));
    }
    if half <= 0.0 {
        return sig(e.point);
    }
    let exponent = half.log10().floor() as i32;
    let digit = (half / 10f64.powi(exponent) - 1e-9).ceil();
    // 0.00096 rounds up to 0.001, a digit of the next place
    let (digit, exponent) = if digit >= 10.0 { (1.0, exponent + 1) } else { (digit, exponent) };
    let half = digit * 10f64.powi(exponent);
    let scale = e.point.abs().max(half);
    if !(1e-3..1e5).contains(&scale) {
        // scientific, the point to h's last digit as well (at most 4 significant digits)
        let point_exponent = if e.point == 0.0 { exponent } else { e.point.abs().log10().floor() as i32 };
        let decimals = (point_exponent - exponent).clamp(0, 3) as usize;
        return format!("{:.decimals$e} ±{half:.0e}", e.point);
    }
    let decimals = (-exponent).max(0) as usize;
    format!("{:.decimals$} ±{half:.decimals$}", e.point)
}

/// `point [lower, upper]`, or the point alone when the interval is empty or the point infinite.
pub fn with_ci(e: &Estimate) -> String {
    if !e.point.is_finite() || e.ci.lower == e.ci.upper {
        sig(e.point)
    } else {
        format!("{} [{}, {}]", sig(e.point), sig(e.ci.lower), sig(e.ci.upper))
    }
}

/// How a caption says where an image task's measurements came from.
fn lr_words(lr: LrSource) -> &'static str {
    match lr {
        LrSource::Stored => " (the set's stored LR files)",
        LrSource::Degrade => "",
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
            "Task {} — {}, {} ({} images, {}), {}{}; patches {p}×{p} (d = {}), border {}; PSNR-Y/SSIM {} convention; {n_inherent}; K = {} samples per image for samplers",
            task.name,
            task.kind,
            image.dataset,
            image.images,
            image.colour,
            image.degradation,
            lr_words(image.lr),
            task.signal_dim,
            image.border,
            image.evaluation,
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
    let metrics = quality_metrics(task);
    let at = columns.iter().position(|c| c.0 == "SSIM ↑").map_or(columns.len(), |i| i + 1);
    columns.splice(at..at, metrics.iter().map(|m| (metric_title(m), false)));
    let results: Vec<&ConfigResult> = report.results.iter().filter(|r| r.task == task.name).collect();
    let calibrated = results.iter().any(|r| r.calibration.is_some());
    if calibrated {
        let verdict = columns.len() - 1;
        columns.splice(verdict..verdict, [(COVERAGE_TITLE, false), (SPREAD_TITLE, false)]);
    }
    let region_column = columns.iter().position(|c| c.0 == "region").unwrap_or_default();
    let mut rows: Vec<Vec<String>> = results.iter().map(|r| score_row(r, image, &metrics, calibrated)).collect();
    if let Some(row) = ground_truth_row(task, columns.len(), at) {
        rows.push(row);
    }
    TaskScores {
        task: task.name.clone(),
        caption: caption(task),
        header: columns.iter().map(|c| c.0).collect(),
        numeric: columns.iter().map(|c| c.1).collect(),
        rows,
        regions: results.iter().map(|r| r.judgement.region).collect(),
        region_column,
        failures: task_failures(report, task).map(|f| format!("{} — {}", f.subject, f.message)).collect(),
        notes: task_notes(report, task),
        compact: compact_table(report, task),
    }
}

/// One configuration's row of the task table, in the columns [`task_scores`] lays out.
fn score_row(r: &ConfigResult, image: bool, metrics: &[QualityMetricInfo], calibrated: bool) -> Vec<String> {
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
            row.extend(
                metrics.iter().map(|m| mean_of(&r.quality, &m.name).map_or("—".into(), |q| with_ci(&q.estimate))),
            );
        }
        _ => row.push(format!("{:.2}", r.psnr_db)),
    }
    let timing = r.timing.as_ref();
    let rate = timing.and_then(|t| if image { t.measurements_per_sec.as_ref() } else { Some(&t.samples_per_sec) });
    let measured_apart = timing.is_some_and(|t| matches!(t.source, crate::run::TimingSource::Criterion { .. }));
    row.push(rate.map_or("—".into(), |rate| format!("{}{}", with_ci(rate), if measured_apart { "" } else { "*" })));
    if calibrated {
        row.extend(calibration_cells(r));
    }
    row.push(j.validity.to_string());
    row
}

/// The wide table's title of the widest level's coverage column.
const COVERAGE_TITLE: &str = "90 % coverage (nominal)";
/// The title of the calibration verdict's column.
const SPREAD_TITLE: &str = "spread";

/// A configuration's calibration (issue [16]) in the wide table: the coverage of its samples'
/// central interval at the widest level with its interval over observations and, in
/// parentheses, what a calibrated sampler's K samples cover; then the verdict's word. Dashes
/// for a deterministic configuration, which has no spread.
fn calibration_cells(r: &ConfigResult) -> [String; 2] {
    let Some(c) = &r.calibration else { return ["—".into(), "—".into()] };
    let coverage =
        c.measured.coverage.last().map_or("—".into(), |v| format!("{} ({})", with_ci(&v.estimate), sig(v.nominal)));
    [coverage, c.verdict.to_string()]
}

/// The narrow table: U, P and U/bound as `±`, the region and verdict in a word, MSE/MMSE (exact
/// tasks) or PSNR-Y (images). Where the table is too wide, U is kept before U/bound (the region
/// word says where the row lies), and both before a sampler's spread (its calibration verdict,
/// which no other table reports), which is kept before the distortion column.
fn compact_table(report: &RunReport, task: &TaskSummary) -> CompactTable {
    let image = task.image.is_some();
    let column = |title, numeric, leave_out| CompactColumn { title, numeric, leave_out };
    let metrics = quality_metrics(task);
    // the quality metrics rank below U, U/bound, the spread and the distortion column: left out first
    let mut columns = vec![
        column("U ↓", true, Some(4)),
        column("P ↓ (nats)", true, None),
        column("U/bound", true, Some(3)),
        column("region", false, None),
        if image { column("PSNR-Y ↑", true, Some(1)) } else { column("MSE/MMSE ↓", true, Some(1)) },
    ];
    columns.extend(metrics.iter().map(|m| column(metric_title(m), true, Some(0))));
    let results: Vec<&ConfigResult> = report.results.iter().filter(|r| r.task == task.name).collect();
    let calibrated = results.iter().any(|r| r.calibration.is_some());
    if calibrated {
        columns.push(column(SPREAD_TITLE, false, Some(2)));
    }
    columns.push(column("verdict", false, None));
    let mut reasons: Vec<String> = Vec::new();
    let mut regions_used = Vec::new();
    let mut rows: Vec<CompactRow> = results
        .iter()
        .map(|r| {
            if !regions_used.contains(&r.judgement.region) {
                regions_used.push(r.judgement.region);
            }
            let mut cells = compact_cells(r, image, &metrics);
            if calibrated {
                cells.push(r.calibration.as_ref().map_or("—".into(), |c| c.verdict.to_string()));
            }
            cells.push(compact_verdict(&r.judgement.validity, &mut reasons));
            CompactRow {
                rank: r.rank,
                label: r.label.clone(),
                mark: if r.stochastic { "" } else { DETERMINISTIC },
                cells,
            }
        })
        .collect();
    if let Some(quality) = task.image.as_ref().and_then(|i| i.quality.as_ref()).filter(|_| !metrics.is_empty()) {
        let mut cells = vec!["—".to_string(); 5];
        cells.extend(
            metrics.iter().map(|m| {
                mean_of(&quality.ground_truth_means, &m.name).map_or("—".into(), |q| plus_minus(&q.estimate))
            }),
        );
        // the spread (when shown) and the verdict: none for the ground truth
        cells.extend(std::iter::repeat_n(String::new(), 1 + usize::from(calibrated)));
        rows.push(CompactRow { rank: 0, label: GROUND_TRUTH.into(), mark: "", cells });
    }
    let mut notes: Vec<String> =
        reasons.iter().enumerate().map(|(i, text)| format!("{} {text}", note_mark(i + 1))).collect();
    let shortened: Vec<String> = regions_used
        .iter()
        .filter(|&&region| region_word(region) != region.to_string())
        .map(|&region| format!("{} = {region}", region_word(region)))
        .collect();
    if !shortened.is_empty() {
        notes.push(format!("Region: {}.", shortened.join("; ")));
    }
    CompactTable { columns, rows, notes }
}

/// A configuration's narrow cells up to its quality metrics: U, P, U/bound, the region's word,
/// the distortion column and each metric's mean, as `±`.
fn compact_cells(r: &ConfigResult, image: bool, metrics: &[QualityMetricInfo]) -> Vec<String> {
    let j = &r.judgement;
    let distortion = if image { r.psnr_y_db.as_ref() } else { j.mse_over_mmse.as_ref() };
    let mut cells = vec![
        plus_minus(&j.uncertainty),
        plus_minus(&j.perception_nats),
        plus_minus(&j.bound_ratio),
        region_word(j.region).to_string(),
        distortion.map_or("—".into(), plus_minus),
    ];
    cells.extend(metrics.iter().map(|m| mean_of(&r.quality, &m.name).map_or("—".into(), |q| plus_minus(&q.estimate))));
    cells
}

/// The narrow verdict: `valid`, `valid (reg.)` or `INVALID` with the mark of its reason, which
/// joins `reasons` (the table's numbered notes) the first time it is seen.
fn compact_verdict(validity: &Validity, reasons: &mut Vec<String>) -> String {
    match validity {
        Validity::Valid { shrinkage_used: false } => "valid".to_string(),
        Validity::Valid { shrinkage_used: true } => "valid (reg.)".to_string(),
        invalid => {
            let text = invalid.to_string();
            let index = reasons.iter().position(|t| *t == text).unwrap_or_else(|| {
                reasons.push(text);
                reasons.len() - 1
            });
            format!("INVALID {}", note_mark(index + 1))
        }
    }
}

/// The label of the tables' reference row: the no-reference quality metrics on the ground truth.
pub const GROUND_TRUTH: &str = "ground truth";

/// The quality metrics an image task computed, in column order (none for an exact task).
pub fn quality_metrics(task: &TaskSummary) -> Vec<QualityMetricInfo> {
    task.image.as_ref().and_then(|i| i.quality.as_ref()).map_or_else(Vec::new, |q| q.metrics.clone())
}

/// A metric's column title, with the arrow of its better direction.
pub fn metric_title(metric: &QualityMetricInfo) -> &'static str {
    match (metric.name.as_str(), metric.better) {
        ("niqe", _) => "NIQE ↓",
        ("brisque", _) => "BRISQUE ↓",
        ("stlpips-alex", _) => "ST-LPIPS ↓",
        // a metric without a fixed title (a user's): its name, kept for the run's tables
        (name, better) => {
            let arrow = if better == Better::Lower { "↓" } else { "↑" };
            Box::leak(format!("{name} {arrow}").into_boxed_str())
        }
    }
}

/// The wide table's *ground truth* row: the no-reference metrics' means over the ground-truth
/// images in their columns (from `first_metric` on), a dash elsewhere; `None` without metrics.
fn ground_truth_row(task: &TaskSummary, width: usize, first_metric: usize) -> Option<Vec<String>> {
    let quality = task.image.as_ref()?.quality.as_ref().filter(|q| !q.metrics.is_empty())?;
    let mut row = vec!["—".to_string(); width];
    row[0] = String::new();
    row[1] = GROUND_TRUTH.into();
    for (k, m) in quality.metrics.iter().enumerate() {
        row[first_metric + k] =
            mean_of(&quality.ground_truth_means, &m.name).map_or("—".into(), |q| with_ci(&q.estimate));
    }
    Some(row)
}

/// A region in a word for the narrow table.
fn region_word(region: Region) -> &'static str {
    match region {
        Region::Impossible => "impossible",
        Region::OptimalBand => "optimal",
        Region::Suboptimal => "suboptimal",
        Region::Undecided => "undecided",
        Region::Unplaced => "unplaced",
        Region::BelowEstimatedBound => "below N̂",
    }
}

/// The mark that ties an INVALID cell to its note: ¹ ² ³ …, then (10), (11), ….
fn note_mark(n: usize) -> String {
    const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    if (1..10).contains(&n) {
        SUPERSCRIPTS[n].to_string()
    } else {
        format!("({n})")
    }
}

/// The notes under a task's table: the order of its rows, the frontier and what the
/// deterministic mark means there.
fn task_notes(report: &RunReport, task: &TaskSummary) -> Vec<String> {
    let mut notes = vec![if task.inherent.value().is_some() {
        "Rows: valid ones by |ln(U / bound)|, closest to the bound first, then the INVALID ones.".to_string()
    } else {
        "Rows: valid ones by U, lowest first (no bound without N(X|Y)), then the INVALID ones.".to_string()
    }];
    if let Some(f) = report.frontiers.iter().find(|f| f.task == task.name) {
        notes.push(format!(
            "Frontier: every model proves N(X|Y) ≤ U/η(P; d); the tightest here is {} ({}); eff. = that bound over each model's.",
            with_ci(&f.inherent),
            f.label
        ));
    }
    if let Some(quality) = task.image.as_ref().and_then(|i| i.quality.as_ref()).filter(|q| !q.metrics.is_empty()) {
        let names: Vec<&str> = quality.metrics.iter().map(|m| metric_title(m)).collect();
        notes.push(format!(
            "{}: on the {}, mean over images [interval]; \"{GROUND_TRUTH}\": the no-reference ones on the ground-truth images (`docs/metrics.md`).",
            names.join(", "),
            quality.sample
        ));
        if !quality.notes.is_empty() {
            notes.push(format!("Not scored (ground truth and outputs): {}.", quality.notes.join("; ")));
        }
    }
    if report.results.iter().any(|r| r.task == task.name && r.calibration.is_some()) {
        notes.push(
            "Spread: whether a sampler's K samples are honest about its errors (`docs/calibration.md`): calibrated; overconfident (the truth falls outside their central intervals too often: confident hallucination); underconfident (too wide); undecided. 90 % coverage: how often the samples' central interval held the truth [interval over observations], and (in parentheses) what it holds for a calibrated sampler with K samples.".to_string(),
        );
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
        |base: &str| report.tasks.iter().find(|t| t.suite_task() == base).map(|t| t.name == task.name);
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
    let has_table = |task: &str| report.tasks.iter().any(|t| t.name == task || t.suite_task() == task);
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
/// harness's; `None` without a profile. A resumed run's wall time is its last session's while
/// its profile holds every session's cells: then the shares are of the time the profile
/// accounts for, and the sentence says so.
pub fn time_note(report: &RunReport) -> Option<String> {
    let profile = report.profile.as_ref()?;
    let wall = report.manifest.wall_secs;
    let cells = profile.cell_totals();
    let accounted = profile.build_secs() + cells.total();
    let (total, basis) = if accounted > wall {
        (
            accounted,
            format!(
                "Time: {wall:.1} s in its last session (resumed); of the {accounted:.1} s its tasks and cells took"
            ),
        )
    } else {
        (wall, format!("Time: {wall:.1} s in all"))
    };
    if total <= 0.0 {
        return None;
    }
    let share = |secs: f64| 100.0 * secs / total;
    Some(format!(
        "{basis}; plugins' restore {:.0} %, their constructors {:.0} %, timing {:.0} %, the harness's own work {:.0} % (`upbench run --profile`: by stage).",
        share(cells.restore_secs),
        share(cells.construct_secs),
        share(cells.timing_secs),
        share((total - cells.plugin_secs() - cells.timing_secs).max(0.0)),
    ))
}

/// How a table shows its intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalStyle {
    /// `point [lower, upper]`: the wide tables, Markdown and HTML.
    Brackets,
    /// `point ±h` ([`plus_minus`]): the narrow terminal table.
    PlusMinus,
}

/// The note under the tables: what the intervals and the bound mean.
pub fn footnote(report: &RunReport, style: IntervalStyle) -> String {
    let ci = report.manifest.interval_method.caption(report.manifest.confidence_level);
    let intervals = match style {
        IntervalStyle::Brackets => format!("Brackets: {ci} over observations."),
        IntervalStyle::PlusMinus => {
            format!("±: the larger side of the {ci} over observations, rounded up to one digit (`--wide`: both ends).")
        }
    };
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
    let psnr = format!("{psnr}{}", skipped_metrics_note(report));
    format!(
        "{intervals} Bound = η(P; d)·N(X|Y); region and verdict use the whole box of the P and U intervals. {psnr}Throughput: criterion on extra calls of the first batch where they fit the timing budget (interval: its bootstrap); * from the quality run's own calls. Estimator: {}. Device: {}.",
        estimator_label(&report.manifest.estimator),
        report.manifest.device
    ) + &time
}

/// Which quality metrics the image tasks skipped and why, one sentence with a trailing space;
/// empty when none was skipped (or the run has no image task).
fn skipped_metrics_note(report: &RunReport) -> String {
    let mut skipped: Vec<String> = Vec::new();
    for quality in report.tasks.iter().filter_map(|t| t.image.as_ref()?.quality.as_ref()) {
        for s in &quality.skipped {
            let text = format!("{} ({})", s.name, s.reason);
            if !skipped.contains(&text) {
                skipped.push(text);
            }
        }
    }
    if skipped.is_empty() {
        String::new()
    } else {
        format!("Quality metrics skipped: {}. ", skipped.join("; "))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::ConfidenceInterval;

    fn estimate(point: f64, lower: f64, upper: f64) -> Estimate {
        Estimate { point, ci: ConfidenceInterval { level: 0.95, lower, upper }, standard_error: f64::NAN, n: 32 }
    }

    #[test]
    fn numbers_show_four_significant_digits_in_one_format() {
        let shown: Vec<String> = [0.5, 4028.4992, 0.0296, 99999.6, 1.58e7, 2.3e-5, -0.125, 0.0].map(sig).to_vec();
        assert_eq!(shown, ["0.5000", "4028", "0.02960", "1.000e5", "1.580e7", "2.300e-5", "-0.1250", "0"]);
        assert_eq!([f64::INFINITY, f64::NEG_INFINITY, f64::NAN].map(sig), ["∞", "-∞", "—"]);
    }

    #[test]
    fn plus_minus_rounds_the_half_width_up_and_the_point_to_its_digit() {
        // the larger side, rounded up to one digit: 0.0081 → 0.009, never down to 0.008
        assert_eq!(plus_minus(&estimate(0.5913, 0.5852, 0.5994)), "0.591 ±0.009");
        assert_eq!(plus_minus(&estimate(4028.4992, 3765.1415, 4332.4317)), "4028 ±400");
        assert_eq!(plus_minus(&estimate(85.3, 83.4, 87.1)), "85 ±2");
        assert_eq!(plus_minus(&estimate(0.00843, 0.00747, 0.00939)), "0.008 ±0.001");
        // tiny and huge values in scientific form, the point to the half-width's digit
        assert_eq!(plus_minus(&estimate(2.3e-5, -6.5e-5, 1.1e-4)), "2e-5 ±9e-5");
        assert_eq!(plus_minus(&estimate(1.5837e7, 1.53e7, 1.62e7)), "1.58e7 ±6e5");
        // the point alone without an interval; an unbounded side says so
        assert_eq!(plus_minus(&estimate(0.25, 0.25, 0.25)), "0.2500");
        assert_eq!(plus_minus(&estimate(f64::INFINITY, 3.0, f64::INFINITY)), "∞");
        assert_eq!(plus_minus(&estimate(2.0, 1.0, f64::INFINITY)), "2.000 ±∞");
    }

    /// Shares of the wall time; a resumed run's wall time is its last session's, so its shares
    /// are of the time its profile accounts for, and the note says so.
    #[test]
    fn the_time_note_splits_the_wall_time_and_says_what_a_resumed_run_divides() {
        use crate::record::StageTimes;
        use crate::record::{CellTime, Profile, TaskTime};
        let json = include_str!("../../tests/fixtures/tables/results.json");
        let mut report: RunReport = serde_json::from_str(json).expect("a results file");
        assert_eq!(time_note(&report), None, "no profile, no note");
        let stages = StageTimes {
            restore_secs: 6.0,
            construct_secs: 1.0,
            timing_secs: 1.0,
            estimate_secs: 1.0,
            ..StageTimes::default()
        };
        report.profile = Some(Profile {
            tasks: vec![TaskTime { task: "t".into(), build_secs: 0.5 }],
            cells: vec![CellTime { task: "t".into(), label: "m".into(), stages }],
        });
        report.manifest.wall_secs = 10.0;
        let tail = "(`upbench run --profile`: by stage).";
        assert_eq!(
            time_note(&report).unwrap(),
            format!("Time: 10.0 s in all; plugins' restore 60 %, their constructors 10 %, timing 10 %, the harness's own work 20 % {tail}")
        );
        // resumed: 2 s in the last session, 9.5 s of tasks and cells over every session
        report.manifest.wall_secs = 2.0;
        assert_eq!(
            time_note(&report).unwrap(),
            format!("Time: 2.0 s in its last session (resumed); of the 9.5 s its tasks and cells took; plugins' restore 63 %, their constructors 11 %, timing 11 %, the harness's own work 16 % {tail}")
        );
    }
}
