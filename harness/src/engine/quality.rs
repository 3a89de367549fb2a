//! The per-image quality metrics of an image task (issue [13], `docs/metrics.md`): NIQE,
//! BRISQUE and ST-LPIPS, loaded once per process from the models directory, and the suite's own
//! TorchScript metrics (`[[metric]]`), scored on the
//! ground truth once per task (the no-reference ones: the tables' *ground truth* row) and on the
//! first sample of each image of every configuration.
//!
//! Cost: one sample per image is scored (a sampler's K samples would cost K times as much), and
//! ST-LPIPS keeps the ground truth's feature maps across the configurations a process evaluates,
//! so each output costs one forward pass, on the run's device. [`ImageMetrics`] is shared
//! between threads: `engine::images` scores a cell's outputs on a thread of its own while the
//! model restores the next images.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};
use tch::{Device, Kind, Tensor};

use crate::estimate::mean_of;
use crate::estimate::quality::{
    Brisque, BuiltIn, Image8, Niqe, QualityError, QualityMeasure, Reference, ScriptedMetric, StLpips,
};
use crate::record::{GroundTruthScores, QualityMean, QualityMetricInfo, QualityScore, SkippedMetric, TaskQuality};
use crate::seed::derive_seed;
use crate::setup::RunPlan;
use crate::suite::MetricsChoice;
use crate::task::images::ImageCase;

/// Which output of a configuration is scored, as the records state it.
pub const SAMPLE: &str = "first sample of each image";

/// The most bytes of ground-truth ST-LPIPS features kept for reuse (beyond it, a ground truth's
/// features are computed again for each configuration).
const FEATURE_CACHE_BYTES: i64 = 2 << 30;

/// The metrics an image task computes, loaded on first use.
pub(crate) struct ImageMetrics {
    loaded: OnceLock<Loaded>,
}

/// One metric that loaded: a built-in, or the suite's own by its index in [`Loaded::user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    BuiltIn(BuiltIn),
    User(usize),
}

/// The measures that loaded, in column order, and those skipped with why.
struct Loaded {
    order: Vec<Slot>,
    niqe: Option<Niqe>,
    brisque: Option<Brisque>,
    stlpips: Option<StLpips>,
    /// The suite's `[[metric]]`s that loaded, in suite order.
    user: Vec<ScriptedMetric>,
    skipped: Vec<SkippedMetric>,
    /// ST-LPIPS features of each case's ground truth, by case index, once computed.
    truth_features: Mutex<Vec<Option<Vec<Tensor>>>>,
    cached_bytes: AtomicI64,
}

impl ImageMetrics {
    /// Nothing loaded yet.
    pub(crate) fn new() -> ImageMetrics {
        ImageMetrics { loaded: OnceLock::new() }
    }

    fn loaded(&self, plan: &RunPlan, border: usize) -> &Loaded {
        self.loaded.get_or_init(|| Loaded::new(plan, border))
    }

    /// The no-reference metrics on every case's ground truth, with their means: what the task's
    /// summaries record.
    pub(crate) fn ground_truth(&self, plan: &RunPlan, task: &str, border: usize, cases: &[ImageCase]) -> TaskQuality {
        let loaded = self.loaded(plan, border);
        let mut notes = Vec::new();
        let ground_truth: Vec<GroundTruthScores> = cases
            .iter()
            .map(|case| {
                let image = image8(&quantized(&case.truth));
                let mut scores = Vec::new();
                for &metric in loaded.order.iter().filter(|m| loaded.reference(**m) == Reference::None) {
                    match loaded.score_no_reference(metric, &image) {
                        Ok(value) => scores.push(QualityScore { metric: loaded.name(metric).into(), value }),
                        Err(e) => notes.push(format!("{}: {e}", case.name)),
                    }
                }
                GroundTruthScores { image: case.name.clone(), scores }
            })
            .collect();
        let per_image: Vec<&[QualityScore]> = ground_truth.iter().map(|g| g.scores.as_slice()).collect();
        let ground_truth_means = loaded.means(plan, task, "ground truth", &per_image);
        TaskQuality {
            metrics: loaded.info(),
            skipped: loaded.skipped.clone(),
            sample: SAMPLE.into(),
            ground_truth,
            ground_truth_means,
            notes,
        }
    }

    /// Every metric on the first of `samples` (`[K, C, H, W]` on the run's device) of case
    /// `index`, whose ground truth `truth` is on the same device; what could not be scored comes
    /// back as messages beside the scores. `truth_scored`: the task's record of this image's
    /// ground truth, when there is one; a no-reference metric that could not score the ground
    /// truth (an image too small for it: the outputs have its size) is not tried on the outputs,
    /// and the task's record says why once.
    pub(crate) fn score_output(
        &self,
        plan: &RunPlan,
        border: usize,
        (index, image_name): (usize, &str),
        (samples, truth): (&Tensor, &Tensor),
        truth_scored: Option<&GroundTruthScores>,
    ) -> (Vec<QualityScore>, Vec<String>) {
        let loaded = self.loaded(plan, border);
        let mut scores = Vec::new();
        let mut problems = Vec::new();
        if loaded.order.is_empty() {
            return (scores, problems);
        }
        let output = quantized(&samples.get(0));
        let built_in_blind = |m: &Slot| matches!(m, Slot::BuiltIn(_)) && loaded.reference(*m) == Reference::None;
        let image = loaded.order.iter().any(built_in_blind).then(|| image8(&output));
        for &metric in &loaded.order {
            let name = loaded.name(metric);
            let failed_on_truth = truth_scored.is_some_and(|t| t.scores.iter().all(|s| s.metric != name));
            let blind = loaded.reference(metric) == Reference::None;
            if blind && failed_on_truth {
                continue;
            }
            let value = match (metric, &image) {
                (Slot::User(i), _) => {
                    let truth = (!blind).then(|| as_rgb_unit(&quantized(truth), plan.device));
                    loaded.user[i].score_unit(&as_rgb_unit(&output, plan.device), truth.as_ref())
                }
                (Slot::BuiltIn(_), Some(image)) if blind => loaded.score_no_reference(metric, image),
                (Slot::BuiltIn(_), _) => loaded.stlpips_against_truth(index, &output, truth),
            };
            match value {
                Ok(value) => scores.push(QualityScore { metric: name.into(), value }),
                Err(e) => problems.push(format!("{image_name}: {e}")),
            }
        }
        (scores, problems)
    }

    /// Each metric's mean over the images of one configuration, with its interval.
    pub(crate) fn means(
        &self,
        plan: &RunPlan,
        border: usize,
        (task, label): (&str, &str),
        per_image: &[&[QualityScore]],
    ) -> Vec<QualityMean> {
        self.loaded(plan, border).means(plan, task, label, per_image)
    }
}

/// One output to score: the image's index in the task, its name, the model's samples of it
/// (`[K, C, H, W]`, the first is scored) and its ground truth, on the run's device.
pub(crate) struct ScoreJob {
    pub(crate) index: usize,
    pub(crate) image: String,
    pub(crate) samples: Tensor,
    pub(crate) truth: Tensor,
}

/// A cell's outputs scored on a thread of their own while the model restores the next images:
/// a run's torch work is single-threaded by default (`threads = 1`, for reproducible sums), so
/// on a machine with a second core the metrics cost the run little beyond the last image's
/// scores. The thread uses the run's torch thread count, so each score is the one the same
/// measure gives on the run's own thread. At most [`SCORER_QUEUE`] images wait for it.
pub(crate) struct OutputScorer<'scope> {
    jobs: std::sync::mpsc::SyncSender<ScoreJob>,
    thread: std::thread::ScopedJoinHandle<'scope, Vec<(Vec<QualityScore>, Vec<String>)>>,
}

/// Images restored but not yet scored before the model waits for the scorer.
const SCORER_QUEUE: usize = 2;

impl<'scope> OutputScorer<'scope> {
    /// Starts the scoring thread in `scope`; `ground_truth`: the task's record of its ground
    /// truth's scores (see [`ImageMetrics::score_output`]).
    pub(crate) fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        metrics: &'env ImageMetrics,
        plan: &'env RunPlan,
        border: usize,
        ground_truth: Option<&'env TaskQuality>,
    ) -> OutputScorer<'scope> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<ScoreJob>(SCORER_QUEUE);
        let thread = scope.spawn(move || {
            tch::set_num_threads(plan.suite.file.threads.unwrap_or(crate::suite::DEFAULT_THREADS) as i32);
            let truth_scored =
                |image: &str| ground_truth.and_then(|q| q.ground_truth.iter().find(|g| g.image == image));
            queue
                .into_iter()
                .map(|job: ScoreJob| {
                    let ScoreJob { index, image, samples, truth } = job;
                    metrics.score_output(plan, border, (index, &image), (&samples, &truth), truth_scored(&image))
                })
                .collect()
        });
        OutputScorer { jobs, thread }
    }

    /// Queues one output; waits while [`SCORER_QUEUE`] are already waiting.
    pub(crate) fn score(&self, job: ScoreJob) {
        // the thread ends only when the queue closes, or by a panic that `finish` reports
        let _ = self.jobs.send(job);
    }

    /// Waits for every queued output's scores: each image's, in queue order, and the messages
    /// of what could not be scored.
    pub(crate) fn finish(self) -> (Vec<Vec<QualityScore>>, Vec<String>) {
        drop(self.jobs);
        match self.thread.join() {
            Ok(scored) => {
                let (scores, problems): (Vec<_>, Vec<Vec<String>>) = scored.into_iter().unzip();
                (scores, problems.concat())
            }
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                (Vec::new(), vec![format!("the metrics thread stopped: {}", why.unwrap_or_else(|| "a panic".into()))])
            }
        }
    }
}

impl Loaded {
    fn new(plan: &RunPlan, border: usize) -> Loaded {
        let mut loaded = Loaded {
            order: Vec::new(),
            niqe: None,
            brisque: None,
            stlpips: None,
            user: Vec::new(),
            skipped: Vec::new(),
            truth_features: Mutex::new(Vec::new()),
            cached_bytes: AtomicI64::new(0),
        };
        loaded.load_built_ins(plan, border);
        for entry in &plan.suite.file.user_metrics {
            // checked before the run (`check`); a file changed since then is skipped, with why
            match ScriptedMetric::load(&entry.spec(&plan.suite.base_dir), plan.device) {
                Ok(metric) => {
                    loaded.order.push(Slot::User(loaded.user.len()));
                    loaded.user.push(metric);
                }
                Err(e) => {
                    loaded.skipped.push(SkippedMetric { name: entry.name.get_ref().clone(), reason: e.to_string() })
                }
            }
        }
        loaded
    }

    /// The built-in metrics the suite chooses (all by default) whose files load; the others
    /// go to `skipped` with why.
    fn load_built_ins(&mut self, plan: &RunPlan, border: usize) {
        let dir = plan.metrics_models_dir();
        let order = match plan.suite.file.metrics.choice() {
            Ok(MetricsChoice::Chosen(chosen)) => {
                for m in BuiltIn::ALL.into_iter().filter(|m| !chosen.contains(m)) {
                    let reason = "not chosen in the suite's [metrics]".into();
                    self.skipped.push(SkippedMetric { name: m.name().into(), reason });
                }
                chosen
            }
            // the suite was checked: an invalid choice cannot reach here
            Ok(MetricsChoice::Default) | Err(_) => BuiltIn::ALL.to_vec(),
        };
        for metric in order {
            let path = dir.join(metric.file());
            if !path.is_file() {
                let reason = format!("its parameter file {} is missing", path.display());
                self.skipped.push(SkippedMetric { name: metric.name().into(), reason });
                continue;
            }
            let result = match metric {
                BuiltIn::Niqe => Niqe::load(&dir, border).map(|m| self.niqe = Some(m)),
                BuiltIn::Brisque => Brisque::load(&dir).map(|m| self.brisque = Some(m)),
                BuiltIn::StLpips => StLpips::load(&dir, plan.device).map(|m| self.stlpips = Some(m)),
            };
            match result {
                Ok(()) => self.order.push(Slot::BuiltIn(metric)),
                Err(e) => self.skipped.push(SkippedMetric { name: metric.name().into(), reason: e.to_string() }),
            }
        }
    }

    fn measure(&self, metric: Slot) -> Option<&dyn QualityMeasure> {
        match metric {
            Slot::BuiltIn(BuiltIn::Niqe) => self.niqe.as_ref().map(|m| m as &dyn QualityMeasure),
            Slot::BuiltIn(BuiltIn::Brisque) => self.brisque.as_ref().map(|m| m as &dyn QualityMeasure),
            Slot::BuiltIn(BuiltIn::StLpips) => self.stlpips.as_ref().map(|m| m as &dyn QualityMeasure),
            Slot::User(i) => self.user.get(i).map(|m| m as &dyn QualityMeasure),
        }
    }

    /// A loaded metric's name in the records.
    fn name(&self, metric: Slot) -> &str {
        match metric {
            Slot::BuiltIn(m) => m.name(),
            Slot::User(i) => self.user.get(i).map_or("", |m| m.name()),
        }
    }

    /// Whether a loaded metric needs the ground truth.
    fn reference(&self, metric: Slot) -> Reference {
        self.measure(metric).map_or(Reference::None, |m| m.reference())
    }

    fn info(&self) -> Vec<QualityMetricInfo> {
        let info = |m: &dyn QualityMeasure| QualityMetricInfo {
            name: m.name().into(),
            reference: m.reference(),
            better: m.better(),
            convention: m.convention(),
        };
        self.order.iter().filter_map(|&m| self.measure(m)).map(info).collect()
    }

    fn score_no_reference(&self, metric: Slot, image: &Image8) -> Result<f64, QualityError> {
        let unavailable = || QualityError::Scripted { metric: self.name(metric).into(), reason: "not loaded".into() };
        let measure = self.measure(metric).ok_or_else(unavailable)?;
        measure.score(image, None)
    }

    /// ST-LPIPS of `output` (`[C, H, W]`, 8-bit values as floats) against case `index`'s ground
    /// truth, whose features are computed once and kept within [`FEATURE_CACHE_BYTES`].
    fn stlpips_against_truth(&self, index: usize, output: &Tensor, truth: &Tensor) -> Result<f64, QualityError> {
        let stlpips = self.stlpips.as_ref().ok_or_else(|| unavailable(BuiltIn::StLpips))?;
        let device = stlpips.device();
        // a panic while the lock was held left nothing half-written that matters: a cache
        let mut cache = self.truth_features.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() <= index {
            cache.resize_with(index + 1, || None);
        }
        let truth_features = match &cache[index] {
            Some(features) => features.iter().map(Tensor::shallow_clone).collect(),
            None => {
                let features = stlpips.unit_features(&as_rgb_unit(&quantized(truth), device))?;
                let bytes: i64 = features.iter().map(|f| f.numel() as i64 * 4).sum();
                if self.cached_bytes.load(Ordering::Relaxed) + bytes <= FEATURE_CACHE_BYTES {
                    self.cached_bytes.fetch_add(bytes, Ordering::Relaxed);
                    cache[index] = Some(features.iter().map(Tensor::shallow_clone).collect());
                }
                features
            }
        };
        let output_features = stlpips.unit_features(&as_rgb_unit(output, device))?;
        let d = stlpips.distance_between(&output_features, &truth_features)?;
        Ok(d.double_value(&[0]))
    }

    fn means(&self, plan: &RunPlan, task: &str, label: &str, per_image: &[&[QualityScore]]) -> Vec<QualityMean> {
        let file = &plan.suite.file;
        let mut means = Vec::new();
        for measure in self.order.iter().filter_map(|&m| self.measure(m)) {
            let name = measure.name();
            let values: Vec<f64> = per_image
                .iter()
                .filter_map(|scores| scores.iter().find(|s| s.metric == name).map(|s| s.value))
                .collect();
            if values.is_empty() {
                continue;
            }
            let seed = derive_seed(file.seed, &[&format!("quality-{name}"), task, label]);
            let [estimate] = file.statistics.intervals(seed).estimate(values.len(), |idx| [mean_of(&values, idx)]);
            means.push(QualityMean { metric: name.into(), better: measure.better(), estimate });
        }
        means
    }
}

fn unavailable(metric: BuiltIn) -> QualityError {
    QualityError::Image { metric: metric.name(), reason: "not loaded".into() }
}

/// An image `[C, H, W]` in [0, 1] as 8-bit values (clamped, rounded as PSNR-Y's scoring does),
/// as floats on its device.
fn quantized(image: &Tensor) -> Tensor {
    (image.to_kind(Kind::Double).clamp(0.0, 1.0) * 255.0).round()
}

/// 8-bit values `[C, H, W]` as an [`Image8`] on the CPU.
fn image8(values: &Tensor) -> Image8 {
    let (c, h, w) = (values.size()[0], values.size()[1], values.size()[2]);
    let data = values.to_device(Device::Cpu).permute([1, 2, 0]).contiguous().to_kind(Kind::Uint8).flatten(0, -1);
    let data = Vec::<u8>::try_from(&data).unwrap_or_default();
    Image8 { height: h as usize, width: w as usize, channels: c as usize, data }
}

/// 8-bit values `[C, H, W]` as ST-LPIPS takes them: `[1, 3, H, W]` float32 x/255 on `device`
/// (a grey image replicated), as `StLpips::score` converts an [`Image8`].
fn as_rgb_unit(values: &Tensor, device: Device) -> Tensor {
    let (h, w) = (values.size()[1], values.size()[2]);
    let x = values.to_kind(Kind::Float) / 255.0;
    x.expand([3, h, w], false).unsqueeze(0).to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_images_round_to_8_bit_values_in_their_layout() {
        let t = Tensor::from_slice(&[0.0f32, 0.5, 1.2, -0.1, 0.2, 1.0]).view([2, 1, 3]);
        let image = image8(&quantized(&t));
        assert_eq!((image.channels, image.height, image.width), (2, 1, 3));
        // 0.5·255 = 127.5 rounds to even (128), as the PSNR-Y scoring does; out of range clamps
        assert_eq!(image.data, vec![0, 0, 128, 51, 255, 255]);
        let rgb = as_rgb_unit(&quantized(&t.narrow(0, 0, 1)), Device::Cpu);
        assert_eq!(rgb.size(), vec![1, 3, 1, 3]);
        assert_eq!(rgb.double_value(&[0, 2, 0, 1]), f64::from(128.0f32 / 255.0));
    }
}
