//! The per-image quality metrics of an image task (issue [13], `docs/metrics.md`): NIQE,
//! BRISQUE and ST-LPIPS, loaded once per process from the models directory, scored on the
//! ground truth once per task (the no-reference ones: the tables' *ground truth* row) and on the
//! first sample of each image of every configuration.
//!
//! Cost: one sample per image is scored (a sampler's K samples would cost K times as much), and
//! ST-LPIPS keeps the ground truth's feature maps across the configurations a process evaluates,
//! so each output costs one forward pass, on the run's device.

use std::cell::{Cell, OnceCell, RefCell};
use std::path::PathBuf;

use tch::{Device, Kind, Tensor};

use crate::estimate::mean_of;
use crate::estimate::quality::{Brisque, BuiltIn, Image8, Niqe, QualityError, QualityMeasure, Reference, StLpips};
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
    loaded: OnceCell<Loaded>,
}

/// The measures that loaded, in column order, and those skipped with why.
struct Loaded {
    order: Vec<BuiltIn>,
    niqe: Option<Niqe>,
    brisque: Option<Brisque>,
    stlpips: Option<StLpips>,
    skipped: Vec<SkippedMetric>,
    /// ST-LPIPS features of each case's ground truth, by case index, once computed.
    truth_features: RefCell<Vec<Option<Vec<Tensor>>>>,
    cached_bytes: Cell<i64>,
}

/// Where the metrics' parameter files are: the run's models directory (`--models-dir`, else
/// `UPBENCH_MODELS_DIR`, else the `models` folder beside the data directory, as the command line
/// resolved it), else that folder.
pub(crate) fn models_dir(plan: &RunPlan) -> PathBuf {
    plan.models_dir.clone().or_else(|| std::env::var_os("UPBENCH_MODELS_DIR").map(PathBuf::from)).unwrap_or_else(|| {
        plan.data_dir.parent().map_or_else(|| PathBuf::from("models"), |parent| parent.join("models"))
    })
}

impl ImageMetrics {
    /// Nothing loaded yet.
    pub(crate) fn new() -> ImageMetrics {
        ImageMetrics { loaded: OnceCell::new() }
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
                for &metric in loaded.order.iter().filter(|m| reference(**m) == Reference::None) {
                    match loaded.score_no_reference(metric, &image) {
                        Ok(value) => scores.push(QualityScore { metric: metric.name().into(), value }),
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
        (index, case): (usize, &ImageCase),
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
        let image = loaded.order.iter().any(|m| reference(*m) == Reference::None).then(|| image8(&output));
        for &metric in &loaded.order {
            let failed_on_truth = truth_scored.is_some_and(|t| t.scores.iter().all(|s| s.metric != metric.name()));
            if reference(metric) == Reference::None && failed_on_truth {
                continue;
            }
            let value = match (&image, reference(metric)) {
                (Some(image), Reference::None) => loaded.score_no_reference(metric, image),
                _ => loaded.stlpips_against_truth(index, &output, truth),
            };
            match value {
                Ok(value) => scores.push(QualityScore { metric: metric.name().into(), value }),
                Err(e) => problems.push(format!("{}: {e}", case.name)),
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

impl Loaded {
    fn new(plan: &RunPlan, border: usize) -> Loaded {
        let dir = models_dir(plan);
        let (order, mut skipped) = match plan.suite.file.metrics.choice() {
            Ok(MetricsChoice::Chosen(chosen)) => {
                let skipped = BuiltIn::ALL
                    .into_iter()
                    .filter(|m| !chosen.contains(m))
                    .map(|m| SkippedMetric {
                        name: m.name().into(),
                        reason: "not chosen in the suite's [metrics]".into(),
                    })
                    .collect();
                (chosen, skipped)
            }
            // the suite was checked: an invalid choice cannot reach here
            Ok(MetricsChoice::Default) | Err(_) => (BuiltIn::ALL.to_vec(), Vec::new()),
        };
        let mut loaded = Loaded {
            order: Vec::new(),
            niqe: None,
            brisque: None,
            stlpips: None,
            skipped: Vec::new(),
            truth_features: RefCell::new(Vec::new()),
            cached_bytes: Cell::new(0),
        };
        for metric in order {
            let path = dir.join(metric.file());
            if !path.is_file() {
                let reason = format!("its parameter file {} is missing", path.display());
                skipped.push(SkippedMetric { name: metric.name().into(), reason });
                continue;
            }
            let result = match metric {
                BuiltIn::Niqe => Niqe::load(&dir, border).map(|m| loaded.niqe = Some(m)),
                BuiltIn::Brisque => Brisque::load(&dir).map(|m| loaded.brisque = Some(m)),
                BuiltIn::StLpips => StLpips::load(&dir, plan.device).map(|m| loaded.stlpips = Some(m)),
            };
            match result {
                Ok(()) => loaded.order.push(metric),
                Err(e) => skipped.push(SkippedMetric { name: metric.name().into(), reason: e.to_string() }),
            }
        }
        loaded.skipped = skipped;
        loaded
    }

    fn measure(&self, metric: BuiltIn) -> Option<&dyn QualityMeasure> {
        match metric {
            BuiltIn::Niqe => self.niqe.as_ref().map(|m| m as &dyn QualityMeasure),
            BuiltIn::Brisque => self.brisque.as_ref().map(|m| m as &dyn QualityMeasure),
            BuiltIn::StLpips => self.stlpips.as_ref().map(|m| m as &dyn QualityMeasure),
        }
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

    fn score_no_reference(&self, metric: BuiltIn, image: &Image8) -> Result<f64, QualityError> {
        let measure = self.measure(metric).ok_or_else(|| unavailable(metric))?;
        measure.score(image, None)
    }

    /// ST-LPIPS of `output` (`[C, H, W]`, 8-bit values as floats) against case `index`'s ground
    /// truth, whose features are computed once and kept within [`FEATURE_CACHE_BYTES`].
    fn stlpips_against_truth(&self, index: usize, output: &Tensor, truth: &Tensor) -> Result<f64, QualityError> {
        let stlpips = self.stlpips.as_ref().ok_or_else(|| unavailable(BuiltIn::StLpips))?;
        let device = stlpips.device();
        let mut cache = self.truth_features.borrow_mut();
        if cache.len() <= index {
            cache.resize_with(index + 1, || None);
        }
        let truth_features = match &cache[index] {
            Some(features) => features.iter().map(Tensor::shallow_clone).collect(),
            None => {
                let features = stlpips.unit_features(&as_rgb_unit(&quantized(truth), device))?;
                let bytes: i64 = features.iter().map(|f| f.numel() as i64 * 4).sum();
                if self.cached_bytes.get() + bytes <= FEATURE_CACHE_BYTES {
                    self.cached_bytes.set(self.cached_bytes.get() + bytes);
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

fn reference(metric: BuiltIn) -> Reference {
    match metric {
        BuiltIn::Niqe | BuiltIn::Brisque => Reference::None,
        BuiltIn::StLpips => Reference::Full,
    }
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
