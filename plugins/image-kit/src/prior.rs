//! A stationary Gaussian model of natural images: three independent stationary processes on an
//! orthonormal opponent-colour basis (one for grey images), each with a radially symmetric power
//! spectrum fitted on training photographs.
//!
//! It is the image prior under which restoration has a closed-form posterior (Fourier domain,
//! [`crate::posterior`]), used by the `gaussian-prior` plugin and by the harness's estimate of the
//! inherent uncertainty on real images.

use std::path::Path;

use upbench_tch::tch::{self, Kind, Tensor};

/// Rows: luminance, red–blue and green–magenta opponents; orthonormal, so white noise in RGB
/// stays white with the same variance in this basis.
pub const OPPONENT: [[f64; 3]; 3] = [
    [0.577_350_269_189_625_8, 0.577_350_269_189_625_8, 0.577_350_269_189_625_8],
    [0.707_106_781_186_547_5, 0.0, -0.707_106_781_186_547_5],
    [0.408_248_290_463_863, -0.816_496_580_927_726, 0.408_248_290_463_863],
];

/// Radial frequency bins: log-spaced between these (cycles per pixel); lower ones join the first.
const LOWEST_FREQUENCY: f64 = 1.0 / 256.0;
const HIGHEST_FREQUENCY: f64 = std::f64::consts::FRAC_1_SQRT_2;
const BINS: usize = 24;

/// The fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct StationaryPrior {
    /// 1 (grey) or 3 (RGB, modelled in the [`OPPONENT`] basis).
    pub channels: usize,
    /// Mean of each decorrelated channel.
    pub mean: Vec<f64>,
    /// Centres of the radial bins with data, cycles per pixel.
    pub radii: Vec<f64>,
    /// ln of the power spectral density per channel at `radii` (pixel variance = mean of the
    /// density over the frequency grid).
    pub log_psd: Vec<Vec<f64>>,
}

fn basis(channels: usize, kind: Kind, device: tch::Device) -> Tensor {
    if channels == 1 {
        return Tensor::ones([1, 1], (kind, device));
    }
    let flat: Vec<f64> = OPPONENT.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([3, 3]).to_kind(kind).to_device(device)
}

/// Radial frequency |f| of every bin of an `h × w` DFT, cycles per pixel.
pub fn radial_frequency(h: i64, w: i64, device: tch::Device) -> Tensor {
    let freq = |n: i64| {
        let k = Tensor::arange(n, (Kind::Double, device));
        let k = k.shallow_clone() - (k.ge((n + 1) / 2).to_kind(Kind::Double) * n as f64);
        k / n as f64
    };
    let (fy, fx) = (freq(h).view([h, 1]), freq(w).view([1, w]));
    (fy.square() + fx.square()).sqrt()
}

fn bin_of(radius: &Tensor) -> Tensor {
    let log_lo = LOWEST_FREQUENCY.ln();
    let step = (HIGHEST_FREQUENCY.ln() - log_lo) / BINS as f64;
    ((radius.clamp_min(LOWEST_FREQUENCY).log() - log_lo) / step)
        .floor()
        .clamp(0.0, (BINS - 1) as f64)
        .to_kind(Kind::Int64)
}

/// The frequency (cycles per pixel) at which a spectral tilt leaves the power unchanged.
pub const TILT_REFERENCE: f64 = 0.1;

/// The name of the program-made training and test set.
pub const DEAD_LEAVES: &str = "dead-leaves";

/// `[C, H, W]` in [0, 1] from 8-bit RGB, grey (MATLAB's `rgb2gray`, rounded) when `channels` is 1.
fn from_rgb8(data: &[u8], h: i64, w: i64, channels: usize) -> Tensor {
    let rgb = Tensor::from_slice(data).view([h, w, 3]).permute([2, 0, 1]).to_kind(Kind::Double);
    let img = if channels == 1 {
        (rgb.get(0) * 0.298936 + rgb.get(1) * 0.587043 + rgb.get(2) * 0.114021).round().unsqueeze(0)
    } else {
        rgb
    };
    img / 255.0
}

fn hann(n: i64, device: tch::Device) -> Tensor {
    let k = Tensor::arange(n, (Kind::Double, device));
    (1.0 - (k * (2.0 * std::f64::consts::PI / n as f64)).cos()) * 0.5
}

impl StationaryPrior {
    /// Decorrelated channels z = B·x of images `[…, C, H, W]`, minus the model's means.
    pub fn to_decorrelated(&self, x: &Tensor) -> Tensor {
        let b = basis(self.channels, x.kind(), x.device());
        let z = Tensor::einsum("dc,...chw->...dhw", &[&b, x], None::<i64>);
        let mean = Tensor::from_slice(&self.mean).to_kind(x.kind()).to_device(x.device()).view([-1, 1, 1]);
        z - mean
    }

    /// Images x = Bᵀ·(z + means), the inverse of [`StationaryPrior::to_decorrelated`].
    pub fn from_decorrelated(&self, z: &Tensor) -> Tensor {
        let b = basis(self.channels, z.kind(), z.device());
        let mean = Tensor::from_slice(&self.mean).to_kind(z.kind()).to_device(z.device()).view([-1, 1, 1]);
        Tensor::einsum("dc,...dhw->...chw", &[&b, &(z + mean)], None::<i64>)
    }

    /// Fits the model on training images `[C, H, W]` in [0, 1]: channel means, then the
    /// Hann-windowed periodogram of every image averaged over radial log-frequency bins.
    pub fn fit(images: &[Tensor]) -> Result<StationaryPrior, String> {
        let first = images.first().ok_or("no training images")?;
        let channels = first.size()[0] as usize;
        if channels != 1 && channels != 3 {
            return Err(format!("training images must be grey or RGB, got {channels} channels"));
        }
        let mut model = StationaryPrior { channels, mean: vec![0.0; channels], radii: Vec::new(), log_psd: Vec::new() };
        let b = basis(channels, Kind::Double, tch::Device::Cpu);
        let (mut sums, mut count) = (vec![0.0; channels], 0.0);
        for img in images {
            if img.size()[0] as usize != channels {
                return Err("training images mix grey and RGB".into());
            }
            let z = Tensor::einsum("dc,chw->dhw", &[&b, &img.to_kind(Kind::Double)], None::<i64>);
            let s = Vec::<f64>::try_from(z.sum_dim_intlist([1, 2].as_slice(), false, Kind::Double))
                .map_err(|e| e.to_string())?;
            sums.iter_mut().zip(s).for_each(|(a, v)| *a += v);
            count += (img.size()[1] * img.size()[2]) as f64;
        }
        model.mean = sums.iter().map(|s| s / count).collect();
        let mut power = Tensor::zeros([channels as i64, BINS as i64], (Kind::Double, tch::Device::Cpu));
        let mut hits = Tensor::zeros([BINS as i64], (Kind::Double, tch::Device::Cpu));
        for img in images {
            let (h, w) = (img.size()[1], img.size()[2]);
            let window = hann(h, tch::Device::Cpu).view([h, 1]) * hann(w, tch::Device::Cpu).view([1, w]);
            let z = model.to_decorrelated(&img.to_kind(Kind::Double)) * &window;
            let periodogram =
                z.fft_fft2(None::<&[i64]>, [-2, -1], "backward").abs().square() / window.square().sum(Kind::Double);
            let bins = bin_of(&radial_frequency(h, w, tch::Device::Cpu)).flatten(0, -1);
            power = power.index_add(1, &bins, &periodogram.flatten(1, -1));
            hits = hits.index_add(0, &bins, &Tensor::ones([h * w], (Kind::Double, tch::Device::Cpu)));
        }
        let hits = Vec::<f64>::try_from(hits).map_err(|e| e.to_string())?;
        let power: Vec<Vec<f64>> = (0..channels as i64)
            .map(|c| Vec::<f64>::try_from(power.get(c)).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let log_lo = LOWEST_FREQUENCY.ln();
        let step = (HIGHEST_FREQUENCY.ln() - log_lo) / BINS as f64;
        model.log_psd = vec![Vec::new(); channels];
        for (bin, &n) in hits.iter().enumerate() {
            if n > 0.0 {
                model.radii.push((log_lo + (bin as f64 + 0.5) * step).exp());
                for (psd, power) in model.log_psd.iter_mut().zip(&power) {
                    psd.push((power[bin] / n).max(f64::MIN_POSITIVE).ln());
                }
            }
        }
        Ok(model)
    }

    /// The same model with channel c's spectrum multiplied by α_c·(|f|/f_ref)^β_c, for
    /// `(α_c, β_c)` in `fit` and f_ref = [`TILT_REFERENCE`].
    pub fn tilted(&self, fit: &[(f64, f64)]) -> StationaryPrior {
        let mut out = self.clone();
        for (values, (alpha, beta)) in out.log_psd.iter_mut().zip(fit) {
            for (v, r) in values.iter_mut().zip(&self.radii) {
                *v += alpha.ln() + beta * (r / TILT_REFERENCE).ln();
            }
        }
        out
    }

    /// Fits the model on a named training set: `dead-leaves` (16 images of 256 × 256 the program
    /// makes, seeds 1 to 16) or a folder under `data_dir` (its `hr/` when it has one).
    pub fn fit_named(name: &str, data_dir: &Path, channels: usize) -> Result<StationaryPrior, String> {
        if name == DEAD_LEAVES {
            let images: Vec<Tensor> =
                (1..=16).map(|seed| from_rgb8(&crate::dead_leaves(256, 256, seed), 256, 256, channels)).collect();
            return StationaryPrior::fit(&images);
        }
        let dir = data_dir.join(name);
        let hr = dir.join("hr");
        StationaryPrior::fit_dir(if hr.is_dir() { &hr } else { &dir }, channels)
    }

    /// Fits the model on every PNG directly in `dir`, read as 8-bit RGB (or grey when
    /// `channels` is 1, as MATLAB's `rgb2gray`).
    pub fn fit_dir(dir: &Path, channels: usize) -> Result<StationaryPrior, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: cannot list training images: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("{}: no PNG training images", dir.display()));
        }
        let mut images = Vec::with_capacity(files.len());
        for path in &files {
            let img = image::open(path).map_err(|e| format!("{}: {e}", path.display()))?.to_rgb8();
            images.push(from_rgb8(img.as_raw(), img.height() as i64, img.width() as i64, channels));
        }
        StationaryPrior::fit(&images)
    }

    /// The power spectral density of every decorrelated channel on an `h × w` DFT grid,
    /// `[C, h, w]`: ln S interpolated linearly in ln |f| between bin centres, constant beyond.
    pub fn spectrum(&self, h: i64, w: i64, device: tch::Device) -> Tensor {
        let r = radial_frequency(h, w, device).clamp_min(1e-12).log();
        let knots = Tensor::from_slice(&self.radii).log().to_device(device);
        let n = self.radii.len() as i64;
        let upper = r.contiguous().searchsorted(&knots, false, false, "left", None::<Tensor>).clamp(1, (n - 1).max(1));
        let lower = (&upper - 1).clamp_min(0);
        let (k0, k1) = (knots.take(&lower), knots.take(&upper));
        let t = ((&r - &k0) / (&k1 - &k0).clamp_min(1e-12)).clamp(0.0, 1.0);
        let per_channel: Vec<Tensor> = self
            .log_psd
            .iter()
            .map(|values| {
                let v = Tensor::from_slice(values).to_device(device);
                let (v0, v1) = (v.take(&lower), v.take(&upper));
                (&v0 + (v1 - &v0) * &t).exp()
            })
            .collect();
        Tensor::stack(&per_channel, 0)
    }
}
