//! Two runs side by side: for every configuration measured in both, how U, P, U/bound and MSE
//! moved and whether the move exceeds the confidence intervals; what appeared, vanished, or
//! changed region or verdict; and what makes the runs hard to compare (suite, seed, device, …).

use serde::Serialize;

use super::scores::{sig, with_ci};
use super::{ConfigResult, RunReport};
use crate::estimate::Estimate;

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
    #[serde(with = "super::float")]
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
    pub region: Option<(String, String)>,
    /// Validity before and after, when it changed between valid and invalid.
    pub validity: Option<(String, String)>,
}

impl Matched {
    /// Whether anything moved beyond the intervals or changed region or validity.
    pub fn notable(&self) -> bool {
        self.changes.iter().any(|c| c.beyond_ci) || self.region.is_some() || self.validity.is_some()
    }
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
            region: differ(jb.region.to_string(), ja.region.to_string()),
            validity: differ(validity_word(before), validity_word(after)),
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
    "Each cell: first run → second run, [interval] and relative change; ◆ = the two confidence intervals are disjoint (a change the runs' own uncertainty does not explain).";

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
}
