//! BRISQUE (Mittal, Moorthy and Bovik 2012, "No-reference image quality assessment in the
//! spatial domain") as PyPI `brisque` 0.2.0 computes it, with its LIVE ε-SVR
//! (`brisque_svr.json`, converted from the package's `svm.txt` and `normalize.pickle`).
//!
//! Convention (the package's, not the MATLAB release's): grey = scikit-image `rgb2gray` of the
//! 8-bit RGB image on [0, 1] (Rec. 709 weights 0.2125, 0.7154, 0.0721, not BT.601; a grey file is
//! replicated to RGB first); no border crop; MSCN with a normalised 7×7 Gaussian (σ = 7/6) by
//! `scipy.signal.convolve2d(…, 'same')` (zero padding), `σ = √|μ² − conv(I²)|`, C = 1/255;
//! 18 features (`[α, σ²]` of the MSCN map, `[α, mean, σ_l², σ_r²]` of its H, V, D1, D2
//! neighbour products, α the exact root of ρ(α) = R̂) at full scale and again after OpenCV's
//! bicubic ×½ (`INTER_CUBIC`, a = −0.75); scaled to [−1, 1] and scored by the SVR.
//!
//! The arithmetic is the package's in float64, to the last bit where it matters: numpy's
//! pairwise sums, scipy's summation order in `convolve2d`, OpenCV's in `resize`, and the fused
//! multiply-adds numpy's `rgb2gray` matrix product uses on this CPU. On flat, saturated areas
//! the score depends on those bits (whether an MSCN value there is exactly 0, counted on the
//! right, or ±1e-16): rounding the grey image to float32 first moves the package's own score by
//! 21 % on Set5 `img_004` and Set14 `img_006` (`docs/metrics.md`).

use std::path::{Path, PathBuf};

use super::{check_image, gamma, pairwise_sum, Better, Image8, QualityError, QualityMeasure, Reference};

const METRIC: &str = "brisque";
const FEATURES: usize = 36;

/// BRISQUE with the shipped SVR.
pub struct Brisque {
    file: PathBuf,
    min: Vec<f64>,
    max: Vec<f64>,
    gamma: f64,
    rho: f64,
    coef: Vec<f64>,
    /// One row of 36 scaled features per support vector.
    support_vectors: Vec<Vec<f64>>,
    /// The normalised 7×7 Gaussian, row-major.
    kernel: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct SvrFile {
    scaling: Scaling,
    svr: Svr,
}

#[derive(serde::Deserialize)]
struct Scaling {
    min: Vec<f64>,
    max: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct Svr {
    gamma: f64,
    rho: f64,
    coef: Vec<f64>,
    support_vectors: Vec<Vec<f64>>,
}

impl Brisque {
    /// The parameter file's name in the models directory.
    pub const FILE: &'static str = "brisque_svr.json";

    /// Reads and checks `brisque_svr.json` in `models_dir`.
    pub fn load(models_dir: &Path) -> Result<Brisque, QualityError> {
        let file = models_dir.join(Self::FILE);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| QualityError::Read { path: file.clone(), reason: e.to_string() })?;
        let parsed: SvrFile = serde_json::from_str(&text)
            .map_err(|e| QualityError::Read { path: file.clone(), reason: e.to_string() })?;
        let bad =
            |name: &str, reason: String| QualityError::Parameter { path: file.clone(), name: name.into(), reason };
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        for (name, v) in [("scaling.min", &parsed.scaling.min), ("scaling.max", &parsed.scaling.max)] {
            if v.len() != FEATURES || !finite(v) {
                return Err(bad(name, format!("{} values (finite: {}), expected 36 finite", v.len(), finite(v))));
            }
        }
        if let Some(i) = (0..FEATURES).find(|&i| parsed.scaling.max[i] <= parsed.scaling.min[i]) {
            return Err(bad("scaling", format!("feature {i}: max ≤ min")));
        }
        let svr = parsed.svr;
        if !(svr.gamma.is_finite() && svr.gamma > 0.0 && svr.rho.is_finite()) {
            return Err(bad("svr", format!("gamma {} and rho {} must be finite, gamma > 0", svr.gamma, svr.rho)));
        }
        if svr.coef.is_empty() || svr.coef.len() != svr.support_vectors.len() || !finite(&svr.coef) {
            return Err(bad(
                "svr.coef",
                format!(
                    "{} coefficients for {} support vectors (all finite: {})",
                    svr.coef.len(),
                    svr.support_vectors.len(),
                    finite(&svr.coef)
                ),
            ));
        }
        if let Some(i) = svr.support_vectors.iter().position(|v| v.len() != FEATURES || !finite(v)) {
            return Err(bad("svr.support_vectors", format!("row {i} is not 36 finite values")));
        }
        Ok(Brisque {
            file,
            min: parsed.scaling.min,
            max: parsed.scaling.max,
            gamma: svr.gamma,
            rho: svr.rho,
            coef: svr.coef,
            support_vectors: svr.support_vectors,
            kernel: gaussian_kernel(),
        })
    }

    /// The SVR's score of already scaled features `x` (each in [−1, 1] on the training data):
    /// `Σ coef_k exp(−γ‖sv_k − x‖²) − ρ`, summed in libsvm's order.
    pub fn predict_scaled(&self, x: &[f64; FEATURES]) -> f64 {
        let mut sum = 0.0;
        for (c, sv) in self.coef.iter().zip(&self.support_vectors) {
            let mut d2 = 0.0;
            for (a, b) in x.iter().zip(sv) {
                let d = a - b;
                d2 += d * d;
            }
            sum += c * (-self.gamma * d2).exp();
        }
        sum - self.rho
    }

    /// The score of raw features: scaled by the file's minima and maxima to [−1, 1], then
    /// [`Brisque::predict_scaled`].
    pub fn predict(&self, features: &[f64; FEATURES]) -> f64 {
        let mut x = [0.0; FEATURES];
        for i in 0..FEATURES {
            x[i] = -1.0 + (2.0 / (self.max[i] - self.min[i]) * (features[i] - self.min[i]));
        }
        self.predict_scaled(&x)
    }

    /// The 36 raw features of an image (18 at full scale, 18 after the ×½ resize).
    pub fn features(&self, image: &Image8) -> Result<[f64; FEATURES], QualityError> {
        check_image(METRIC, image)?;
        let (h, w) = (image.height, image.width);
        if h < 8 || w < 8 {
            return Err(QualityError::Image {
                metric: METRIC,
                reason: format!("{h}×{w} px; BRISQUE needs at least 8×8"),
            });
        }
        let grey = grey_like_skimage(image);
        let mut f = [0.0; FEATURES];
        f[..18].copy_from_slice(&self.scale_features(&grey, h, w)?);
        let (half, hh, hw) = halve_like_opencv(&grey, h, w);
        f[18..].copy_from_slice(&self.scale_features(&half, hh, hw)?);
        Ok(f)
    }

    /// The 18 features at one scale: the package's `calculate_brisque_features`.
    fn scale_features(&self, img: &[f64], h: usize, w: usize) -> Result<[f64; 18], QualityError> {
        let mu = convolve2d_same(img, h, w, &self.kernel);
        let sq: Vec<f64> = img.iter().map(|v| v * v).collect();
        let mu_sq = convolve2d_same(&sq, h, w, &self.kernel);
        let c = 1.0 / 255.0;
        let m: Vec<f64> =
            (0..h * w).map(|i| (img[i] - mu[i]) / ((mu[i] * mu[i] - mu_sq[i]).abs().sqrt() + c)).collect();
        let product = |(r0, c0): (usize, usize), (r1, c1): (usize, usize), rows: usize, cols: usize| -> Vec<f64> {
            (0..rows)
                .flat_map(|r| (0..cols).map(move |q| (r, q)))
                .map(|(r, q)| m[(r + r0) * w + q + c0] * m[(r + r1) * w + q + c1])
                .collect()
        };
        let mut f = [0.0; 18];
        let (alpha, _, l, r) = aggd_fit(&m)?;
        f[0] = alpha;
        f[1] = (l * l + r * r) / 2.0;
        let pairs = [
            product((0, 0), (0, 1), h, w - 1),     // horizontal
            product((0, 0), (1, 0), h - 1, w),     // vertical
            product((0, 0), (1, 1), h - 1, w - 1), // main diagonal
            product((1, 0), (0, 1), h - 1, w - 1), // secondary diagonal: m[1:, :-1] · m[:-1, 1:]
        ];
        for (k, p) in pairs.iter().enumerate() {
            let (alpha, mean, l, r) = aggd_fit(p)?;
            f[2 + 4 * k..6 + 4 * k].copy_from_slice(&[alpha, mean, l * l, r * r]);
        }
        Ok(f)
    }
}

impl QualityMeasure for Brisque {
    fn name(&self) -> &'static str {
        METRIC
    }

    fn reference(&self) -> Reference {
        Reference::None
    }

    fn better(&self) -> Better {
        Better::Lower
    }

    fn convention(&self) -> String {
        format!(
            "BRISQUE as PyPI brisque 0.2.0: skimage rgb2gray (Rec.709 on [0,1]; grey files replicated), no crop, \
             float64, OpenCV INTER_CUBIC x0.5 second scale, SVR {}",
            self.file.display()
        )
    }

    fn score(&self, image: &Image8, _reference: Option<&Image8>) -> Result<f64, QualityError> {
        let f = self.features(image)?;
        let score = self.predict(&f);
        if !score.is_finite() {
            return Err(QualityError::Numeric { metric: METRIC, reason: format!("score {score} from features {f:?}") });
        }
        Ok(score)
    }
}

/// scikit-image's `rgb2gray` of 8-bit RGB: x·(1/255), then `rgb @ [0.2125, 0.7154, 0.0721]`,
/// which numpy evaluates on this CPU as fma(B, 0.0721, fma(R, 0.2125, G·0.7154)).
fn grey_like_skimage(image: &Image8) -> Vec<f64> {
    let grey = |r: u8, g: u8, b: u8| {
        let c = |v: u8| f64::from(v) * (1.0 / 255.0);
        c(b).mul_add(0.0721, c(r).mul_add(0.2125, c(g) * 0.7154))
    };
    if image.channels == 1 {
        image.data.iter().map(|&v| grey(v, v, v)).collect()
    } else {
        image.data.chunks_exact(3).map(|p| grey(p[0], p[1], p[2])).collect()
    }
}

/// The package's 7×7 Gaussian, σ = 7/6: 1/(2πσ²)·exp(−(x² + y²)/(2σ²)) divided by its numpy
/// (pairwise) sum.
fn gaussian_kernel() -> Vec<f64> {
    let sigma = 7.0f64 / 6.0;
    let s2 = sigma * sigma;
    let norm = 1.0 / (2.0 * std::f64::consts::PI * s2);
    let raw: Vec<f64> = (0..49)
        .map(|i| {
            let (y, x) = ((i / 7) as i64 - 3, (i % 7) as i64 - 3);
            norm * ((-(x * x + y * y)) as f64 / (2.0 * s2)).exp()
        })
        .collect();
    let total = pairwise_sum(&raw);
    raw.iter().map(|v| v / total).collect()
}

/// `scipy.signal.convolve2d(img, kernel, 'same')` with zero fill, summed as scipy's
/// `DOUBLE_onemultadd` does: per kernel row j, `sum += ((t0 + t1) + t2) + t3`, then `+= t4`,
/// `+= t5`, `+= t6`, with t_k = h[j][k] · img[m + 3 − j][n + 3 − k] (0 outside).
fn convolve2d_same(img: &[f64], h: usize, w: usize, kernel: &[f64]) -> Vec<f64> {
    let at = |r: i64, c: i64| -> f64 {
        if r < 0 || c < 0 || r >= h as i64 || c >= w as i64 {
            0.0
        } else {
            img[r as usize * w + c as usize]
        }
    };
    let mut out = vec![0.0; h * w];
    for m in 0..h as i64 {
        for n in 0..w as i64 {
            let mut sum = 0.0f64;
            for j in 0..7i64 {
                let t = |k: i64| kernel[(j * 7 + k) as usize] * at(m + 3 - j, n + 3 - k);
                sum += ((t(0) + t(1)) + t(2)) + t(3);
                sum += t(4);
                sum += t(5);
                sum += t(6);
            }
            out[m as usize * w + n as usize] = sum;
        }
    }
    out
}

/// OpenCV's `cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=INTER_CUBIC)` on a float64
/// image: size rounded half to even, source x = 2·dx + 0.5, taps (−0.09375, 0.59375, 0.59375,
/// −0.09375) at 2dx − 1 … 2dx + 2 clamped to the image, rows resized first, each sum
/// left to right.
fn halve_like_opencv(img: &[f64], h: usize, w: usize) -> (Vec<f64>, usize, usize) {
    let oh = (h as f64 * 0.5).round_ties_even() as usize;
    let ow = (w as f64 * 0.5).round_ties_even() as usize;
    let a = [-0.09375, 0.59375, 0.59375, -0.09375];
    let taps = |d: usize, len: usize| -> [usize; 4] {
        let s = 2 * d as i64;
        [0, 1, 2, 3].map(|j| (s - 1 + j).clamp(0, len as i64 - 1) as usize)
    };
    let mut across = vec![0.0; h * ow];
    for r in 0..h {
        let row = &img[r * w..(r + 1) * w];
        for dx in 0..ow {
            let t = taps(dx, w);
            across[r * ow + dx] = ((row[t[0]] * a[0] + row[t[1]] * a[1]) + row[t[2]] * a[2]) + row[t[3]] * a[3];
        }
    }
    let mut out = vec![0.0; oh * ow];
    for dy in 0..oh {
        let t = taps(dy, h);
        for x in 0..ow {
            let s = |k: usize| across[t[k] * ow + x] * a[k];
            out[dy * ow + x] = ((s(0) + s(1)) + s(2)) + s(3);
        }
    }
    (out, oh, ow)
}

/// ρ(α) = Γ(2/α)² / (Γ(1/α) Γ(3/α)), through ln Γ so that small α do not overflow.
fn rho(alpha: f64) -> f64 {
    use statrs::function::gamma::ln_gamma;
    (2.0 * ln_gamma(2.0 / alpha) - ln_gamma(1.0 / alpha) - ln_gamma(3.0 / alpha)).exp()
}

/// The package's `asymmetric_generalized_gaussian_fit`: (α, mean, σ_l, σ_r), with α the root
/// of ρ(α) = R̂ (the package asks `scipy.optimize.root` from 0.2; here bisection to the last
/// bit, the same root to its tolerance of 1.5e-8).
fn aggd_fit(x: &[f64]) -> Result<(f64, f64, f64, f64), QualityError> {
    let size = x.len() as f64;
    let abs: Vec<f64> = x.iter().map(|v| v.abs()).collect();
    let sq: Vec<f64> = x.iter().map(|v| v * v).collect();
    let m = pairwise_sum(&abs) / size;
    let r_hat = m * m / (pairwise_sum(&sq) / size);
    let mean_squares = |keep: &dyn Fn(f64) -> bool| {
        let v: Vec<f64> = x.iter().filter(|&&v| keep(v)).map(|v| v * v).collect();
        pairwise_sum(&v) / v.len() as f64
    };
    let left = mean_squares(&|v| v < 0.0);
    let right = mean_squares(&|v| v >= 0.0);
    let g = left.sqrt() / right.sqrt();
    let big_r = r_hat * ((g.powf(3.0) + 1.0) * (g + 1.0)) / ((g * g + 1.0) * (g * g + 1.0));
    let (mut lo, mut hi) = (0.05f64, 20.0f64);
    if !(rho(lo) < big_r && big_r < rho(hi)) {
        return Err(QualityError::Numeric {
            metric: METRIC,
            reason: format!(
                "AGGD fit: R̂ = {big_r} has no shape parameter in [0.05, 20] (a constant or blocky image; docs/metrics.md)"
            ),
        });
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if rho(mid) < big_r {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let alpha = 0.5 * (lo + hi);
    let (sl, sr) = (left.sqrt(), right.sqrt());
    let constant = (gamma(1.0 / alpha) / gamma(3.0 / alpha)).sqrt();
    let mean = (sr - sl) * constant * (gamma(2.0 / alpha) / gamma(1.0 / alpha));
    Ok((alpha, mean, sl, sr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        let k = gaussian_kernel();
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(k[0], k[48]);
        assert!(k[24] > k[23] && k[23] > k[22]);
    }

    #[test]
    fn opencv_halving_keeps_constants_and_rounds_sizes_half_to_even() {
        let (out, oh, ow) = halve_like_opencv(&vec![0.25; 11 * 10], 11, 10);
        // 5.5 → 6, 5 → 5
        assert_eq!((oh, ow), (6, 5));
        assert!(out.iter().all(|&v| (v - 0.25).abs() < 1e-15));
    }

    #[test]
    fn a_laplace_sample_fits_alpha_one() {
        // the quantiles of a Laplace law (b = 1): α = 1, σ_l = σ_r = √2, mean 0
        let n = 100_000;
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let p = (i as f64 + 0.5) / n as f64 - 0.5;
                -p.signum() * (1.0 - 2.0 * p.abs()).ln()
            })
            .collect();
        let (alpha, mean, l, r) = aggd_fit(&x).unwrap();
        assert!((alpha - 1.0).abs() < 0.01, "{alpha}");
        assert!((l - 2f64.sqrt()).abs() < 0.01 && (r - 2f64.sqrt()).abs() < 0.01, "{l} {r}");
        assert!(mean.abs() < 1e-3, "{mean}");
        // ρ(2) = 2/π, the Gaussian's (E|x|)²/E x²
        assert!((rho(2.0) - 2.0 / std::f64::consts::PI).abs() < 1e-14);
    }
}
