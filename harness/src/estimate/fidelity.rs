//! Distortion metrics as the super-resolution literature computes them, so that upbench's
//! numbers can be set beside published tables: images quantised to 8 bits, PSNR and SSIM on the
//! luma Y of ITU-R BT.601 (range 16–235) with `border` pixels cropped on every side, SSIM after
//! Wang et al. (2004): 11 × 11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255, over the
//! valid region (BasicSR's `calculate_ssim`).
//!
//! Tables differ in two details, so the convention is named ([`Evaluation`]): whether Y is kept
//! in float or rounded to integers (MATLAB's `rgb2ycbcr` on `uint8`), and whether a one-channel
//! file (Set14's bridge) is scored as the Y of its replicated RGB or on its grey values
//! (`docs/protocol.md`, "Distortion").

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// The convention PSNR-Y and SSIM follow (`evaluation` of an `[[image_task]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evaluation {
    /// The modern papers' and BasicSR's: Y in float from the 8-bit RGB output, a one-channel
    /// file replicated to RGB and scored as the Y of that RGB.
    #[default]
    Modern,
    /// Y in float; a one-channel file scored on its grey values (upbench's convention before
    /// issue [14], and what results files without the field used; the VDSR-era bicubic table).
    GreyValues,
    /// Y rounded to integers as MATLAB's `rgb2ycbcr` returns it on `uint8` images; a one-channel
    /// file scored on its grey values (MATLAB evaluation scripts that convert only 3-channel files).
    MatlabUint8,
}

impl Evaluation {
    /// The name a suite file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Evaluation::Modern => "modern",
            Evaluation::GreyValues => "grey-values",
            Evaluation::MatlabUint8 => "matlab-uint8",
        }
    }

    /// The convention of results files written before the field existed.
    pub fn legacy() -> Evaluation {
        Evaluation::GreyValues
    }

    /// What an image is scored on under this convention, given whether its file has one channel.
    pub fn scored_on(self, one_channel_file: bool) -> ScoredOn {
        match (self, one_channel_file) {
            (Evaluation::GreyValues | Evaluation::MatlabUint8, true) => ScoredOn::Grey,
            (Evaluation::Modern | Evaluation::GreyValues, _) => ScoredOn::Luma,
            (Evaluation::MatlabUint8, false) => ScoredOn::RoundedLuma,
        }
    }
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which channel the literature's PSNR and SSIM of an image are computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoredOn {
    /// The luma Y of ITU-R BT.601 (16–235) in float.
    Luma,
    /// That Y rounded to integers (MATLAB's `rgb2ycbcr` on `uint8`).
    RoundedLuma,
    /// The grey values themselves (0–255), as older tables score one-channel files (Set14's
    /// bridge): MATLAB evaluation code converts to Y only when the file has three channels.
    Grey,
}

/// The channel an image is scored on, `[N, 1, H, W]` in grey levels, from `[N, C, H, W]` images
/// in [0, 1] after rounding to 8 bits: the BT.601 luma Y (float or rounded), or for
/// [`ScoredOn::Grey`] the grey value (MATLAB's `rgb2gray` weights, which return a grey image's
/// value from its three equal channels). A one-channel tensor (a grey task) is its own value
/// under every convention, as grey-image tables score it.
pub fn scored_channel(images: &Tensor, scored_on: ScoredOn) -> Tensor {
    let q = (images.to_kind(Kind::Double).clamp(0.0, 1.0) * 255.0).round();
    if q.size()[1] == 1 {
        return q;
    }
    let c = |i: i64| q.narrow(1, i, 1);
    let luma = || (c(0) * 65.481 + c(1) * 128.553 + c(2) * 24.966) / 255.0 + 16.0;
    match scored_on {
        ScoredOn::Luma => luma(),
        // half away from zero, as MATLAB rounds (libtorch's `round` goes to even); y − ⌊y⌋ is exact
        ScoredOn::RoundedLuma => {
            let y = luma();
            let floor = y.floor();
            let up = (&y - &floor).ge(0.5).to_kind(Kind::Double);
            floor + up
        }
        ScoredOn::Grey => (c(0) * 0.298936 + c(1) * 0.587043 + c(2) * 0.114021).round(),
    }
}

fn crop(y: &Tensor, border: i64) -> Tensor {
    let (h, w) = (y.size()[2], y.size()[3]);
    y.narrow(2, border, h - 2 * border).narrow(3, border, w - 2 * border)
}

/// PSNR of the scored channel of each of `restored` `[N, C, H, W]` against `truth` `[C, H, W]`,
/// dB.
pub fn psnr_y(restored: &Tensor, truth: &Tensor, border: i64, scored_on: ScoredOn) -> Vec<f64> {
    let channel = |x: &Tensor| crop(&scored_channel(x, scored_on), border);
    let (a, b) = (channel(restored), channel(&truth.unsqueeze(0)));
    let mse = (a - b).square().mean_dim([1, 2, 3].as_slice(), false, Kind::Double);
    let mse = Vec::<f64>::try_from(mse.to_device(tch::Device::Cpu)).unwrap_or_default();
    mse.into_iter().map(|m| 10.0 * (255.0 * 255.0 / m).log10()).collect()
}

/// `x` `[N, 1, H, W]` filtered by the separable window `taps` ⊗ `taps` without padding
/// (`[N, 1, H − t + 1, W − t + 1]`): a pass of t shifted multiply-adds along each axis, added in
/// place. The same sums as a t × t convolution; libtorch's float64 convolution on the CPU copies
/// every image t² times (im2col), which made SSIM 90 % of an image task's estimation time.
fn gaussian_window(x: &Tensor, taps: &[f64]) -> Tensor {
    let weights: Vec<Tensor> = taps.iter().map(|&t| Tensor::from(t).to_device(x.device())).collect();
    let pass = |x: &Tensor, dim: i64| {
        let len = x.size()[dim as usize] - taps.len() as i64 + 1;
        let mut sum = x.narrow(dim, 0, len) * taps[0];
        for (k, weight) in weights.iter().enumerate().skip(1) {
            let _ = sum.addcmul_(&x.narrow(dim, k as i64, len), weight);
        }
        sum
    };
    pass(&pass(x, 2), 3)
}

/// SSIM of the scored channel of each of `restored` `[N, C, H, W]` against `truth` `[C, H, W]`.
pub fn ssim_y(restored: &Tensor, truth: &Tensor, border: i64, scored_on: ScoredOn) -> Vec<f64> {
    let a = crop(&scored_channel(restored, scored_on), border);
    let b = crop(&scored_channel(&truth.unsqueeze(0), scored_on), border);
    // the 11 × 11 Gaussian window of σ = 1.5 is the outer product of these normalised taps
    let taps: Vec<f64> = (-5..=5).map(|k: i32| (-f64::from(k * k) / (2.0 * 1.5 * 1.5)).exp()).collect();
    let total: f64 = taps.iter().sum();
    let taps: Vec<f64> = taps.iter().map(|t| t / total).collect();
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    // the truth's local moments once; each restoration's three in one pass of the window, one
    // restoration at a time (temporaries of one image stay in cache, not fresh pages)
    let truth_moments = gaussian_window(&Tensor::cat(&[&b, &(&b * &b)], 0), &taps);
    let mu_b = truth_moments.narrow(0, 0, 1);
    let mu_bb = &mu_b * &mu_b;
    let var_b = truth_moments.narrow(0, 1, 1) - &mu_bb;
    let per_image: Vec<Tensor> = (0..a.size()[0])
        .map(|i| {
            let a = a.narrow(0, i, 1);
            let moments = gaussian_window(&Tensor::cat(&[&a, &(&a * &a), &(&a * &b)], 0), &taps);
            let mu_a = moments.narrow(0, 0, 1);
            let (mu_aa, mu_ab) = (&mu_a * &mu_a, &mu_a * &mu_b);
            let var_a = moments.narrow(0, 1, 1) - &mu_aa;
            let cov = moments.narrow(0, 2, 1) - &mu_ab;
            let map = ((mu_ab * 2.0 + c1) * (cov * 2.0 + c2)) / ((mu_aa + &mu_bb + c1) * (var_a + &var_b + c2));
            map.mean(Kind::Double)
        })
        .collect();
    if per_image.is_empty() {
        return Vec::new();
    }
    Vec::<f64>::try_from(Tensor::stack(&per_image, 0).to_device(tch::Device::Cpu)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_and_ssim_of_known_differences() {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(3);
        let truth = Tensor::rand([3, 48, 40], (Kind::Double, tch::Device::Cpu));
        let identical = truth.unsqueeze(0);
        assert!(psnr_y(&identical, &truth, 4, ScoredOn::Luma)[0].is_infinite());
        assert!((ssim_y(&identical, &truth, 4, ScoredOn::Luma)[0] - 1.0).abs() < 1e-12);
        // A uniform shift of 10 grey levels in every channel shifts Y by 10·219/255.
        let shifted = ((&truth * 255.0).round().clamp(0.0, 235.0) + 10.0) / 255.0;
        let base = (&truth * 255.0).round().clamp(0.0, 235.0) / 255.0;
        let dy: f64 = 10.0 * (65.481 + 128.553 + 24.966) / 255.0;
        let want = 20.0 * (255.0 / dy).log10();
        assert!((psnr_y(&shifted.unsqueeze(0), &base, 0, ScoredOn::Luma)[0] - want).abs() < 1e-9);
        // SSIM of a constant shift keeps contrast and structure: only the luminance term drops.
        let s = ssim_y(&shifted.unsqueeze(0), &base, 0, ScoredOn::Luma)[0];
        assert!(s < 1.0 && s > 0.95, "{s}");
    }

    #[test]
    fn each_convention_scores_colour_and_one_channel_files_as_named() {
        assert_eq!(Evaluation::default(), Evaluation::Modern);
        let on = |e: Evaluation| (e.scored_on(false), e.scored_on(true));
        assert_eq!(on(Evaluation::Modern), (ScoredOn::Luma, ScoredOn::Luma));
        assert_eq!(on(Evaluation::GreyValues), (ScoredOn::Luma, ScoredOn::Grey));
        assert_eq!(on(Evaluation::MatlabUint8), (ScoredOn::RoundedLuma, ScoredOn::Grey));
        // (R, G, B) = (1, 0, 0): Y = 16 + 65.481/255 = 16.2568 → 16; (0, 2, 0): 17.0083 → 17;
        // (3, 3, 3): 16 + 3·219/255 = 18.5765 → 19; (255, 255, 255): 235 exactly
        let rgb = Tensor::from_slice(&[1.0, 0.0, 3.0, 255.0, 0.0, 2.0, 3.0, 255.0, 0.0, 0.0, 3.0, 255.0]);
        let rgb = rgb.view([1, 3, 1, 4]) / 255.0;
        let values = |s: ScoredOn| Vec::<f64>::try_from(scored_channel(&rgb, s).flatten(0, -1)).unwrap();
        assert_eq!(values(ScoredOn::RoundedLuma), [16.0, 17.0, 19.0, 235.0]);
        let float = values(ScoredOn::Luma);
        assert!((float[2] - (16.0 + 3.0 * 219.0 / 255.0)).abs() < 1e-12, "{float:?}");
        assert_eq!(values(ScoredOn::Grey), [0.0, 1.0, 3.0, 255.0]);
    }

    /// Wang et al.'s SSIM written as they wrote it, one 11 × 11 window convolved with each local
    /// moment of each image, against the separable passes and the truth's moments shared.
    #[test]
    fn ssim_equals_the_direct_two_dimensional_window() {
        let _rng = crate::seed::torch_rng_lock();
        tch::manual_seed(8);
        let truth = Tensor::rand([3, 37, 45], (Kind::Double, tch::Device::Cpu));
        let restored = (truth.unsqueeze(0) + Tensor::randn([4, 3, 37, 45], (Kind::Double, tch::Device::Cpu)) * 0.1)
            .clamp(0.0, 1.0);
        let g = Tensor::arange_start(-5, 6, (Kind::Double, tch::Device::Cpu)).square() / (-2.0 * 1.5 * 1.5);
        let g = g.exp();
        let window = (g.view([11, 1]) * g.view([1, 11])) / g.sum(Kind::Double).square();
        let filter = |x: &Tensor| x.conv2d(&window.view([1, 1, 11, 11]), None::<&Tensor>, [1, 1], [0, 0], [1, 1], 1);
        let a = crop(&scored_channel(&restored, ScoredOn::Luma), 2);
        let b = crop(&scored_channel(&truth.unsqueeze(0), ScoredOn::Luma), 2).expand_as(&a);
        let (mu_a, mu_b) = (filter(&a), filter(&b));
        let var_a = filter(&(&a * &a)) - &mu_a * &mu_a;
        let var_b = filter(&(&b * &b)) - &mu_b * &mu_b;
        let cov = filter(&(&a * &b)) - &mu_a * &mu_b;
        let (c1, c2) = (6.5025, 58.5225);
        let map = ((&mu_a * &mu_b * 2.0 + c1) * (cov * 2.0 + c2))
            / ((mu_a.square() + mu_b.square() + c1) * (var_a + var_b + c2));
        let want = Vec::<f64>::try_from(map.mean_dim([1, 2, 3].as_slice(), false, Kind::Double)).unwrap();
        let got = ssim_y(&restored, &truth, 2, ScoredOn::Luma);
        assert_eq!(got.len(), 4);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12 && *w < 0.99, "{got:?} vs {want:?}");
        }
    }
}
