//! Two runs side by side: for every configuration measured in both, how U, P, U/bound and MSE
//! moved and whether the move exceeds the confidence intervals; what appeared, vanished, or
//! changed region or verdict; and what makes the runs hard to compare (suite, seed, device, …).

use serde::Serialize;

use super::scores::{sig, with_ci};
use crate::estimate::{mean_of, Estimate, IntervalMethod, Intervals};
use crate::judge::Region;
use crate::record::{score_of, ConfigResult, ImageScore, RunReport};

/// One quantity of one configuration in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `U`, `P (nats)`, `U/bound` or `MSE`.
    pub quantity: &'static str,
    /// In run A.
    pub before: Estimate,
    /// In run B.
    pub after: Estimate,
    /// after − before, relative to before (NaN when undefined, e.g. ∞ → ∞).
    #[serde(with = "crate::float")]
    pub relative: f64,
    /// Whether the two intervals are disjoint: a change the runs' own uncertainty does not explain.
    pub beyond_ci: bool,
}

impl Change {
    fn new(quantity: &'static str, before: Estimate, after: Estimate) -> Self {
        let relative =
            if before.point == after.point { 0.0 } else { (after.point - before.point) / before.point.abs() };
        let beyond_ci = before.ci.upper < after.ci.lower || after.ci.upper < before.ci.lower;
        Change { quantity, before, after, relative, beyond_ci }
    }

    /// `before → after (±x %)`, with a mark when beyond the intervals.
    pub fn describe(&self) -> String {
        let relative =
            if self.relative.is_finite() { format!(" ({:+.1} %)", self.relative * 100.0) } else { String::new() };
        let mark = if self.beyond_ci { " ◆" } else { "" };
        format!("{} → {}{relative}{mark}", with_ci(&self.before), with_ci(&self.after))
    }
}

/// One configuration found in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Matched {
    /// The task.
    pub task: String,
    /// The plugin.
    pub plugin: String,
    /// The configuration's label.
    pub label: String,
    /// Plugin versions, when they differ.
    pub versions: Option<(String, String)>,
    /// U, P, U/bound and MSE.
    pub changes: Vec<Change>,
    /// Region before and after, when it changed.
    pub region: Option<(Region, Region)>,
    /// Validity before and after, when it changed between valid and invalid.
    pub validity: Option<(String, String)>,
    /// Image tasks: how each image's PSNR-Y and SSIM moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<ImageChanges>,
}

impl Matched {
    /// Whether anything moved beyond the intervals or changed region or validity, or the
    /// images' paired PSNR-Y or SSIM change is beyond its interval.
    pub fn notable(&self) -> bool {
        self.changes.iter().any(|c| c.beyond_ci)
            || self.region.is_some()
            || self.validity.is_some()
            || self.images.as_ref().is_some_and(ImageChanges::beyond_ci)
    }
}

/// How one configuration's per-image scores moved, image by image (paired: each image is its
/// own control, so a change far smaller than the spread between images shows).
#[derive(Debug, Clone, Serialize)]
pub struct ImageChanges {
    /// Images scored in both runs.
    pub images: usize,
    /// Mean over those images of PSNR-Y after − before, dB, with a Student-t interval.
    pub psnr_y_db: Estimate,
    /// The same for SSIM.
    pub ssim: Estimate,
    /// The images whose PSNR-Y moved most, largest |change| first (at most three): name and
    /// change in dB.
    pub largest: Vec<(String, f64)>,
    /// Each quality metric both runs scored (NIQE, BRISQUE, ST-LPIPS): the mean over the images
    /// both scored of after − before, with its Student-t interval.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<(String, Estimate)>,
}

impl ImageChanges {
    /// Pairs the images of `before` and `after` by name; `None` without images in both.
    fn new(before: &ConfigResult, after: &ConfigResult, level: f64) -> Option<ImageChanges> {
        let pairs: Vec<(&ImageScore, &ImageScore)> = before
            .images
            .iter()
            .filter_map(|b| after.images.iter().find(|a| a.image == b.image).map(|a| (b, a)))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        let psnr: Vec<f64> = pairs.iter().map(|(b, a)| a.psnr_y_db - b.psnr_y_db).collect();
        let ssim: Vec<f64> = pairs.iter().map(|(b, a)| a.ssim - b.ssim).collect();
        let mut largest: Vec<(String, f64)> =
            pairs.iter().zip(&psnr).map(|((b, _), &d)| (b.image.clone(), d)).collect();
        largest.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
        largest.retain(|(_, d)| *d != 0.0);
        largest.truncate(3);
        let mut metrics: Vec<&str> = Vec::new();
        for (b, _) in &pairs {
            for q in &b.quality {
                if !metrics.contains(&q.metric.as_str()) {
                    metrics.push(&q.metric);
                }
            }
        }
        let quality = metrics
            .into_iter()
            .filter_map(|metric| {
                let d: Vec<f64> = pairs
                    .iter()
                    .filter_map(|(b, a)| Some(score_of(&a.quality, metric)? - score_of(&b.quality, metric)?))
                    .collect();
                (!d.is_empty()).then(|| (metric.to_string(), paired_mean(&d, level)))
            })
            .collect();
        Some(ImageChanges {
            images: pairs.len(),
            psnr_y_db: paired_mean(&psnr, level),
            ssim: paired_mean(&ssim, level),
            largest,
            quality,
        })
    }

    /// Whether the mean PSNR-Y, SSIM or quality-metric change's interval excludes 0.
    pub fn beyond_ci(&self) -> bool {
        [&self.psnr_y_db, &self.ssim]
            .into_iter()
            .chain(self.quality.iter().map(|(_, e)| e))
            .any(|e| e.ci.lower > 0.0 || e.ci.upper < 0.0)
    }

    /// `ΔPSNR-Y mean [interval] dB, ΔSSIM mean [interval] over n images; most: name ±x dB, …`.
    pub fn describe(&self) -> String {
        let mark = if self.beyond_ci() { " ◆" } else { "" };
        let metrics: String =
            self.quality.iter().map(|(metric, change)| format!(", Δ{metric} {}", with_ci(change))).collect();
        let mut text = format!(
            "ΔPSNR-Y {} dB, ΔSSIM {}{metrics} over {} images{mark}",
            with_ci(&self.psnr_y_db),
            with_ci(&self.ssim),
            self.images
        );
        if !self.largest.is_empty() {
            let most: Vec<String> = self.largest.iter().map(|(image, d)| format!("{image} {d:+.2} dB")).collect();
            text.push_str(&format!("; most: {}", most.join(", ")));
        }
        text
    }
}

/// The mean of paired differences with its Student-t interval at `level`: the project's
/// jackknife-t, which for a mean is the textbook t-interval (unbounded for one image; [0, 0]
/// when nothing moved).
fn paired_mean(differences: &[f64], level: f64) -> Estimate {
    let intervals = Intervals { method: IntervalMethod::JackknifeT, resamples: 0, level, seed: 0 };
    let [mean] = intervals.estimate(differences.len(), |units| [mean_of(differences, units)]);
    mean
}

/// The comparison of run A (before) and run B (after).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Run ids.
    pub runs: (String, String),
    /// Differences in setting that may explain changes (suite, seed, device, estimator, …).
    pub caveats: Vec<String>,
    /// Configurations in both runs.
    pub matched: Vec<Matched>,
    /// `task: label` only in A.
    pub only_before: Vec<String>,
    /// `task: label` only in B.
    pub only_after: Vec<String>,
}

/// Compares two runs, configurations matched by task and label.
pub fn compare(a: &RunReport, b: &RunReport) -> Comparison {
    fn key(r: &ConfigResult) -> (String, String) {
        (r.task.clone(), r.label.clone())
    }
    fn find<'a>(report: &'a RunReport, k: &(String, String)) -> Option<&'a ConfigResult> {
        report.results.iter().find(|r| key(r) == *k)
    }
    let mut matched = Vec::new();
    let mut only_before = Vec::new();
    for before in &a.results {
        let Some(after) = find(b, &key(before)) else {
            only_before.push(format!("{}: {}", before.task, before.label));
            continue;
        };
        let (jb, ja) = (&before.judgement, &after.judgement);
        let changes = vec![
            Change::new("U", jb.uncertainty, ja.uncertainty),
            Change::new("P (nats)", jb.perception_nats, ja.perception_nats),
            Change::new("U/bound", jb.bound_ratio, ja.bound_ratio),
            Change::new("MSE", jb.mse, ja.mse),
        ];
        let differ = |x: String, y: String| (x != y).then_some((x, y));
        matched.push(Matched {
            task: before.task.clone(),
            plugin: before.plugin.clone(),
            label: before.label.clone(),
            versions: differ(before.plugin_version.clone(), after.plugin_version.clone()),
            changes,
            region: (jb.region != ja.region).then_some((jb.region, ja.region)),
            validity: differ(validity_word(before), validity_word(after)),
            images: ImageChanges::new(before, after, b.manifest.confidence_level),
        });
    }
    let only_after =
        b.results.iter().filter(|r| find(a, &key(r)).is_none()).map(|r| format!("{}: {}", r.task, r.label)).collect();
    Comparison {
        runs: (a.manifest.run_id.clone(), b.manifest.run_id.clone()),
        caveats: caveats(a, b),
        matched,
        only_before,
        only_after,
    }
}

fn validity_word(r: &ConfigResult) -> String {
    if r.judgement.validity.is_valid() { "valid" } else { "invalid" }.to_string()
}

fn caveats(a: &RunReport, b: &RunReport) -> Vec<String> {
    let (ma, mb) = (&a.manifest, &b.manifest);
    let mut out = Vec::new();
    let mut check = |what: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{what} differs: {x} → {y}"));
        }
    };
    check("suite", ma.suite.clone(), mb.suite.clone());
    check("seed", ma.seed.to_string(), mb.seed.to_string());
    check("device", ma.device.clone(), mb.device.clone());
    check("estimator", format!("{:?}", ma.estimator), format!("{:?}", mb.estimator));
    check(
        "sampling (n, K)",
        format!("{:?}", (ma.sampling.observations, ma.sampling.samples_per_observation)),
        format!("{:?}", (mb.sampling.observations, mb.sampling.samples_per_observation)),
    );
    check("confidence level", ma.confidence_level.to_string(), mb.confidence_level.to_string());
    check("interval method", ma.interval_method.to_string(), mb.interval_method.to_string());
    check("libtorch CPU threads", ma.torch_threads.to_string(), mb.torch_threads.to_string());
    check("upbench", ma.upbench_version.clone(), mb.upbench_version.clone());
    check("libtorch", ma.libtorch_version.clone(), mb.libtorch_version.clone());
    if a.schema_version != b.schema_version {
        // From schema 3 on, an exact task's MSE is estimated against its K posterior draws rather
        // than one shared ground truth: the same expectation, a different (less noisy) estimate.
        out.push(format!(
            "results schema differs: {} → {} (from schema 3, exact tasks' MSE is estimated against posterior draws: same expectation, a different estimate)",
            a.schema_version, b.schema_version
        ));
    }
    for ta in &a.tasks {
        if let Some(tb) = b.tasks.iter().find(|t| t.name == ta.name) {
            let (x, y) = (ta.inherent.value(), tb.inherent.value());
            if x.map(f64::to_bits) != y.map(f64::to_bits) {
                let value = |v: Option<f64>| v.map_or("unknown".to_string(), sig);
                out.push(format!("task {}: N(X|Y) differs: {} → {}", ta.name, value(x), value(y)));
            }
        }
    }
    out
}

impl Comparison {
    /// Header and rows of the change table: one row per matched configuration.
    pub fn rows(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let header = vec!["task", "model", "U", "P (nats)", "U / bound", "MSE", "region", "verdict"];
        let rows = self
            .matched
            .iter()
            .map(|m| {
                let mut row = vec![m.task.clone(), label_with_versions(m)];
                row.extend(m.changes.iter().map(Change::describe));
                row.push(m.region.as_ref().map_or("same".into(), |(x, y)| format!("{x} → {y}")));
                row.push(m.validity.as_ref().map_or("same".into(), |(x, y)| format!("{x} → {y}")));
                row
            })
            .collect();
        (header, rows)
    }

    /// One line per configuration with per-image scores: `task: label — ΔPSNR-Y …`.
    pub fn image_lines(&self) -> Vec<String> {
        self.matched
            .iter()
            .filter_map(|m| m.images.as_ref().map(|i| format!("{}: {} — {}", m.task, m.label, i.describe())))
            .collect()
    }

    /// How many configurations changed notably.
    pub fn notable(&self) -> usize {
        self.matched.iter().filter(|m| m.notable()).count()
    }

    /// The Markdown for a pull request.
    pub fn markdown(&self) -> String {
        let (header, rows) = self.rows();
        let mut out = format!("## upbench: `{}` → `{}`\n\n", self.runs.0, self.runs.1);
        out.push_str(&self.summary());
        out.push_str("\n\n");
        for c in &self.caveats {
            out.push_str(&format!("- ⚠ {}\n", super::markdown::cell(c)));
        }
        if !self.caveats.is_empty() {
            out.push('\n');
        }
        out.push_str(&super::markdown::table(&header, &[false; 8], &rows));
        let images = self.image_lines();
        if !images.is_empty() {
            out.push_str("\n**Per image** (paired over the images both runs scored):\n\n");
            images.iter().for_each(|line| out.push_str(&format!("- {}\n", super::markdown::cell(line))));
        }
        for (title, list) in
            [("Only in the first run", &self.only_before), ("Only in the second run", &self.only_after)]
        {
            if !list.is_empty() {
                out.push_str(&format!("\n**{title}:** {}\n", list.join("; ")));
            }
        }
        out.push_str(&format!("\n_{}_\n", LEGEND));
        out
    }

    /// One line: how many configurations were compared and how many changed.
    pub fn summary(&self) -> String {
        format!(
            "{} configurations in both runs, {} changed beyond their confidence intervals or changed region or verdict; {} only in the first, {} only in the second.",
            self.matched.len(),
            self.notable(),
            self.only_before.len(),
            self.only_after.len()
        )
    }
}

/// What the marks mean.
pub const LEGEND: &str =
    "Each cell: first run → second run, [interval] and relative change; ◆ = the two confidence intervals are disjoint (a change the runs' own uncertainty does not explain). Per image: the mean over the images of second − first, with its Student-t interval; ◆ = that interval excludes 0.";

fn label_with_versions(m: &Matched) -> String {
    match &m.versions {
        Some((x, y)) => format!("{} ({x} → {y})", m.label),
        None => m.label.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::ConfidenceInterval;

    fn est(point: f64, lower: f64, upper: f64) -> Estimate {
        Estimate { point, ci: ConfidenceInterval { level: 0.95, lower, upper }, standard_error: 0.0, n: 8 }
    }

    #[test]
    fn only_disjoint_intervals_count_as_a_change() {
        let c = Change::new("U", est(1.0, 0.9, 1.1), est(1.15, 1.05, 1.25));
        assert!(!c.beyond_ci);
        assert!((c.relative - 0.15).abs() < 1e-12);
        let c = Change::new("U", est(1.0, 0.9, 1.1), est(1.3, 1.2, 1.4));
        assert!(c.beyond_ci);
        assert!(c.describe().ends_with("(+30.0 %) ◆"), "{}", c.describe());
        let inf = f64::INFINITY;
        let c = Change::new("P", est(inf, inf, inf), est(inf, inf, inf));
        assert!(!c.beyond_ci && c.relative == 0.0);
    }

    #[test]
    fn paired_image_changes_have_a_student_t_interval() {
        // differences 0.1, 0.2, 0.3: mean 0.2, s = 0.1, t(0.975; 2) = 4.302653
        let m = paired_mean(&[0.1, 0.2, 0.3], 0.95);
        let half = 4.302652729749464 * 0.1 / 3f64.sqrt();
        assert!((m.point - 0.2).abs() < 1e-12);
        assert!((m.ci.lower - (0.2 - half)).abs() < 1e-9 && (m.ci.upper - (0.2 + half)).abs() < 1e-9, "{m:?}");
        // one image has no interval; nothing moved is [0, 0]
        let one = paired_mean(&[0.4], 0.95);
        assert!(one.ci.lower == f64::NEG_INFINITY && one.ci.upper == f64::INFINITY);
        let none = paired_mean(&[0.0, 0.0], 0.95);
        assert_eq!((none.point, none.ci.lower, none.ci.upper), (0.0, 0.0, 0.0));
    }
}
