//! Image tasks through the pipeline: degrade the set once ([`PreparedImage::new`]), run a
//! model on every image, estimate per image and patch side, and judge each patch side as its own
//! task (`docs/protocol.md`).

use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use tch::Tensor;

use super::sample_grid::{self, GridInput};
use super::task::{secs_since, CellError, Measured, ModelRun, Task, TaskInput};
use crate::draw::file_stem;
use crate::draw::grid;
use crate::estimate::{fidelity, images, mean_of, Estimator, ObservationStats, SubsampleStats};
use crate::judge::Reason;
use crate::record::{ImageScore, ImageTaskInfo, TaskSummary};
use crate::seed::derive_seed;
use crate::setup::RunPlan;
use crate::task::images::{
    Colour, ImageCase, ImageTask, ImageTaskConfig, InherentEstimate, StationaryGaussianEstimate,
};
use crate::task::{InherentUncertainty, TaskError};

/// What the report says about N(X|Y) when the task has no estimate.
const NO_INHERENT: &str = "unknown (no estimate for this task), so no bound is drawn";

/// An image task with its degraded images.
pub(crate) struct PreparedImage {
    task: ImageTask,
}

impl PreparedImage {
    /// Reads and degrades the set (seeded: every process that prepares it gets the same
    /// measurements).
    pub(crate) fn new(plan: &RunPlan, config: &ImageTaskConfig) -> Result<PreparedImage, TaskError> {
        let seed = derive_seed(plan.suite.file.seed, &["image-task", &config.name]);
        Ok(PreparedImage { task: ImageTask::build(config, &plan.data_dir, seed)? })
    }
}

impl Task for PreparedImage {
    /// One summary per patch side, with N(X|Y) estimated from the set's training images; when
    /// that estimate fails the task still runs without a bound and the reason comes back.
    fn summaries(&self, plan: &RunPlan) -> Result<(Vec<TaskSummary>, Option<TaskError>), TaskError> {
        let task = &self.task;
        let config = &task.config;
        let (estimate, problem) =
            match StationaryGaussianEstimate::new(config, task.channels(), &task.cases, &plan.data_dir, plan.device) {
                Ok(e) => (e, None),
                Err(e) => (None, Some(e)),
            };
        let summaries =
            config.patches.iter().map(|&p| summary(task, p, estimate.as_ref().map(|e| e.for_patch(p)))).collect();
        Ok((summaries, problem))
    }

    fn spec(&self, device: upbench_sdk::Device) -> upbench_sdk::TaskSpec {
        self.task.spec(device)
    }

    fn samples_per_observation(&self) -> usize {
        self.task.config.samples_per_image
    }

    fn measure(&self, run: &mut ModelRun<'_>, summaries: &[TaskSummary]) -> Result<Measured, CellError> {
        measure(&self.task, run, summaries)
    }

    /// The first image.
    fn timing_batch(&self, device: tch::Device) -> Result<(Tensor, Vec<i64>), CellError> {
        let first = self.task.cases.first().ok_or(TaskError::Invalid("the task has no images".into()))?;
        Ok((first.measurement.unsqueeze(0).to_device(device).contiguous(), first.truth.size()))
    }

    /// One input per image, `[1, C(+1), h, w]`.
    fn inputs(&self) -> Vec<TaskInput> {
        let cases = self.task.cases.iter().enumerate();
        cases
            .map(|(i, case)| TaskInput {
                name: case.name.clone(),
                measurements: case.measurement.unsqueeze(0),
                observations: i..i + 1,
                sample_shape: case.truth.size(),
            })
            .collect()
    }
}

fn summary(task: &ImageTask, patch: usize, inherent: Option<InherentEstimate>) -> TaskSummary {
    let c = &task.config;
    let channels = task.channels();
    TaskSummary {
        name: format!("{}/p{patch}", c.name),
        kind: c.degradation.kind().to_string(),
        prior: format!("natural images ({})", c.dataset),
        signal_dim: channels * patch * patch,
        measurement_dim: 0,
        noise_std: c.degradation.noise_std() / 255.0,
        mmse: None,
        inherent: match inherent {
            Some(e) => InherentUncertainty::Estimated { value: e.value, method: e.label },
            None => InherentUncertainty::Unknown { reason: NO_INHERENT.into() },
        },
        signal_power: 1.0,
        image: Some(ImageTaskInfo {
            task: c.name.clone(),
            dataset: c.dataset.clone(),
            images: task.cases.len(),
            colour: match c.colour {
                Colour::Rgb => "rgb".into(),
                Colour::Grey => "grey".into(),
            },
            degradation: c.degradation.label(),
            patch,
            border: border(c),
            evaluation: c.evaluation,
            lr: task.lr,
        }),
        observations: task.cases.len(),
        samples_per_observation: c.samples_per_image,
    }
}

/// Pixels left out at each border: the SR scale (the literature's PSNR crop), else none.
fn border(config: &ImageTaskConfig) -> usize {
    match config.degradation.scale() {
        1 => 0,
        s => s,
    }
}

/// Per-image statistics of one patch side, gathered over the images.
#[derive(Default)]
struct Gathered {
    /// The images estimated, in order (an image left out of this side is not here).
    images: Vec<String>,
    log_uncertainty: Vec<f64>,
    perception: Vec<f64>,
    mse: Vec<f64>,
    min_points: Option<i64>,
    min_positions: Option<i64>,
    shrinkage_used: bool,
    ties: usize,
    subsamples: Vec<Vec<SubsampleStats>>,
}

impl Gathered {
    fn push(&mut self, image: &str, s: images::ImageStats) {
        self.images.push(image.to_string());
        self.log_uncertainty.push(s.log_uncertainty);
        self.perception.push(s.perception);
        self.mse.push(s.mse);
        self.min_points = Some(self.min_points.map_or(s.points, |m| m.min(s.points)));
        self.min_positions = Some(self.min_positions.map_or(s.positions, |m| m.min(s.positions)));
        self.shrinkage_used |= s.shrinkage_used;
        self.ties += s.ties;
        self.subsamples.push(s.subsamples);
    }

    /// [`Reason::TooFewPatches`] when some image's patch laws were fitted on fewer grid
    /// positions than the estimator trusts.
    fn too_few_patches(&self, estimator: &dyn Estimator, dim: i64) -> Option<Reason> {
        let patches = self.min_positions?;
        (patches < estimator.min_positions_per_image(dim)?)
            .then_some(Reason::TooFewPatches { patches, dim: dim as usize })
    }

    /// Each scored image's scores on this side: `scored` holds every image's name, PSNR-Y and
    /// SSIM; U and P where this side estimated it.
    fn image_scores(&self, scored: &[(String, f64, f64)]) -> Vec<ImageScore> {
        scored
            .iter()
            .map(|(image, psnr_y_db, ssim)| {
                let at = self.images.iter().position(|i| i == image);
                ImageScore {
                    image: image.clone(),
                    psnr_y_db: *psnr_y_db,
                    ssim: *ssim,
                    uncertainty: at.map(|i| self.log_uncertainty[i].exp()),
                    perception_nats: at.map(|i| self.perception[i]),
                }
            })
            .collect()
    }

    /// As the judge wants them; subsamples are kept only when every image has all of them.
    fn into_stats(self, dim: i64) -> ObservationStats {
        let levels = self.subsamples.iter().map(Vec::len).min().unwrap_or(0);
        let subsamples = (0..levels)
            .map(|level| SubsampleStats {
                samples_per_observation: self
                    .subsamples
                    .iter()
                    .map(|s| s[level].samples_per_observation)
                    .min()
                    .unwrap_or(0),
                log_uncertainty: self.subsamples.iter().flat_map(|s| s[level].log_uncertainty.clone()).collect(),
                perception: self.subsamples.iter().flat_map(|s| s[level].perception.clone()).collect(),
            })
            .collect();
        ObservationStats {
            log_uncertainty: self.log_uncertainty,
            perception: self.perception,
            mse: self.mse,
            shrinkage_used: self.shrinkage_used,
            ties: self.ties,
            subsamples,
            samples_per_observation: self.min_points.unwrap_or(0),
            dim,
        }
    }
}

/// Consecutive images of equal size, at most `size` at a time: one `restore` call each.
fn batches(cases: &[ImageCase], size: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=cases.len() {
        let full = i - start == size.max(1);
        if i == cases.len() || full || cases[i].measurement.size() != cases[start].measurement.size() {
            out.push(start..i);
            start = i;
        }
    }
    out
}

/// Runs the model on every image (a batch of equal-sized images per call) and estimates each
/// image on each patch side; an image that cannot be estimated on a side costs only itself.
fn measure(task: &ImageTask, run: &mut ModelRun<'_>, summaries: &[TaskSummary]) -> Result<Measured, CellError> {
    let plan = run.plan;
    let file = &plan.suite.file;
    let c = &task.config;
    let border = border(c) as i64;
    let mut gathered: Vec<Gathered> = c.patches.iter().map(|_| Gathered::default()).collect();
    // every image's name, PSNR-Y and SSIM, in order
    let mut scored: Vec<(String, f64, f64)> = Vec::new();
    let mut measured = Measured::default();
    let mut case_index = 0;
    for observations in batches(&task.cases, c.batch_images) {
        let batch = &task.cases[observations.clone()];
        let names: Vec<&str> = batch.iter().map(|case| case.name.as_str()).collect();
        let measurements: Vec<Tensor> = batch.iter().map(|case| case.measurement.shallow_clone()).collect();
        let measurements = Tensor::stack(&measurements, 0).to_device(plan.device).contiguous();
        let restored = run
            .restore(&measurements, observations, &[&c.name, run.label, names[0]], &batch[0].truth.size())
            .map_err(|source| CellError::Run { on: Some(names.join(", ")), source })?;
        for (i, case) in batch.iter().enumerate() {
            let estimating = Instant::now();
            let restored = restored.get(i as i64);
            let truth = case.truth.to_device(plan.device);
            let hidden = case.hidden.as_ref().map(|h| h.to_device(plan.device));
            let region = images::Region { border, hidden: hidden.as_ref() };
            for (g, &p) in gathered.iter_mut().zip(&c.patches) {
                let estimate_seed =
                    derive_seed(file.seed, &["estimate", &c.name, run.label, &case.name, &p.to_string()]);
                let max_points = c.max_points_per_image.map(|m| m as i64);
                match images::image_stats(
                    run.estimator,
                    &restored,
                    &truth,
                    p as i64,
                    &region,
                    max_points,
                    estimate_seed,
                ) {
                    Ok(stats) => g.push(&case.name, stats),
                    Err(source) => {
                        measured.notes.push(CellError::ImageLeftOut { image: case.name.clone(), patch: p, source })
                    }
                }
            }
            let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
            scored.push((
                case.name.clone(),
                mean(fidelity::psnr_y(&restored, &truth, border, case.scored_on)),
                mean(fidelity::ssim_y(&restored, &truth, border, case.scored_on)),
            ));
            run.stages.estimate_secs += secs_since(estimating);
            let drawing = Instant::now();
            if let Some(dir) = plan.figure_dir.as_deref().filter(|_| case_index < c.grid_images) {
                let input = GridInput {
                    truth: &truth,
                    measurement: &case.measurement,
                    hidden: hidden.as_ref(),
                    samples: &restored,
                    scale: c.degradation.scale() as i64,
                };
                match write_grid(dir, &c.name, run.label, &case.name, &input) {
                    Ok(path) => measured.sample_grids.push(path),
                    Err(message) => measured.notes.push(CellError::Grid { image: case.name.clone(), message }),
                }
            }
            run.stages.grids_secs += secs_since(drawing);
            case_index += 1;
        }
    }
    if let Some((_, summary)) = gathered.iter().zip(summaries).find(|(g, _)| g.log_uncertainty.is_empty()) {
        let causes: Vec<String> = measured
            .notes
            .iter()
            .filter(|e| matches!(e, CellError::ImageLeftOut { .. }))
            .map(ToString::to_string)
            .collect();
        return Err(CellError::NothingEstimated { task: summary.name.clone(), causes: causes.join("; ") });
    }
    let intervals = |what: &str| file.statistics.intervals(derive_seed(file.seed, &[what, &c.name, run.label]));
    let psnr_y: Vec<f64> = scored.iter().map(|s| s.1).collect();
    let ssim: Vec<f64> = scored.iter().map(|s| s.2).collect();
    let [psnr_y] = intervals("psnr-y").estimate(psnr_y.len(), |idx| [mean_of(&psnr_y, idx)]);
    let [ssim] = intervals("ssim").estimate(ssim.len(), |idx| [mean_of(&ssim, idx)]);
    measured.image_scores = Some((psnr_y, ssim));
    measured.images = gathered.iter().map(|g| g.image_scores(&scored)).collect();
    measured.stats = gathered
        .into_iter()
        .zip(summaries)
        .map(|(g, summary)| {
            let dim = summary.signal_dim as i64;
            let too_few_patches = g.too_few_patches(run.estimator, dim);
            (g.into_stats(dim), too_few_patches)
        })
        .collect();
    Ok(measured)
}

/// Draws one image's grid into `samples/<task>/<configuration>-<image>.png` under the run
/// directory; returns that path, relative.
fn write_grid(run_dir: &Path, task: &str, label: &str, image: &str, input: &GridInput<'_>) -> Result<String, String> {
    let image = Path::new(image).with_extension("");
    let relative =
        format!("samples/{}/{}-{}.png", file_stem(task), file_stem(label), file_stem(&image.to_string_lossy()));
    let path = run_dir.join(&relative);
    let png = grid::render(&sample_grid::panels(input))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(relative)
}
