//! Per-image quality metrics in a run's records (issue [13]): each image's scores
//! ([`QualityScore`]), a configuration's or the ground truth's mean over the images
//! ([`QualityMean`]), and what an image task measured with them ([`TaskQuality`]: the metrics
//! computed, those skipped and why, and the ground truth's own scores).

use serde::{Deserialize, Serialize};

use crate::estimate::quality::{Better, Reference};
use crate::estimate::Estimate;

/// One metric's score of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityScore {
    /// The metric's name (`niqe`, `brisque`, `stlpips-alex`).
    pub metric: String,
    /// Its score.
    #[serde(with = "crate::float")]
    pub value: f64,
}

/// One metric's mean over the images scored, with its interval (the run's interval method over
/// images, as PSNR-Y's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityMean {
    /// The metric's name.
    pub metric: String,
    /// Which way is better.
    pub better: Better,
    /// The mean over the images it scored; `n` is their count.
    pub estimate: Estimate,
}

/// A metric an image task computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityMetricInfo {
    /// Its name.
    pub name: String,
    /// Whether it needs the ground truth.
    pub reference: Reference,
    /// Which way is better.
    pub better: Better,
    /// Its convention and parameter file (`QualityMeasure::convention`).
    pub convention: String,
}

/// A metric an image task does not compute, and why (not chosen in `[metrics]`, its parameter
/// file missing or unreadable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedMetric {
    /// Its name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The no-reference scores of one ground-truth image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruthScores {
    /// The image's file name in the set.
    pub image: String,
    /// Its scores, one per no-reference metric that could score it.
    pub scores: Vec<QualityScore>,
}

/// The quality metrics of an image task: which it computes on each configuration's outputs (on
/// [`TaskQuality::sample`]), which it skipped and why, and the no-reference ones on the ground
/// truth (computed once per task, the tables' *ground truth* row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskQuality {
    /// The metrics computed, in column order.
    #[serde(default)]
    pub metrics: Vec<QualityMetricInfo>,
    /// The metrics not computed, and why.
    #[serde(default)]
    pub skipped: Vec<SkippedMetric>,
    /// Which output is scored: `first sample` (each image's first sample; the only one of a
    /// deterministic model).
    #[serde(default)]
    pub sample: String,
    /// The no-reference metrics on each ground-truth image, in the set's order.
    #[serde(default)]
    pub ground_truth: Vec<GroundTruthScores>,
    /// Their means over the images, with intervals.
    #[serde(default)]
    pub ground_truth_means: Vec<QualityMean>,
    /// Ground-truth images a metric could not score, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TaskQuality {
    /// The computed metric named `name`.
    pub fn metric(&self, name: &str) -> Option<&QualityMetricInfo> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// The value of `metric` among `scores`.
pub fn score_of(scores: &[QualityScore], metric: &str) -> Option<f64> {
    scores.iter().find(|s| s.metric == metric).map(|s| s.value)
}

/// The mean of `metric` among `means`.
pub fn mean_of<'a>(means: &'a [QualityMean], metric: &str) -> Option<&'a QualityMean> {
    means.iter().find(|m| m.metric == metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_quality_round_trips_and_reads_when_absent() {
        let q = TaskQuality {
            metrics: vec![QualityMetricInfo {
                name: "niqe".into(),
                reference: Reference::None,
                better: Better::Lower,
                convention: "c".into(),
            }],
            skipped: vec![SkippedMetric { name: "stlpips-alex".into(), reason: "no file".into() }],
            sample: "first sample".into(),
            ground_truth: vec![GroundTruthScores {
                image: "a.png".into(),
                scores: vec![QualityScore { metric: "niqe".into(), value: f64::NAN }],
            }],
            ground_truth_means: Vec::new(),
            notes: Vec::new(),
        };
        let json = serde_json::to_string(&q).unwrap();
        assert!(json.contains("\"value\":\"NaN\"") && json.contains("\"reference\":\"none\""), "{json}");
        let back: TaskQuality = serde_json::from_str(&json).unwrap();
        assert_eq!(back.metrics, q.metrics);
        assert!(back.ground_truth[0].scores[0].value.is_nan());
        assert_eq!(serde_json::from_str::<TaskQuality>("{}").unwrap(), TaskQuality::default());
        assert_eq!(score_of(&back.ground_truth[0].scores, "brisque"), None);
    }
}
