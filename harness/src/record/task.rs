//! What a task was, as a run records it: [`TaskSummary`] (read from every schema version) and
//! [`ImageTaskInfo`].

use serde::{Deserialize, Serialize};
use upbench_sdk::TaskKind;

use crate::estimate::fidelity::Evaluation;
use crate::estimate::Estimate;
use crate::task::images::{Colour, LrSource};
use crate::task::InherentUncertainty;

/// One task as run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "TaskSummaryRecord")]
pub struct TaskSummary {
    /// Name in the suite.
    pub name: String,
    /// Denoising, inpainting or super-resolution, exact or on images (written as its SDK name,
    /// e.g. `image-super-resolution`).
    #[serde(with = "task_kind")]
    pub kind: TaskKind,
    /// The prior, e.g. `ar1(ρ=0.8)`.
    pub prior: String,
    /// d.
    pub signal_dim: usize,
    /// m.
    pub measurement_dim: usize,
    /// σ.
    #[serde(with = "crate::float")]
    pub noise_std: f64,
    /// N(X|Y) per dimension and where it comes from (schema 3; version 2 had four fields).
    pub inherent: InherentUncertainty,
    /// The MMSE per dimension, E tr Cov(X|Y)/d (exact tasks: closed form).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::float::option")]
    pub mmse: Option<f64>,
    /// Mean prior variance, the "peak²" of the PSNR column (1 for images: the [0, 1] scale).
    #[serde(with = "crate::float")]
    pub signal_power: f64,
    /// For image tasks: the set, the degradation and the patch protocol, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageTaskInfo>,
    /// n.
    pub observations: usize,
    /// K.
    pub samples_per_observation: usize,
}

/// A [`TaskSummary`] as schema versions 2 and 3 write it: version 2 stated N(X|Y) in four
/// fields (a number that was NaN when unknown, its basis in words, a Monte-Carlo interval and
/// N(X_G|Y)), which are read into the one [`InherentUncertainty`].
#[derive(Deserialize)]
struct TaskSummaryRecord {
    name: String,
    #[serde(with = "task_kind")]
    kind: TaskKind,
    prior: String,
    signal_dim: usize,
    measurement_dim: usize,
    #[serde(with = "crate::float")]
    noise_std: f64,
    #[serde(default)]
    inherent: Option<InherentUncertainty>,
    #[serde(default, with = "crate::float::option")]
    mmse: Option<f64>,
    #[serde(default, with = "crate::float::option")]
    inherent_uncertainty: Option<f64>,
    #[serde(default)]
    inherent_basis: String,
    #[serde(default)]
    inherent_uncertainty_ci: Option<crate::estimate::ConfidenceInterval>,
    #[serde(default, with = "crate::float::option")]
    gaussian_inherent_uncertainty: Option<f64>,
    #[serde(with = "crate::float")]
    signal_power: f64,
    #[serde(default)]
    image: Option<ImageTaskInfo>,
    observations: usize,
    samples_per_observation: usize,
}

impl From<TaskSummaryRecord> for TaskSummary {
    fn from(r: TaskSummaryRecord) -> TaskSummary {
        let value = r.inherent_uncertainty.filter(|v| !v.is_nan());
        let inherent = r.inherent.unwrap_or_else(|| match (value, &r.image, r.inherent_uncertainty_ci) {
            (None, _, _) => InherentUncertainty::Unknown { reason: r.inherent_basis },
            (Some(value), Some(_), _) => InherentUncertainty::Estimated { value, method: r.inherent_basis },
            (Some(value), None, None) => InherentUncertainty::Exact { value },
            (Some(value), None, Some(ci)) => InherentUncertainty::MonteCarlo {
                estimate: Estimate { point: value, ci, standard_error: f64::NAN, n: r.observations },
                gaussian: r.gaussian_inherent_uncertainty.unwrap_or(value),
            },
        });
        let image = r.image.map(|image| ImageTaskInfo { task: legacy_image_task(&r.name, image.task), ..image });
        TaskSummary {
            name: r.name,
            kind: r.kind,
            prior: r.prior,
            signal_dim: r.signal_dim,
            measurement_dim: r.measurement_dim,
            noise_std: r.noise_std,
            inherent,
            mmse: r.mmse,
            signal_power: r.signal_power,
            image,
            observations: r.observations,
            samples_per_observation: r.samples_per_observation,
        }
    }
}

/// The suite task of a patch side written before [`ImageTaskInfo::task`] existed: its name less
/// the `/p<patch>` those versions appended. The only place a name is taken apart, and only for
/// files that lack the field.
fn legacy_image_task(name: &str, task: String) -> String {
    if !task.is_empty() {
        return task;
    }
    name.rsplit_once("/p").map_or(name, |(base, _)| base).to_string()
}

/// A [`TaskKind`] as its SDK name (`denoising`, `image-super-resolution`, …): the words every
/// schema version wrote. An unknown name is an error naming it.
mod task_kind {
    use serde::{Deserialize, Deserializer, Serializer};
    use upbench_sdk::TaskKind;

    pub fn serialize<S: Serializer>(kind: &TaskKind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TaskKind, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl TaskSummary {
    /// The suite's task this summary belongs to: its own name for an exact task, the image task
    /// for a patch side. Failures name this.
    pub fn suite_task(&self) -> &str {
        self.image.as_ref().map_or(&self.name, |image| &image.task)
    }
}

/// What an image task is, for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageTaskInfo {
    /// The suite's image task this patch side belongs to (its failures name it; the summary's
    /// own name is `<task>/p<patch>`). Absent from results of upbench ≤ 0.3, where reading
    /// supplies it ([`TaskSummary`]'s reader).
    #[serde(default)]
    pub task: String,
    /// The registered set.
    pub dataset: String,
    /// Images used.
    pub images: usize,
    /// RGB, or grey (`rgb`, `grey`).
    pub colour: Colour,
    /// e.g. `bicubic ×4`.
    pub degradation: String,
    /// p, the patch side (d = C·p²).
    pub patch: usize,
    /// Pixels left out at each border (SR scale) for patches, PSNR and SSIM.
    pub border: usize,
    /// The PSNR-Y/SSIM convention. Absent from results written before issue [14], which used
    /// [`Evaluation::GreyValues`] (float Y, a one-channel file on its grey values).
    #[serde(default = "Evaluation::legacy")]
    pub evaluation: Evaluation,
    /// Where the measurements came from. Absent from results written before issue [14], whose
    /// tasks all degraded their own ([`LrSource::Degrade`]).
    #[serde(default = "LrSource::legacy")]
    pub lr: LrSource,
    /// The per-image quality metrics: which, which skipped and why, and the ground truth's
    /// scores. Absent from results written before issue [13].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::record::TaskQuality>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_task_without_its_convention_reads_as_what_old_files_used() {
        let old = r#"{"dataset":"set14","images":14,"colour":"rgb","degradation":"bicubic ×4","patch":4,"border":4}"#;
        let info: ImageTaskInfo = serde_json::from_str(old).unwrap();
        assert_eq!((info.evaluation, info.lr), (Evaluation::GreyValues, LrSource::Degrade));
        let new = ImageTaskInfo { evaluation: Evaluation::MatlabUint8, lr: LrSource::Stored, ..info };
        let json = serde_json::to_value(&new).unwrap();
        assert_eq!((json["evaluation"].as_str(), json["lr"].as_str()), (Some("matlab-uint8"), Some("stored")));
        assert_eq!(serde_json::from_value::<ImageTaskInfo>(json).unwrap(), new);
    }
}
