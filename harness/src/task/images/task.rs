//! Image tasks: a registered set, a degradation, and the measurements the plugins restore.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};
use upbench_sdk::{Extensions, ImageTaskSpec, TaskKind, TaskSpec};

use super::degrade::{self, MaskConfig};
use super::stored_lr::{self, LrSource, LrWanted};
use super::{dataset, imresize_bicubic, read_image, Image8};
use crate::estimate::fidelity::{Evaluation, ScoredOn};
use crate::seed::{derive_seed, seed_torch};
use crate::task::TaskError;

/// Colour handling of an image task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Colour {
    /// RGB; grey images of the set are repeated over the three channels.
    #[default]
    Rgb,
    /// Grey: RGB images converted as MATLAB's `rgb2gray`.
    Grey,
}

impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Colour::Rgb => "rgb",
            Colour::Grey => "grey",
        })
    }
}

/// How the measurement is made from the ground truth. Noise levels are in grey levels (0–255).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Degradation {
    /// MATLAB `imresize(x, 1/scale, 'bicubic')` with antialiasing, rounded to 8 bits (the
    /// standard SR benchmark degradation), then optional noise.
    SuperResolution {
        /// The factor, e.g. 4.
        scale: usize,
        /// σ in grey levels (0 = none).
        #[serde(default)]
        noise_std: f64,
    },
    /// Additive white Gaussian noise of σ grey levels, not clipped, not rounded.
    Denoising {
        /// σ in grey levels.
        noise_std: f64,
    },
    /// Pixels hidden by a mask (the same for every channel); the others observed, optionally noisy.
    Inpainting {
        /// The hidden region.
        mask: MaskConfig,
        /// σ in grey levels on the observed pixels (0 = none).
        #[serde(default)]
        noise_std: f64,
    },
}

impl Degradation {
    /// The SDK task kind.
    pub fn kind(&self) -> TaskKind {
        match self {
            Degradation::SuperResolution { .. } => TaskKind::ImageSuperResolution,
            Degradation::Denoising { .. } => TaskKind::ImageDenoising,
            Degradation::Inpainting { .. } => TaskKind::ImageInpainting,
        }
    }

    /// σ in grey levels.
    pub fn noise_std(&self) -> f64 {
        match *self {
            Degradation::SuperResolution { noise_std, .. }
            | Degradation::Denoising { noise_std }
            | Degradation::Inpainting { noise_std, .. } => noise_std,
        }
    }

    /// The super-resolution factor, 1 for the other kinds.
    pub fn scale(&self) -> usize {
        match *self {
            Degradation::SuperResolution { scale, .. } => scale,
            _ => 1,
        }
    }

    /// A short description for tables.
    pub fn label(&self) -> String {
        let noise = |s: f64| if s > 0.0 { format!(", σ = {s} grey levels") } else { String::new() };
        match self {
            Degradation::SuperResolution { scale, noise_std } => format!("bicubic ×{scale}{}", noise(*noise_std)),
            Degradation::Denoising { noise_std } => format!("Gaussian noise σ = {noise_std} grey levels"),
            Degradation::Inpainting { mask, noise_std } => format!("{}{}", mask_label(mask), noise(*noise_std)),
        }
    }
}

fn mask_label(mask: &MaskConfig) -> String {
    match mask {
        MaskConfig::CentreBox { fraction } => format!("centre box {:.0} %", fraction * 100.0),
        MaskConfig::RandomBoxes { count, max_fraction } => {
            format!("{count} random boxes ≤ {:.0} %", max_fraction * 100.0)
        }
        MaskConfig::Strokes { count, width, .. } => format!("{count} strokes of {width} px"),
    }
}

/// How the inherent uncertainty N(X|Y) of an image task is estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
pub enum InherentConfig {
    /// The LMMSE error entropy power of a stationary Gaussian image model fitted on `training`
    /// (a set under the data directory, or `dead-leaves`), in closed form on the task's patches:
    /// an upper estimate of N(X|Y) when the model's second-order statistics are right
    /// (`docs/protocol.md`). Super-resolution and denoising only.
    StationaryGaussian {
        /// The training set; by default `kodak24`, or `bsd100` for tasks on Kodak24, or
        /// `dead-leaves` for dead-leaves tasks (other seeds).
        #[serde(default)]
        training: Option<String>,
        /// Fit each channel's spectral gain and slope to each measurement (the `gaussian-prior`
        /// plugin's `adapt`), so that N̂ varies with the image as N(X|Y = y) does (default true).
        #[serde(default = "yes")]
        adapt: bool,
    },
    /// No estimate: results are reported without a bound.
    None,
}

impl Default for InherentConfig {
    fn default() -> Self {
        InherentConfig::StationaryGaussian { training: None, adapt: true }
    }
}

fn yes() -> bool {
    true
}

/// The program-made set (no download): dead-leaves images, `image_size` pixels square.
pub const DEAD_LEAVES: &str = image_kit::prior::DEAD_LEAVES;

fn default_samples() -> usize {
    8
}
fn default_patches() -> Vec<usize> {
    vec![9, 4]
}

/// One `[[image_task]]` of a suite file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageTaskConfig {
    /// Unique name within the suite.
    pub name: String,
    /// A registered set (`upbench data` lists them), read from the data directory.
    pub dataset: String,
    /// Only the first `images` ground truths of the set (all by default).
    #[serde(default)]
    pub images: Option<usize>,
    /// RGB or grey.
    #[serde(default)]
    pub colour: Colour,
    /// How measurements are made.
    pub degradation: Degradation,
    /// K: samples asked of a stochastic model per image (deterministic models give one).
    #[serde(default = "default_samples")]
    pub samples_per_image: usize,
    /// Patch sides p: the error and perception laws are those of p × p × C patches; each side
    /// is reported as its own task, `<name>/p<p>`, from one run of each model.
    #[serde(default = "default_patches")]
    pub patches: Vec<usize>,
    /// How N(X|Y) is estimated.
    #[serde(default)]
    pub inherent: InherentConfig,
    /// Side of the images of the `dead-leaves` set (default 192).
    #[serde(default)]
    pub image_size: Option<usize>,
    /// At most this many error patches (samples × grid positions) per image and patch side, a
    /// seeded subset of the positions: keeps k-NN estimates affordable (all by default).
    #[serde(default)]
    pub max_points_per_image: Option<usize>,
    /// Images of equal size handed to a model in one call (batched inference; default 4).
    #[serde(default = "default_batch")]
    pub batch_images: usize,
    /// Sample grids (truth, measurement, sample, mean, standard deviation, error) drawn for
    /// each configuration on the first `grid_images` images (default 1; 0 for none).
    #[serde(default = "default_grid_images")]
    pub grid_images: usize,
    /// The PSNR-Y/SSIM convention: `modern` (default), `grey-values` or `matlab-uint8`
    /// ([`Evaluation`]; `docs/protocol.md`, "Distortion").
    #[serde(default)]
    pub evaluation: Evaluation,
    /// Where super-resolution measurements come from: `stored` (the set's ×s LR files, as the
    /// published tables had them) or `degrade` (the task's own bicubic degradation). By default
    /// the stored files where the set ships them for a noise-free RGB task, else `degrade`.
    #[serde(default)]
    pub lr: Option<LrSource>,
}

fn default_grid_images() -> usize {
    1
}

fn default_batch() -> usize {
    4
}

impl ImageTaskConfig {
    /// Checks the settings that need no data: sizes, patch sides, scale, noise, mask.
    pub fn check_settings(&self) -> Result<(), String> {
        if self.samples_per_image == 0 || self.batch_images == 0 {
            return Err("samples_per_image and batch_images must be at least 1".into());
        }
        if self.max_points_per_image.is_some_and(|m| m < 64) {
            return Err("max_points_per_image must be at least 64".into());
        }
        if self.patches.is_empty() || self.patches.iter().any(|&p| p == 0 || p > 32) {
            return Err(format!("patch sides must be between 1 and 32, got {:?}", self.patches));
        }
        if let Degradation::Inpainting { mask, .. } = &self.degradation {
            mask.validate()?;
        }
        let scale = self.degradation.scale();
        if scale == 0 || scale > 16 {
            return Err(format!("scale must be between 1 and 16, got {scale}"));
        }
        let sigma = self.degradation.noise_std();
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(format!("noise_std must be ≥ 0 grey levels, got {sigma}"));
        }
        self.lr_source().map(|_| ())
    }

    /// Where the measurements come from, the default resolved; an error naming why when
    /// `lr = "stored"` is impossible for this task.
    pub fn lr_source(&self) -> Result<LrSource, String> {
        let sr_scale = match self.degradation {
            Degradation::SuperResolution { scale, .. } => Some(scale),
            _ => None,
        };
        let wanted = LrWanted {
            dataset: &self.dataset,
            sr_scale,
            noise_free: self.degradation.noise_std() == 0.0,
            rgb: self.colour == Colour::Rgb,
        };
        stored_lr::resolve(self.lr, &wanted)
    }

    /// The selected ground truths with their stored LR files (paths relative to the set's
    /// folder), when the task reads stored files; else none.
    fn stored_pairs(&self) -> Vec<(String, String)> {
        let (Ok(LrSource::Stored), Ok(set)) = (self.lr_source(), dataset(&self.dataset)) else {
            return Vec::new();
        };
        let truths = set.ground_truths();
        let truths = &truths[..self.images.unwrap_or(truths.len()).min(truths.len())];
        let scale = self.degradation.scale();
        truths.iter().filter_map(|t| Some((t.clone(), set.stored_lr(t, scale)?))).collect()
    }

    /// Every problem that would stop [`ImageTask::build`] or the N(X|Y) estimate before any
    /// image is decoded: the settings, then each file of the set and of the training set that
    /// is missing or fails its checksum, all of them.
    pub fn problems(&self, data_dir: &Path) -> Vec<String> {
        if let Err(e) = self.check_settings() {
            return vec![e];
        }
        let mut sets = vec![(self.dataset.clone(), "dataset")];
        sets.extend(self.training_set().filter(|t| *t != self.dataset).map(|t| (t, "N(X|Y) model's training set")));
        let mut problems = Vec::new();
        for (set, role) in sets.iter().filter(|(s, _)| s.as_str() != DEAD_LEAVES) {
            let registered = match dataset(set) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            let found = registered.verify(data_dir);
            let all_missing = found.len() == registered.files.len()
                && found.iter().all(|e| matches!(e, super::DataError::Missing { .. }));
            if all_missing {
                problems.push(format!(
                    "{role} {set}: none of its {} files is under {}; fetch it with `upbench data {set} --fetch` \
                     or point --data-dir at the folder that holds it",
                    registered.files.len(),
                    data_dir.display()
                ));
            } else {
                problems.extend(found.iter().map(|e| e.to_string()));
            }
        }
        if problems.is_empty() {
            let set_dir = data_dir.join(&self.dataset);
            problems.extend(stored_lr::size_problems(&set_dir, &self.stored_pairs(), self.degradation.scale()));
        }
        problems
    }

    /// What plugins are told about the task.
    pub fn spec(&self, device: upbench_sdk::Device) -> TaskSpec {
        TaskSpec {
            name: self.name.as_str().into(),
            kind: self.degradation.kind().as_str().into(),
            signal_dim: 0,
            measurement_dim: 0,
            operator: Vec::new().into(),
            noise_std: self.degradation.noise_std() / 255.0,
            prior: None.into(),
            device,
            image: Some(ImageTaskSpec::new(self.channels() as u32, self.degradation.scale() as u32)).into(),
            extensions: Extensions::new(),
        }
    }

    /// C.
    pub fn channels(&self) -> usize {
        match self.colour {
            Colour::Rgb => 3,
            Colour::Grey => 1,
        }
    }

    /// The training set of the stationary Gaussian model, defaults resolved.
    pub fn training_set(&self) -> Option<String> {
        match &self.inherent {
            InherentConfig::None => None,
            InherentConfig::StationaryGaussian { training: Some(t), .. } => Some(t.clone()),
            InherentConfig::StationaryGaussian { training: None, .. } => Some(
                match self.dataset.as_str() {
                    DEAD_LEAVES => DEAD_LEAVES,
                    "kodak24" => "bsd100",
                    _ => "kodak24",
                }
                .to_string(),
            ),
        }
    }
}

/// One image of a task.
pub struct ImageCase {
    /// The file, relative to the set's folder.
    pub name: String,
    /// Ground truth `[C, H, W]`, 8-bit values / 255.
    pub truth: Tensor,
    /// What the plugin receives, `[C(+1), h, w]`.
    pub measurement: Tensor,
    /// Hidden pixels `[1, H, W]` (inpainting).
    pub hidden: Option<Tensor>,
    /// How PSNR and SSIM score it, by the task's [`Evaluation`] and whether its file has one
    /// channel (`docs/protocol.md`, "Distortion").
    pub scored_on: ScoredOn,
}

/// A built image task: every case decoded and degraded once, kept on the CPU.
pub struct ImageTask {
    /// Its settings.
    pub config: ImageTaskConfig,
    /// Where its measurements came from, the default resolved.
    pub lr: LrSource,
    /// The images.
    pub cases: Vec<ImageCase>,
}

impl ImageTask {
    /// Reads the set from `data_dir` (checking every file against the registry first) and
    /// makes each image's measurement: the set's stored LR file when the task reads them
    /// ([`LrSource`]), else its own degradation with streams derived from `seed`.
    pub fn build(config: &ImageTaskConfig, data_dir: &Path, seed: u64) -> Result<ImageTask, TaskError> {
        let name = &config.name;
        let invalid = |msg: String| TaskError::Invalid(format!("image task '{name}': {msg}"));
        config.check_settings().map_err(invalid)?;
        let lr = config.lr_source().map_err(invalid)?;
        let scale = config.degradation.scale();
        let sources = sources(config, data_dir).map_err(invalid)?;
        let mut cases = Vec::with_capacity(sources.len());
        for (file, source) in &sources {
            let img = match source {
                Source::File(path) => read_image(path).map_err(|e| invalid(e.to_string()))?,
                Source::DeadLeaves { size, seed } => Image8 {
                    height: *size,
                    width: *size,
                    channels: 3,
                    data: image_kit::dead_leaves(*size, *size, *seed),
                },
            };
            let path = match source {
                Source::File(path) => path.display().to_string(),
                Source::DeadLeaves { .. } => file.clone(),
            };
            let scored_on = config.evaluation.scored_on(img.channels == 1);
            let hr_size = (img.height, img.width);
            let img = match config.colour {
                Colour::Rgb => degrade::to_rgb(&img),
                Colour::Grey => degrade::to_grey(&img),
            };
            let (h, w) = (img.height / scale * scale, img.width / scale * scale);
            if h < 16 || w < 16 {
                return Err(invalid(format!("{path}: {}×{} is too small", img.height, img.width)));
            }
            let img = degrade::crop(&img, h, w);
            let case = match (lr, source) {
                (LrSource::Stored, Source::File(truth)) => {
                    let low = stored_low(config, data_dir, file, truth, hr_size).map_err(invalid)?;
                    stored_case(file, &img, &low)
                }
                _ => degrade_one(file, &img, &config.degradation, derive_seed(seed, &[file.as_str()])),
            };
            cases.push(ImageCase { scored_on, ..case });
        }
        Ok(ImageTask { config: config.clone(), lr, cases })
    }

    /// C.
    pub fn channels(&self) -> usize {
        self.config.channels()
    }

    /// What plugins are told.
    pub fn spec(&self, device: upbench_sdk::Device) -> TaskSpec {
        self.config.spec(device)
    }
}

/// Where one ground truth comes from.
enum Source {
    File(std::path::PathBuf),
    DeadLeaves { size: usize, seed: u64 },
}

/// The task's ground truths by name: files of a registered set (checked against the registry
/// first), or dead-leaves images with seeds that the training set (seeds 1 to 16) does not use.
fn sources(config: &ImageTaskConfig, data_dir: &Path) -> Result<Vec<(String, Source)>, String> {
    if config.dataset == DEAD_LEAVES {
        let size = config.image_size.unwrap_or(192);
        if !(32..=2048).contains(&size) {
            return Err(format!("image_size must be between 32 and 2048, got {size}"));
        }
        let count = config.images.unwrap_or(8);
        return Ok((0..count as u64)
            .map(|i| (format!("dead-leaves-{i:03}"), Source::DeadLeaves { size, seed: 1_000_000 + i }))
            .collect());
    }
    if config.image_size.is_some() {
        return Err("image_size applies to the dead-leaves set only".into());
    }
    let set = dataset(&config.dataset).map_err(|e| e.to_string())?;
    let problems = set.verify(data_dir);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(format!("dataset not usable:\n  {}", list.join("\n  ")));
    }
    let files = set.ground_truths();
    let files = &files[..config.images.unwrap_or(files.len()).min(files.len())];
    if files.is_empty() {
        return Err(format!("no images selected from {}", config.dataset));
    }
    Ok(files.iter().map(|f| (f.clone(), Source::File(data_dir.join(&set.name).join(f)))).collect())
}

/// The stored LR file of the ground truth `file` (`hr/…`, read from `truth`, `hr` its size as
/// read), checked against that size.
fn stored_low(
    config: &ImageTaskConfig,
    data_dir: &Path,
    file: &str,
    truth: &Path,
    hr: (usize, usize),
) -> Result<Image8, String> {
    let scale = config.degradation.scale();
    let set = dataset(&config.dataset).map_err(|e| e.to_string())?;
    let lr = set
        .stored_lr(file, scale)
        .ok_or_else(|| format!("{file}: the set {} lists no lr_x{scale}/ file for it", set.name))?;
    stored_lr::read_stored(&data_dir.join(&set.name).join(lr), truth, hr, scale)
}

/// A case whose measurement is the stored LR image `low` (an RGB task: a grey file replicated).
fn stored_case(file: &str, img: &Image8, low: &Image8) -> ImageCase {
    let measurement = degrade::to_tensor(&degrade::to_rgb(low));
    ImageCase {
        name: file.to_string(),
        truth: degrade::to_tensor(img),
        measurement,
        hidden: None,
        scored_on: ScoredOn::Luma,
    }
}

fn degrade_one(file: &str, img: &Image8, degradation: &Degradation, seed: u64) -> ImageCase {
    let truth = degrade::to_tensor(img);
    let noise = |shape: &[i64], sigma: f64| {
        seed_torch(seed);
        Tensor::randn(shape, (Kind::Float, tch::Device::Cpu)) * (sigma / 255.0)
    };
    let (measurement, hidden) = match degradation {
        Degradation::SuperResolution { scale, noise_std } => {
            let low = degrade::to_tensor(&imresize_bicubic(img, 1.0 / *scale as f64));
            let low = if *noise_std > 0.0 { &low + noise(&low.size(), *noise_std) } else { low };
            (low, None)
        }
        Degradation::Denoising { noise_std } => (&truth + noise(&truth.size(), *noise_std), None),
        Degradation::Inpainting { mask, noise_std } => {
            let hidden = mask.hidden(img.height, img.width, seed);
            let hidden = Tensor::from_slice(&hidden).view([1, img.height as i64, img.width as i64]);
            let observed = hidden.logical_not().to_kind(Kind::Float);
            let noisy =
                if *noise_std > 0.0 { &truth + noise(&truth.size(), *noise_std) } else { truth.shallow_clone() };
            (Tensor::cat(&[noisy * &observed, observed], 0), Some(hidden))
        }
    };
    ImageCase { name: file.to_string(), truth, measurement, hidden, scored_on: ScoredOn::Luma }
}
