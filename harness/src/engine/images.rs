//! Image tasks through the pipeline: degrade the set once ([`PreparedImage::new`]), run a
//! model on every image, estimate per image and patch side, and judge each patch side as its own
//! task (`docs/protocol.md`).

use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use tch::Tensor;

use super::quality::{ImageMetrics, OutputScorer, ScoreJob};
use super::sample_grid::{self, GridInput};
use super::task::{secs_since, CellError, Measured, ModelRun, Task, TaskInput};
use crate::draw::file_stem;
use crate::draw::grid;
use crate::estimate::calibration::CalibrationStats;
use crate::estimate::{
    fidelity, images, mean_of, Estimate, EstimateError, Estimator, ObservationStats, SubsampleStats,
};
use crate::judge::Reason;
use crate::record::{ImageScore, ImageTaskInfo, QualityScore, TaskSummary};
use crate::seed::derive_seed;
use crate::setup::RunPlan;
use crate::task::images::{ImageCase, ImageTask, ImageTaskConfig, InherentEstimate, StationaryGaussianEstimate};
use crate::task::{InherentUncertainty, TaskError};

/// What the report says about N(X|Y) when the task has no estimate.
const NO_INHERENT: &str = "unknown (no estimate for this task), so no bound is drawn";

/// An image task with its degraded images.
pub(crate) struct PreparedImage {
    task: ImageTask,
    /// Its quality metrics, loaded on first use and kept for the cells that follow.
    metrics: ImageMetrics,
}

impl PreparedImage {
    /// Reads and degrades the set (seeded: every process that prepares it gets the same
    /// measurements).
    pub(crate) fn new(plan: &RunPlan, config: &ImageTaskConfig) -> Result<PreparedImage, TaskError> {
        let seed = derive_seed(plan.suite.file.seed, &["image-task", &config.name]);
        Ok(PreparedImage { task: ImageTask::build(config, &plan.data_dir, seed)?, metrics: ImageMetrics::new() })
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
        let mut summaries: Vec<TaskSummary> =
            config.patches.iter().map(|&p| summary(task, p, estimate.as_ref().map(|e| e.for_patch(p)))).collect();
        let quality = self.metrics.ground_truth(plan, &config.name, border(config), &task.cases);
        for image in summaries.iter_mut().filter_map(|s| s.image.as_mut()) {
            image.quality = Some(quality.clone());
        }
        Ok((summaries, problem))
    }

    fn spec(&self, device: upbench_sdk::Device) -> upbench_sdk::TaskSpec {
        self.task.spec(device)
    }

    fn samples_per_observation(&self) -> usize {
        self.task.config.samples_per_image
    }

    fn measure(&self, run: &mut ModelRun<'_>, summaries: &[TaskSummary]) -> Result<Measured, CellError> {
        measure(&self.task, &self.metrics, run, summaries)
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
        kind: c.degradation.kind(),
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
            colour: c.colour,
            degradation: c.degradation.label(),
            patch,
            border: border(c),
            evaluation: c.evaluation,
            lr: task.lr,
            quality: None,
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
    fn image_scores(&self, scored: &[ScoredImage]) -> Vec<ImageScore> {
        scored
            .iter()
            .map(|s| {
                let at = self.images.iter().position(|i| *i == s.image);
                ImageScore {
                    image: s.image.clone(),
                    psnr_y_db: s.psnr_y_db,
                    ssim: s.ssim,
                    uncertainty: at.map(|i| self.log_uncertainty[i].exp()),
                    perception_nats: at.map(|i| self.perception[i]),
                    quality: Vec::new(),
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

/// One image's scores for the whole set: PSNR-Y and SSIM, each the mean over the image's samples.
struct ScoredImage {
    image: String,
    psnr_y_db: f64,
    ssim: f64,
}

/// One image's restoration next to its ground truth, on the run's device: what estimation,
/// scoring and the sample grid read.
struct RestoredImage<'a> {
    case: &'a ImageCase,
    /// The model's samples of this image.
    samples: Tensor,
    truth: Tensor,
    hidden: Option<Tensor>,
}

impl<'a> RestoredImage<'a> {
    fn new(case: &'a ImageCase, samples: Tensor, device: tch::Device) -> RestoredImage<'a> {
        let truth = case.truth.to_device(device);
        let hidden = case.hidden.as_ref().map(|h| h.to_device(device));
        RestoredImage { case, samples, truth, hidden }
    }

    /// PSNR-Y and SSIM against the truth, `border` pixels left out at each side.
    fn score(&self, border: i64) -> ScoredImage {
        let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let case = self.case;
        ScoredImage {
            image: case.name.clone(),
            psnr_y_db: mean(fidelity::psnr_y(&self.samples, &self.truth, border, case.scored_on)),
            ssim: mean(fidelity::ssim_y(&self.samples, &self.truth, border, case.scored_on)),
        }
    }
}

/// Runs the model on every image (a batch of equal-sized images per call) and estimates each
/// image on each patch side; an image that cannot be estimated on a side costs only itself.
fn measure(
    task: &ImageTask,
    metrics: &ImageMetrics,
    run: &mut ModelRun<'_>,
    summaries: &[TaskSummary],
) -> Result<Measured, CellError> {
    let c = &task.config;
    let mut gathered: Vec<Gathered> = c.patches.iter().map(|_| Gathered::default()).collect();
    let mut scored: Vec<ScoredImage> = Vec::new();
    let ground_truth = summaries.first().and_then(|s| s.image.as_ref()?.quality.as_ref());
    let mut measured = Measured::default();
    let plan = run.plan;
    let mut calibration: Option<CalibrationStats> = None;
    // each image's quality metrics, in order, scored beside the restoration (the wall time the
    // cell waits for them is its metrics stage)
    let quality = std::thread::scope(|scope| -> Result<Vec<Vec<QualityScore>>, CellError> {
        let scorer = OutputScorer::start(scope, metrics, plan, border(c), ground_truth);
        for observations in batches(&task.cases, c.batch_images) {
            let batch = &task.cases[observations.clone()];
            let first = observations.start;
            let samples = restore_batch(task, run, batch, observations)?;
            for (i, case) in batch.iter().enumerate() {
                let estimating = Instant::now();
                let image = RestoredImage::new(case, samples.get(i as i64), plan.device);
                estimate_image(task, run, &image, &mut gathered, &mut measured.notes);
                calibrate_image(task, run, &image, &mut calibration, &mut measured.notes);
                scored.push(image.score(border(c) as i64));
                run.stages.estimate_secs += secs_since(estimating);
                let queueing = Instant::now();
                let (samples, truth) = (image.samples.shallow_clone(), image.truth.shallow_clone());
                scorer.score(ScoreJob { index: first + i, image: case.name.clone(), samples, truth });
                run.stages.metrics_secs += secs_since(queueing);
                let drawing = Instant::now();
                if first + i < c.grid_images {
                    draw_image_grid(task, run, &image, &mut measured);
                }
                run.stages.grids_secs += secs_since(drawing);
            }
        }
        let waiting = Instant::now();
        let (quality, problems) = scorer.finish();
        run.stages.metrics_secs += secs_since(waiting);
        measured.notes.extend(problems.into_iter().map(CellError::Quality));
        Ok(quality)
    })?;
    every_side_estimated(&gathered, summaries, &measured.notes)?;
    measured.calibration = calibration;
    measured.image_scores = Some(mean_scores(task, run, &scored));
    measured.images = gathered.iter().map(|g| g.image_scores(&scored)).collect();
    for side in &mut measured.images {
        for (score, q) in side.iter_mut().zip(&quality) {
            score.quality = q.clone();
        }
    }
    let per_image: Vec<&[QualityScore]> = quality.iter().map(Vec::as_slice).collect();
    measured.quality = metrics.means(run.plan, border(c), (&c.name, run.label), &per_image);
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

/// The model's samples of one batch of equal-sized images, `[b, K, …]`, seeded by the task,
/// the configuration and the batch's first image; a failed call names the batch's images.
fn restore_batch(
    task: &ImageTask,
    run: &mut ModelRun<'_>,
    batch: &[ImageCase],
    observations: Range<usize>,
) -> Result<Tensor, CellError> {
    let c = &task.config;
    let names: Vec<&str> = batch.iter().map(|case| case.name.as_str()).collect();
    let measurements: Vec<Tensor> = batch.iter().map(|case| case.measurement.shallow_clone()).collect();
    let measurements = Tensor::stack(&measurements, 0).to_device(run.plan.device).contiguous();
    run.restore(&measurements, observations, &[&c.name, run.label, names[0]], &batch[0].truth.size())
        .map_err(|source| CellError::Run { on: Some(names.join(", ")), source })
}

/// Estimates one image on every patch side into that side's [`Gathered`]; a side that cannot
/// estimate it leaves the image out there and notes why.
fn estimate_image(
    task: &ImageTask,
    run: &ModelRun<'_>,
    image: &RestoredImage<'_>,
    gathered: &mut [Gathered],
    notes: &mut Vec<CellError>,
) {
    let c = &task.config;
    let name = &image.case.name;
    let region = images::Region { border: border(c) as i64, hidden: image.hidden.as_ref() };
    let max_points = c.max_points_per_image.map(|m| m as i64);
    for (g, &p) in gathered.iter_mut().zip(&c.patches) {
        let seed = derive_seed(run.plan.suite.file.seed, &["estimate", &c.name, run.label, name, &p.to_string()]);
        match images::image_stats(run.estimator, &image.samples, &image.truth, p as i64, &region, max_points, seed) {
            Ok(stats) => g.push(name, stats),
            Err(source) => notes.push(CellError::ImageLeftOut { image: name.clone(), patch: p, source }),
        }
    }
}

/// Adds one image's ranks of the truth among a sampler's samples (issue [16]) to `all`; a
/// deterministic model, or a single sample, has no spread to calibrate.
fn calibrate_image(
    task: &ImageTask,
    run: &ModelRun<'_>,
    image: &RestoredImage<'_>,
    all: &mut Option<CalibrationStats>,
    notes: &mut Vec<CellError>,
) {
    if !run.stochastic || image.samples.size()[0] < 2 {
        return;
    }
    let c = &task.config;
    let name = &image.case.name;
    let seed = derive_seed(run.plan.suite.file.seed, &["calibration", &c.name, run.label, name]);
    let region = (border(c) as i64, image.hidden.as_ref());
    match CalibrationStats::of_image(&image.samples, &image.truth, region, seed) {
        Ok(stats) => match all {
            Some(all) => all.extend(stats),
            None => *all = Some(stats),
        },
        Err(e) => {
            notes.push(CellError::Estimate(EstimateError::Shape(format!("{name}: left out of the calibration: {e}"))))
        }
    }
}

/// Writes one image's sample grid when the run keeps figures; the path goes into the cell's
/// grids, a failure into its notes.
fn draw_image_grid(task: &ImageTask, run: &ModelRun<'_>, image: &RestoredImage<'_>, measured: &mut Measured) {
    let Some(dir) = run.plan.figure_dir.as_deref() else { return };
    let c = &task.config;
    let case = image.case;
    let input = GridInput {
        truth: &image.truth,
        measurement: &case.measurement,
        hidden: image.hidden.as_ref(),
        samples: &image.samples,
        scale: c.degradation.scale() as i64,
        border: border(c) as i64,
    };
    match write_grid(dir, &c.name, run.label, &case.name, &input) {
        Ok(path) => measured.sample_grids.push(path),
        Err(message) => measured.notes.push(CellError::Grid { image: case.name.clone(), message }),
    }
}

/// [`CellError::NothingEstimated`] for the first patch side no image could be estimated on,
/// with every image's reason for being left out.
fn every_side_estimated(
    gathered: &[Gathered],
    summaries: &[TaskSummary],
    notes: &[CellError],
) -> Result<(), CellError> {
    let Some((_, summary)) = gathered.iter().zip(summaries).find(|(g, _)| g.log_uncertainty.is_empty()) else {
        return Ok(());
    };
    let causes: Vec<String> =
        notes.iter().filter(|e| matches!(e, CellError::ImageLeftOut { .. })).map(ToString::to_string).collect();
    Err(CellError::NothingEstimated { task: summary.name.clone(), causes: causes.join("; ") })
}

/// The set's PSNR-Y and SSIM: the mean over images, with intervals seeded per task and
/// configuration.
fn mean_scores(task: &ImageTask, run: &ModelRun<'_>, scored: &[ScoredImage]) -> (Estimate, Estimate) {
    let file = &run.plan.suite.file;
    let name = &task.config.name;
    let intervals = |what: &str| file.statistics.intervals(derive_seed(file.seed, &[what, name, run.label]));
    let psnr_y: Vec<f64> = scored.iter().map(|s| s.psnr_y_db).collect();
    let ssim: Vec<f64> = scored.iter().map(|s| s.ssim).collect();
    let [psnr_y] = intervals("psnr-y").estimate(psnr_y.len(), |idx| [mean_of(&psnr_y, idx)]);
    let [ssim] = intervals("ssim").estimate(ssim.len(), |idx| [mean_of(&ssim, idx)]);
    (psnr_y, ssim)
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
