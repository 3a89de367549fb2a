//! Image tasks through the pipeline: degrade the set once, run every plugin configuration on
//! every image, estimate per image and patch side, judge each patch side as its own task
//! (`docs/protocol.md`).

use std::path::Path;

use tch::Tensor;

use super::sample_grid::{self, GridInput};
use super::{truth_of, LoadedPlugin, RunPlan};
use crate::device::sdk_device;
use crate::estimate::{fidelity, images, mean_of, EstimatorKind, ObservationStats, SubsampleStats};
use crate::judge::{self, JudgeConfig, Reason};
use crate::plugin::PluginConfig;
use crate::report::plots::file_stem;
use crate::report::{grid, ConfigResult, ImageTaskInfo, Stage, TaskSummary};
use crate::run;
use crate::seed::derive_seed;
use crate::task::images::{
    Colour, ImageCase, ImageTask, ImageTaskConfig, InherentEstimate, StationaryGaussianEstimate,
};

/// What the report says about N(X|Y) when the task has no estimate.
const NO_INHERENT: &str = "unknown (no estimate for this task), so no bound is drawn";

/// Builds the task: the set read and degraded (seeded: every process that prepares it gets the
/// same measurements).
pub(crate) fn prepare(plan: &RunPlan, config: &ImageTaskConfig) -> Result<ImageTask, String> {
    let seed = derive_seed(plan.suite.file.seed, &["image-task", &config.name]);
    ImageTask::build(config, &plan.data_dir, seed).map_err(|e| e.to_string())
}

/// One summary per patch side, with N(X|Y) estimated from the set's training images; when that
/// estimate fails the task still runs without a bound and the reason comes back.
pub(crate) fn summaries(plan: &RunPlan, task: &ImageTask) -> (Vec<TaskSummary>, Option<String>) {
    let config = &task.config;
    let (estimate, problem) =
        match StationaryGaussianEstimate::new(config, task.channels(), &task.cases, &plan.data_dir, plan.device) {
            Ok(e) => (e, None),
            Err(e) => (None, Some(e.to_string())),
        };
    let summaries =
        config.patches.iter().map(|&p| summary(task, p, estimate.as_ref().map(|e| e.for_patch(p)))).collect();
    (summaries, problem)
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
        inherent_uncertainty: inherent.as_ref().map_or(f64::NAN, |e| e.value),
        inherent_basis: inherent.as_ref().map_or(NO_INHERENT.into(), |e| e.label.clone()),
        inherent_uncertainty_ci: None,
        // The model is Gaussian: its N(X_G|Y) is its N(X|Y).
        gaussian_inherent_uncertainty: inherent.as_ref().map_or(f64::NAN, |e| e.value),
        signal_power: 1.0,
        image: Some(ImageTaskInfo {
            dataset: c.dataset.clone(),
            images: task.cases.len(),
            colour: match c.colour {
                Colour::Rgb => "rgb".into(),
                Colour::Grey => "grey".into(),
            },
            degradation: c.degradation.label(),
            patch,
            border: border(c),
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
    fn push(&mut self, s: images::ImageStats) {
        self.log_uncertainty.push(s.log_uncertainty);
        self.perception.push(s.perception);
        self.mse.push(s.mse);
        self.min_points = Some(self.min_points.map_or(s.points, |m| m.min(s.points)));
        self.min_positions = Some(self.min_positions.map_or(s.positions, |m| m.min(s.positions)));
        self.shrinkage_used |= s.shrinkage_used;
        self.ties += s.ties;
        self.subsamples.push(s.subsamples);
    }

    /// [`Reason::TooFewPatches`] when the Gaussian estimator fitted some image's patch laws on
    /// fewer than 2·d grid positions.
    fn too_few_patches(&self, estimator: EstimatorKind, dim: i64) -> Option<Reason> {
        let patches = self.min_positions?;
        (estimator == EstimatorKind::Gaussian && patches < images::MIN_POINTS_PER_DIMENSION * dim)
            .then(|| Reason::TooFewPatches { patches, dim: dim as usize })
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

/// Results per patch side, and failures that spared them (timing, sample grids).
pub(crate) type PerPatch = (Vec<ConfigResult>, Vec<(Stage, String)>);

/// Consecutive images of equal size, at most `size` at a time: one `restore` call each.
fn batches(cases: &[ImageCase], size: usize) -> Vec<&[ImageCase]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=cases.len() {
        let full = i - start == size.max(1);
        if i == cases.len() || full || cases[i].measurement.size() != cases[start].measurement.size() {
            out.push(&cases[start..i]);
            start = i;
        }
    }
    out
}

/// Runs one configuration on every image; one result per patch side.
pub(crate) fn run_cell(
    plan: &RunPlan,
    plugin: &LoadedPlugin,
    config: &PluginConfig,
    task: &ImageTask,
    summaries: &[TaskSummary],
) -> Result<PerPatch, (Stage, String)> {
    let file = &plan.suite.file;
    let c = &task.config;
    let spec = task.spec(sdk_device(plan.device));
    let mut model = plugin.new_model(&config.params, &spec).map_err(|e| (Stage::Configure, e.to_string()))?;
    let stochastic = plugin.samples(&model);
    let k = if stochastic { c.samples_per_image as u32 } else { 1 };
    let border = border(c) as i64;
    let mut gathered: Vec<Gathered> = c.patches.iter().map(|_| Gathered::default()).collect();
    let (mut psnr_y, mut ssim) = (Vec::new(), Vec::new());
    let (mut grids, mut notes) = (Vec::new(), Vec::new());
    let mut case_index = 0;
    for batch in batches(&task.cases, c.batch_images) {
        let names: Vec<&str> = batch.iter().map(|case| case.name.as_str()).collect();
        let in_batch = |e: String| format!("{}: {e}", names.join(", "));
        let measurements: Vec<Tensor> = batch.iter().map(|case| case.measurement.shallow_clone()).collect();
        let measurements = Tensor::stack(&measurements, 0).to_device(plan.device).contiguous();
        let seed = derive_seed(file.seed, &["model", &c.name, &config.label, names[0]]);
        let restored = run::restore(&mut model, &measurements, k, seed, &batch[0].truth.size())
            .map_err(|e| (Stage::Run, in_batch(e.to_string())))?;
        for (i, case) in batch.iter().enumerate() {
            let restored = restored.get(i as i64);
            let truth = case.truth.to_device(plan.device);
            let hidden = case.hidden.as_ref().map(|h| h.to_device(plan.device));
            let region = images::Region { border, hidden: hidden.as_ref() };
            for (g, &p) in gathered.iter_mut().zip(&c.patches) {
                let estimate_seed =
                    derive_seed(file.seed, &["estimate", &c.name, &config.label, &case.name, &p.to_string()]);
                match images::image_stats(
                    &file.estimator,
                    &restored,
                    &truth,
                    p as i64,
                    &region,
                    c.max_points_per_image.map(|m| m as i64),
                    estimate_seed,
                ) {
                    Ok(stats) => g.push(stats),
                    // One image that cannot be estimated costs only itself: named, and the
                    // patch side is judged on the others.
                    Err(e) => notes
                        .push((Stage::Estimate, format!("{} (p = {p}): {e}; left out of this patch side", case.name))),
                }
            }
            let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
            psnr_y.push(mean(fidelity::psnr_y(&restored, &truth, border, case.scored_on)));
            ssim.push(mean(fidelity::ssim_y(&restored, &truth, border, case.scored_on)));
            if let Some(dir) = plan.figure_dir.as_deref().filter(|_| case_index < c.grid_images) {
                let input = GridInput {
                    truth: &truth,
                    measurement: &case.measurement,
                    hidden: hidden.as_ref(),
                    samples: &restored,
                    scale: c.degradation.scale() as i64,
                };
                match write_grid(dir, &c.name, &config.label, &case.name, &input) {
                    Ok(path) => grids.push(path),
                    Err(e) => notes.push((Stage::Report, format!("{}: sample grid: {e}", case.name))),
                }
            }
            case_index += 1;
        }
    }
    let stats = file.statistics;
    let intervals = |what: &str| stats.intervals(derive_seed(file.seed, &[what, &c.name, &config.label]));
    let [psnr_y] = intervals("psnr-y").estimate(psnr_y.len(), |idx| [mean_of(&psnr_y, idx)]);
    let [ssim] = intervals("ssim").estimate(ssim.len(), |idx| [mean_of(&ssim, idx)]);
    let first = task.cases.first().ok_or((Stage::Task, "the task has no images".to_string()))?;
    let timing_batch = first.measurement.unsqueeze(0).to_device(plan.device).contiguous();
    let throughput =
        match run::throughput(&mut model, &timing_batch, k, &first.truth.size(), file.timing, intervals("timing")) {
            Ok(t) => Some(t),
            Err(e) => {
                notes.push((Stage::Run, format!("timing failed after the quality numbers were measured: {e}")));
                None
            }
        };
    if let Some((_, summary)) = gathered.iter().zip(summaries).find(|(g, _)| g.log_uncertainty.is_empty()) {
        let causes: Vec<&str> = notes.iter().filter(|(s, _)| *s == Stage::Estimate).map(|(_, m)| m.as_str()).collect();
        return Err((
            Stage::Estimate,
            format!("no image of {} could be estimated: {}", summary.name, causes.join("; ")),
        ));
    }
    let mut out = Vec::with_capacity(gathered.len());
    for (g, summary) in gathered.into_iter().zip(summaries) {
        let truth = truth_of(summary);
        let judge_config = JudgeConfig { intervals: intervals(&summary.name), band_tolerance: stats.band_tolerance };
        let dim = summary.signal_dim as i64;
        let too_few_patches = g.too_few_patches(file.estimator.kind, dim);
        let mut judgement = judge::judge(&g.into_stats(dim), &truth, &judge_config);
        if let Some(reason) = too_few_patches {
            judgement.validity = judgement.validity.with_reason(reason);
        }
        let psnr_db = -10.0 * judgement.mse.point.log10();
        out.push(ConfigResult {
            psnr_y_db: Some(psnr_y),
            ssim: Some(ssim),
            sample_grids: grids.clone(),
            ..super::cell::config_result(plugin, config, &summary.name, stochastic, judgement, psnr_db, throughput)
        });
    }
    Ok((out, notes))
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
