//! The seed paper's Figure 5 for one image task (issue [13]): U against each perception measure
//! (the theory's P, NIQE, BRISQUE, ST-LPIPS, user metrics) and PSNR-Y, SSIM and MSE against U,
//! one point per configuration with both intervals.
//!
//! [`MeasurePlot::of`] computes what a figure shows from the [`RunReport`] alone (the points, the
//! sweeps, Spearman's ρ, the ground truth's score, the empty corner); the drawing in
//! `figure5_draw.rs` only renders it, and the integration tests check it against `results.json`.

use crate::estimate::quality::{Better, Reference};
use crate::estimate::Estimate;
use crate::record::{mean_of, ConfigResult, RunReport, TaskSummary};

use super::rank::Spearman;

/// What a figure plots against U.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// The theory's perception index P (nats).
    Perception,
    /// A per-image quality metric's mean over the images, by its name in the run's records.
    Quality(String),
    /// PSNR of the luma, dB.
    PsnrY,
    /// SSIM of the luma.
    Ssim,
    /// Per-dimension MSE.
    Mse,
}

impl Measure {
    /// Every measure of an image task, in the page's order: P, the quality metrics computed
    /// (in column order), PSNR-Y, SSIM, MSE.
    pub fn all(task: &TaskSummary) -> Vec<Measure> {
        let metrics = task.image.as_ref().and_then(|i| i.quality.as_ref()).map_or(&[][..], |q| q.metrics.as_slice());
        let mut out = vec![Measure::Perception];
        out.extend(metrics.iter().map(|m| Measure::Quality(m.name.clone())));
        out.extend([Measure::PsnrY, Measure::Ssim, Measure::Mse]);
        out
    }

    /// Perception measures go along x with U along y, as the U–P plane; distortion measures
    /// along y with U along x, as the distortion plot.
    pub fn is_perception(&self) -> bool {
        matches!(self, Measure::Perception | Measure::Quality(_))
    }

    /// The measure's part of a file name: `p`, `niqe`, `psnr-y`.
    pub fn slug(&self) -> String {
        match self {
            Measure::Perception => "p".into(),
            Measure::Quality(name) => crate::draw::file_stem(name),
            Measure::PsnrY => "psnr-y".into(),
            Measure::Ssim => "ssim".into(),
            Measure::Mse => "mse".into(),
        }
    }

    /// Its axis title.
    pub fn title(&self) -> String {
        match self {
            Measure::Perception => "perception index P (nats)".into(),
            Measure::Quality(name) => match name.as_str() {
                "niqe" => "NIQE".into(),
                "brisque" => "BRISQUE".into(),
                "stlpips-alex" => "ST-LPIPS (AlexNet)".into(),
                other => other.to_string(),
            },
            Measure::PsnrY => "PSNR-Y (dB)".into(),
            Measure::Ssim => "SSIM".into(),
            Measure::Mse => "MSE (per dimension)".into(),
        }
    }

    /// A configuration's value of this measure, where recorded.
    pub fn of<'a>(&self, r: &'a ConfigResult) -> Option<&'a Estimate> {
        match self {
            Measure::Perception => Some(&r.judgement.perception_nats),
            Measure::Quality(name) => mean_of(&r.quality, name).map(|q| &q.estimate),
            Measure::PsnrY => r.psnr_y_db.as_ref(),
            Measure::Ssim => r.ssim.as_ref(),
            Measure::Mse => Some(&r.judgement.mse),
        }
    }

    /// Which way is better: a quality metric's own direction (from the task's records).
    fn better(&self, task: &TaskSummary) -> Better {
        match self {
            Measure::Perception | Measure::Mse => Better::Lower,
            Measure::PsnrY | Measure::Ssim => Better::Higher,
            Measure::Quality(name) => {
                task.image.as_ref().and_then(|i| i.quality.as_ref()?.metric(name)).map_or(Better::Lower, |m| m.better)
            }
        }
    }
}

/// One configuration on a figure.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurePoint {
    /// Its label in the tables, e.g. `gaussian-prior(gamma=0.5, training=dead-leaves)`.
    pub label: String,
    /// Its plugin (the colour family).
    pub plugin: String,
    /// U per dimension.
    pub uncertainty: Estimate,
    /// The measure.
    pub measure: Estimate,
    /// Whether the verdict trusts its numbers (hollow marker when not).
    pub valid: bool,
}

/// What one figure shows, computed from the report alone.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurePlot {
    /// The task (one patch side of an image task).
    pub task: String,
    /// The measure against U.
    pub measure: Measure,
    /// Which way the measure is better.
    pub better: Better,
    /// The configurations with finite U and measure, in the report's order.
    pub points: Vec<MeasurePoint>,
    /// The configurations left out, each with why.
    pub left_out: Vec<String>,
    /// Each sweep (one plugin's configurations that differ in one numeric parameter) as
    /// indices into `points`, ordered by that parameter; with the parameter's name.
    pub sweeps: Vec<(String, Vec<usize>)>,
    /// Spearman's ρ of (measure, U) over `points`.
    pub spearman: Option<Spearman>,
    /// The ground truth's mean score, for no-reference metrics.
    pub reference: Option<f64>,
    /// Perception measures: the configurations no other is at least as good as in both U and the
    /// measure (the Pareto front), best measure first; the empty corner is the region below
    /// and beyond their staircase. Shaded only with ≥ 3 points and ≥ 2 on the front.
    pub front: Vec<usize>,
}

/// Why a figure is not drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The task.
    pub task: String,
    /// The measure.
    pub measure: Measure,
    /// Why.
    pub reason: String,
}

impl MeasurePlot {
    /// The figure of `measure` on the task named `task`; `Err` says why there is none.
    pub fn of(report: &RunReport, task: &str, measure: &Measure) -> Result<MeasurePlot, Skipped> {
        let skip = |reason: &str| Skipped { task: task.to_string(), measure: measure.clone(), reason: reason.into() };
        let summary = report.tasks.iter().find(|t| t.name == task).ok_or_else(|| skip("no such task"))?;
        let results: Vec<&ConfigResult> = report.results.iter().filter(|r| r.task == task).collect();
        if results.is_empty() {
            return Err(skip("no configuration has results"));
        }
        let (mut points, mut left_out) = (Vec::new(), Vec::new());
        let mut params = Vec::new();
        for r in &results {
            let u = &r.judgement.uncertainty;
            match measure.of(r) {
                Some(m) if m.point.is_finite() && u.point.is_finite() && u.point > 0.0 => {
                    let valid = r.judgement.validity.is_valid();
                    let (label, plugin) = (r.label.clone(), r.plugin.clone());
                    points.push(MeasurePoint { label, plugin, uncertainty: *u, measure: *m, valid });
                    params.push(r.params.clone());
                }
                Some(m) => left_out.push(format!("{} (U = {}, value {})", r.label, u.point, m.point)),
                None => left_out.push(format!("{} (not recorded)", r.label)),
            }
        }
        if points.is_empty() {
            return Err(skip("no configuration has a finite value of it and a positive U"));
        }
        let level = points[0].uncertainty.ci.level;
        let pairs: Vec<(f64, f64)> = points.iter().map(|p| (p.measure.point, p.uncertainty.point)).collect();
        let better = measure.better(summary);
        let front = if measure.is_perception() { pareto_front(&pairs, better) } else { Vec::new() };
        Ok(MeasurePlot {
            task: task.to_string(),
            measure: measure.clone(),
            better,
            sweeps: sweeps(&points, &params),
            spearman: Spearman::of(&pairs, level),
            reference: ground_truth_mean(summary, measure),
            front,
            points,
            left_out,
        })
    }

    /// Whether the empty corner is shaded: at least three configurations, and a tradeoff on
    /// their front (the least uncertain is not also the best scored).
    pub fn shows_empty_corner(&self) -> bool {
        self.points.len() >= 3 && self.front.len() >= 2
    }
}

/// The ground truth's mean of a no-reference metric.
fn ground_truth_mean(task: &TaskSummary, measure: &Measure) -> Option<f64> {
    let Measure::Quality(name) = measure else { return None };
    let quality = task.image.as_ref()?.quality.as_ref()?;
    if quality.metric(name)?.reference != Reference::None {
        return None;
    }
    mean_of(&quality.ground_truth_means, name).map(|m| m.estimate.point).filter(|v| v.is_finite())
}

/// The points (measure, U) that no other point matches or beats in both (U lower, the measure
/// in its better direction), best measure first. Of equal points the first is kept.
pub fn pareto_front(pairs: &[(f64, f64)], better: Better) -> Vec<usize> {
    let score = |i: usize| if better == Better::Lower { pairs[i].0 } else { -pairs[i].0 };
    let dominated = |i: usize| {
        (0..pairs.len()).any(|j| {
            let at_least = score(j) <= score(i) && pairs[j].1 <= pairs[i].1;
            let strictly = score(j) < score(i) || pairs[j].1 < pairs[i].1;
            j != i && at_least && (strictly || j < i)
        })
    };
    let mut front: Vec<usize> = (0..pairs.len()).filter(|&i| !dominated(i)).collect();
    front.sort_by(|&a, &b| score(a).total_cmp(&score(b)));
    front
}

/// The sweeps among `points` (`params`: each point's parameters): per plugin, the first
/// parameter that varies among its configurations and reads as a number everywhere; the
/// configurations equal in every other parameter form a sweep, ordered by it.
fn sweeps(points: &[MeasurePoint], params: &[Vec<(String, String)>]) -> Vec<(String, Vec<usize>)> {
    let mut plugins: Vec<&str> = Vec::new();
    for p in points {
        if !plugins.contains(&p.plugin.as_str()) {
            plugins.push(&p.plugin);
        }
    }
    let mut out = Vec::new();
    for plugin in plugins {
        let members: Vec<usize> = (0..points.len()).filter(|&i| points[i].plugin == plugin).collect();
        let value = |i: usize, k: usize| params[i].get(k).map(|p| p.1.as_str());
        let first = members[0];
        let numeric = (0..params[first].len()).find(|&k| {
            members.iter().any(|&i| value(i, k) != value(first, k))
                && members.iter().all(|&i| value(i, k).and_then(|v| v.parse::<f64>().ok()).is_some())
        });
        let Some(k) = numeric else { continue };
        let others = |i: usize| -> Vec<Option<&str>> {
            (0..params[i].len().max(params[first].len())).filter(|&j| j != k).map(|j| value(i, j)).collect()
        };
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in &members {
            match groups.iter_mut().find(|g| others(g[0]) == others(i)) {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        let number = |i: usize| value(i, k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
        for mut g in groups.into_iter().filter(|g| g.len() >= 2) {
            g.sort_by(|&a, &b| number(a).total_cmp(&number(b)));
            out.push((params[first][k].0.clone(), g));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_what_nothing_beats_in_both() {
        // (score, U): 0 and 2 trade off, 1 is beaten by 0 in both, 3 repeats 2
        let pairs = [(1.0, 5.0), (2.0, 6.0), (4.0, 1.0), (4.0, 1.0)];
        assert_eq!(pareto_front(&pairs, Better::Lower), [0, 2]);
        // higher is better: 2 now beats everything on the score and on U
        assert_eq!(pareto_front(&pairs, Better::Higher), [2]);
    }

    fn point(plugin: &str) -> MeasurePoint {
        let e = Estimate::exact(1.0, 0.95, 2);
        MeasurePoint { label: plugin.into(), plugin: plugin.into(), uncertainty: e, measure: e, valid: true }
    }

    #[test]
    fn a_sweep_is_ordered_by_its_numeric_parameter() {
        let points = [point("g"), point("g"), point("b"), point("g"), point("g")];
        let p = |gamma: &str, training: &str| {
            vec![("gamma".to_string(), gamma.to_string()), ("training".to_string(), training.to_string())]
        };
        let params = [p("1.0", "a"), p("0.25", "a"), vec![], p("0.5", "a"), p("0.5", "b")];
        // training varies too but is not a number: the sweeps run along gamma, one per training
        assert_eq!(sweeps(&points, &params), [("gamma".to_string(), vec![1, 3, 0])]);
    }
}
