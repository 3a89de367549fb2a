//! NIQE (Mittal, Soundararajan and Bovik 2013, "Making a 'completely blind' image quality
//! analyzer") as BasicSR's `calculate_niqe` computes it (XPixelGroup/BasicSR
//! `basicsr/metrics/niqe.py`, commit 8d56e3a, which matches the official MATLAB release to 1e-7
//! on its test image), with the pristine model BasicSR ships (`niqe_pris_params.safetensors`).
//!
//! Convention (the SR literature's, PIRM/BasicSR): Y of BT.601 YCbCr from 8-bit RGB (a
//! one-channel file is scored on its grey values, as BasicSR's script reads it), `crop_border`
//! pixels cut on every side (the SR scale), Y rounded to integers, the image cut to whole 96×96
//! blocks; at each of two scales the MSCN map (7×7 Gaussian, edge mode 'nearest',
//! `(I − μ)/(σ + 1)`) and per block the 18 GGD/AGGD features (shape by argmin over a 0.001 grid);
//! the second scale is BasicSR's MATLAB-style `imresize(·, 0.5)` (bicubic, antialiased) in
//! float32; `NIQE = √((μp − μd)ᵀ pinv((Σp + Σd)/2) (μp − μd))` over the blocks' features.
//!
//! The arithmetic is BasicSR's, step by step: float32 images and MSCN maps, numpy's float32
//! pairwise means, the halving with the same libtorch float32 operations (weights, `mv` per
//! output line) as BasicSR's torch code. On flat or saturated areas NIQE depends on the last bit
//! of these (the sign of (I − μ) where it should be 0 decides which side of the AGGD a
//! coefficient falls on): in float64 the reference itself moves by 3–4 % on Set5 `img_004` and
//! Set14 `img_006` (`docs/metrics.md`).
//!
//! At least two 96×96 blocks are needed (one block gives BasicSR a NaN covariance and a failed
//! SVD); a side under 96 px after the crop has no block at all.

use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use super::{
    check_image, gamma, pairwise_sum, read_safetensors, take_tensor, Better, Image8, QualityError, QualityMeasure,
    Reference,
};

const METRIC: &str = "niqe";
const BLOCK: usize = 96;
const FEATURES: usize = 36;

/// NIQE with the pristine model and a border crop.
pub struct Niqe {
    file: PathBuf,
    mu: Vec<f64>,
    /// 36 × 36, row-major.
    cov: Vec<f64>,
    /// 7 × 7, row-major.
    window: Vec<f64>,
    crop_border: usize,
    /// BasicSR's grid of shape parameters, `np.arange(0.2, 10.001, 0.001)`, and ρ(α) on it.
    grid: Vec<f64>,
    ratio: Vec<f64>,
}

impl Niqe {
    /// The parameter file's name in the models directory.
    pub const FILE: &'static str = "niqe_pris_params.safetensors";

    /// Reads and checks `niqe_pris_params.safetensors` in `models_dir`; `crop_border` pixels
    /// are cut on every side before scoring (the SR scale, as the literature does).
    pub fn load(models_dir: &Path, crop_border: usize) -> Result<Niqe, QualityError> {
        let file = models_dir.join(Self::FILE);
        let tensors = read_safetensors(&file)?;
        let get = |name: &str, shape: &[i64]| -> Result<Vec<f64>, QualityError> {
            let t = take_tensor(&file, &tensors, name, Kind::Double, shape)?;
            Vec::<f64>::try_from(t.flatten(0, -1)).map_err(|e| QualityError::Parameter {
                path: file.clone(),
                name: name.into(),
                reason: e.to_string(),
            })
        };
        let mu = get("mu_pris_param", &[1, FEATURES as i64])?;
        let cov = get("cov_pris_param", &[FEATURES as i64, FEATURES as i64])?;
        let window = get("gaussian_window", &[7, 7])?;
        let symmetric = (0..FEATURES).all(|i| (0..FEATURES).all(|j| cov[i * FEATURES + j] == cov[j * FEATURES + i]));
        if !symmetric {
            return Err(QualityError::Parameter {
                path: file,
                name: "cov_pris_param".into(),
                reason: "not symmetric".into(),
            });
        }
        let total: f64 = window.iter().sum();
        if (total - 1.0).abs() > 1e-9 || window.iter().any(|&w| w <= 0.0) {
            return Err(QualityError::Parameter {
                path: file,
                name: "gaussian_window".into(),
                reason: format!("not a normalised positive window (sum {total})"),
            });
        }
        let (grid, ratio) = shape_grid();
        Ok(Niqe { file, mu, cov, window, crop_border, grid, ratio })
    }

    /// NIQE of a BT.601 Y (or grey) image in grey levels, `height × width` row-major, already
    /// cropped and rounded: BasicSR's `niqe()`.
    pub fn score_luma(&self, y: &[f32], height: usize, width: usize) -> Result<f64, QualityError> {
        let (nh, nw) = (height / BLOCK, width / BLOCK);
        if nh * nw < 2 {
            return Err(QualityError::Image {
                metric: METRIC,
                reason: format!(
                    "{height}×{width} px (after the crop) holds {} whole 96×96 block(s); NIQE needs at least 2 \
                     (BasicSR fails on one: NaN covariance, SVD does not converge)",
                    nh * nw
                ),
            });
        }
        let (h, w) = (nh * BLOCK, nw * BLOCK);
        let mut img: Vec<f32> = (0..h).flat_map(|r| y[r * width..r * width + w].iter().copied()).collect();
        let mut rows = vec![[f64::NAN; FEATURES]; nh * nw];
        for scale in [1usize, 2] {
            let (sh, sw) = (h / scale, w / scale);
            let norm = mscn(&img, sh, sw, &self.window);
            let b = BLOCK / scale;
            for bw in 0..nw {
                for bh in 0..nh {
                    let block: Vec<f32> = (bh * b..(bh + 1) * b)
                        .flat_map(|r| norm[r * sw + bw * b..r * sw + (bw + 1) * b].iter().copied())
                        .collect();
                    let f = self.block_features(&block, b, b);
                    rows[bw * nh + bh][(scale - 1) * 18..scale * 18].copy_from_slice(&f);
                }
            }
            if scale == 1 {
                img = halve_like_basicsr(&img, h, w)?;
            }
        }
        self.distance(&rows)
    }

    /// The 18 features of one block: BasicSR's `compute_feature`.
    fn block_features(&self, block: &[f32], h: usize, w: usize) -> [f64; 18] {
        let mut f = [0.0; 18];
        let (alpha, bl, br) = self.aggd(block);
        f[0] = alpha;
        f[1] = (bl + br) / 2.0;
        for (k, (s0, s1)) in [(0i64, 1i64), (1, 0), (1, 1), (1, -1)].into_iter().enumerate() {
            // np.roll(block, (s0, s1), axis=(0, 1)): shifted[i][j] = block[i − s0][j − s1] cyclically
            let product: Vec<f32> = (0..h)
                .flat_map(|i| {
                    let si = (i as i64 - s0).rem_euclid(h as i64) as usize;
                    (0..w).map(move |j| (si, i, j))
                })
                .map(|(si, i, j)| {
                    let sj = (j as i64 - s1).rem_euclid(w as i64) as usize;
                    block[i * w + j] * block[si * w + sj]
                })
                .collect();
            let (alpha, bl, br) = self.aggd(&product);
            let mean = (br - bl) * (gamma(2.0 / alpha) / gamma(1.0 / alpha));
            f[2 + 4 * k..6 + 4 * k].copy_from_slice(&[alpha, mean, bl, br]);
        }
        f
    }

    /// BasicSR's `estimate_aggd_param`: α by argmin over the grid, β_l and β_r, in its float32
    /// arithmetic (numpy float32 means, float32 scalars, `powf` for the powers).
    fn aggd(&self, x: &[f32]) -> (f64, f64, f64) {
        let mean = |v: &[f32]| pairwise_sum(v) / v.len() as f32;
        let neg: Vec<f32> = x.iter().filter(|&&v| v < 0.0).map(|&v| v * v).collect();
        let pos: Vec<f32> = x.iter().filter(|&&v| v > 0.0).map(|&v| v * v).collect();
        let left_std = mean(&neg).sqrt();
        let right_std = mean(&pos).sqrt();
        let gammahat = left_std / right_std;
        let abs: Vec<f32> = x.iter().map(|v| v.abs()).collect();
        let sq: Vec<f32> = x.iter().map(|&v| v * v).collect();
        let rhat = mean(&abs).powf(2.0) / mean(&sq);
        let rhatnorm = (rhat * (gammahat.powf(3.0) + 1.0) * (gammahat + 1.0)) / (gammahat.powf(2.0) + 1.0).powf(2.0);
        // np.argmin: the first minimum; a NaN (or ±∞ everywhere) gives index 0
        let target = f64::from(rhatnorm);
        let mut best = 0;
        if target.is_finite() {
            let mut best_d = f64::INFINITY;
            for (i, r) in self.ratio.iter().enumerate() {
                let d = (r - target) * (r - target);
                if d < best_d {
                    best_d = d;
                    best = i;
                }
            }
        }
        let alpha = self.grid[best];
        let c = (gamma(1.0 / alpha) / gamma(3.0 / alpha)).sqrt();
        (alpha, f64::from(left_std) * c, f64::from(right_std) * c)
    }

    /// The NIQE distance of the blocks' features to the pristine model: nanmean, the covariance
    /// of the rows without NaN, pinv of the mean covariance.
    fn distance(&self, rows: &[[f64; FEATURES]]) -> Result<f64, QualityError> {
        let mut mu = [0.0; FEATURES];
        for (j, m) in mu.iter_mut().enumerate() {
            let (mut total, mut count) = (0.0, 0usize);
            for r in rows {
                if !r[j].is_nan() {
                    total += r[j];
                    count += 1;
                }
            }
            *m = total / count as f64;
        }
        let clean: Vec<&[f64; FEATURES]> = rows.iter().filter(|r| r.iter().all(|v| !v.is_nan())).collect();
        if clean.len() < 2 {
            return Err(QualityError::Numeric {
                metric: METRIC,
                reason: format!("{} of {} blocks have finite features; a covariance needs 2", clean.len(), rows.len()),
            });
        }
        let n = clean.len() as f64;
        let mut centre = [0.0; FEATURES];
        for (j, c) in centre.iter_mut().enumerate() {
            *c = clean.iter().map(|r| r[j]).sum::<f64>() / n;
        }
        let mut mean_cov = vec![0.0; FEATURES * FEATURES];
        for i in 0..FEATURES {
            for j in 0..FEATURES {
                let s: f64 = clean.iter().map(|r| (r[i] - centre[i]) * (r[j] - centre[j])).sum();
                mean_cov[i * FEATURES + j] = (self.cov[i * FEATURES + j] + s / (n - 1.0)) / 2.0;
            }
        }
        let _no_grad = tch::no_grad_guard();
        let m = Tensor::from_slice(&mean_cov).view([FEATURES as i64, FEATURES as i64]);
        // numpy's pinv: singular values below 1e-15 × the largest are dropped
        let pinv = m
            .f_linalg_pinv(1e-15, false)
            .map_err(|e| QualityError::Numeric { metric: METRIC, reason: e.to_string() })?;
        let d: Vec<f64> = self.mu.iter().zip(&mu).map(|(p, q)| p - q).collect();
        let d = Tensor::from_slice(&d);
        let q = d.dot(&pinv.mv(&d)).double_value(&[]);
        let value = q.sqrt();
        if !value.is_finite() {
            return Err(QualityError::Numeric { metric: METRIC, reason: format!("the distance is {value}") });
        }
        Ok(value)
    }
}

impl QualityMeasure for Niqe {
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
            "NIQE as BasicSR calculate_niqe (8d56e3a): Y of BT.601 from 8-bit RGB (grey files: grey values), \
             crop {} px, rounded, 96x96 blocks, float32 arithmetic, pristine model {}",
            self.crop_border,
            self.file.display()
        )
    }

    fn score(&self, image: &Image8, _reference: Option<&Image8>) -> Result<f64, QualityError> {
        check_image(METRIC, image)?;
        let c = self.crop_border;
        if image.height <= 2 * c || image.width <= 2 * c {
            return Err(QualityError::Image {
                metric: METRIC,
                reason: format!("{}×{} px is too small for a {c} px border crop", image.height, image.width),
            });
        }
        let (h, w) = (image.height - 2 * c, image.width - 2 * c);
        let y = luma_like_basicsr(image);
        let cropped: Vec<f32> = (c..c + h)
            .flat_map(|r| y[r * image.width + c..r * image.width + c + w].iter().map(|v| v.round_ties_even()))
            .collect();
        self.score_luma(&cropped, h, w)
    }
}

/// BasicSR's `to_y_channel` on an 8-bit image: float32 x/255, then numpy's
/// `np.dot(img, [24.966, 128.553, 65.481])` on the BGR values in float64 (on this CPU numpy
/// evaluates it as a chain of fused multiply-adds, B first), + 16, / 255, to float32, × 255 in
/// float32. One channel: the grey value itself.
fn luma_like_basicsr(image: &Image8) -> Vec<f32> {
    if image.channels == 1 {
        return image.data.iter().map(|&v| f32::from(v)).collect();
    }
    image
        .data
        .chunks_exact(3)
        .map(|p| {
            let c = |v: u8| f64::from(f32::from(v) / 255.0);
            let (r, g, b) = (c(p[0]), c(p[1]), c(p[2]));
            let y = r.mul_add(65.481, g.mul_add(128.553, b * 24.966)) + 16.0;
            ((y / 255.0) as f32) * 255.0
        })
        .collect()
}

/// The MSCN map in BasicSR's arithmetic: scipy.ndimage.convolve (float32 in and out, sums in
/// float64 over the flipped window, edges 'nearest'), σ = √|conv(I²) − μ²|, (I − μ)/(σ + 1).
fn mscn(img: &[f32], h: usize, w: usize, window: &[f64]) -> Vec<f32> {
    let conv = |x: &[f32]| -> Vec<f32> {
        let mut out = vec![0.0f32; h * w];
        for m in 0..h {
            for n in 0..w {
                let mut sum = 0.0f64;
                for a in 0..7 {
                    let r = (m + a).saturating_sub(3).min(h - 1);
                    for b in 0..7 {
                        let c = (n + b).saturating_sub(3).min(w - 1);
                        sum += f64::from(x[r * w + c]) * window[(6 - a) * 7 + (6 - b)];
                    }
                }
                out[m * w + n] = sum as f32;
            }
        }
        out
    };
    let mu = conv(img);
    let sq: Vec<f32> = img.iter().map(|v| v * v).collect();
    let mu_sq = conv(&sq);
    img.iter()
        .zip(mu.iter().zip(&mu_sq))
        .map(|(&x, (&m, &s))| {
            let sigma = (s - m * m).abs().sqrt();
            (x - m) / (sigma + 1.0)
        })
        .collect()
}

/// `np.arange(0.2, 10.001, 0.001)` as numpy fills it (start + i·(a[1] − a[0])) and BasicSR's
/// ρ(α) = Γ(2/α)² / (Γ(1/α) Γ(3/α)) on it.
fn shape_grid() -> (Vec<f64>, Vec<f64>) {
    let len = ((10.001f64 - 0.2) / 0.001).ceil() as usize;
    let delta = (0.2f64 + 0.001) - 0.2;
    let grid: Vec<f64> = (0..len)
        .map(|i| match i {
            0 => 0.2,
            1 => 0.2 + 0.001,
            _ => 0.2 + i as f64 * delta,
        })
        .collect();
    let ratio = grid
        .iter()
        .map(|&g| {
            let r = 1.0 / g;
            let a = gamma(r * 2.0);
            a * a / (gamma(r) * gamma(r * 3.0))
        })
        .collect();
    (grid, ratio)
}

/// BasicSR's `imresize(img / 255., 0.5, antialiasing=True) * 255.` on a float32 grey image,
/// with the same libtorch float32 operations as its torch code (`calculate_weights_indices`,
/// symmetric padding, one `mv` per output line), so that the sums round alike.
fn halve_like_basicsr(img: &[f32], h: usize, w: usize) -> Result<Vec<f32>, QualityError> {
    let numeric = |e: tch::TchError| QualityError::Numeric { metric: METRIC, reason: e.to_string() };
    let _no_grad = tch::no_grad_guard();
    let x = Tensor::from_slice(img).view([h as i64, w as i64]) / 255.0;
    let (oh, ow) = (h.div_ceil(2) as i64, w.div_ceil(2) as i64);
    let (wh, ih, sh_s, sh_e) = weights_indices(h as i64, oh, 0.5)?;
    let (ww, iw, sw_s, sw_e) = weights_indices(w as i64, ow, 0.5)?;
    let (h, w) = (h as i64, w as i64);
    let flip = |t: &Tensor, dim: i64| t.flip([dim]);
    // rows: [first sym_s rows reversed; img; last sym_e rows reversed]
    let aug =
        Tensor::cat(&[flip(&x.narrow(0, 0, sh_s), 0), x.shallow_clone(), flip(&x.narrow(0, h - sh_e, sh_e), 0)], 0);
    let kh = wh.size()[1];
    let rows: Vec<Tensor> = (0..oh as usize)
        .map(|i| aug.narrow(0, ih[i], kh).tr().f_mv(&wh.get(i as i64)))
        .collect::<Result<_, _>>()
        .map_err(numeric)?;
    let out1 = Tensor::stack(&rows, 0);
    let aug = Tensor::cat(
        &[flip(&out1.narrow(1, 0, sw_s), 1), out1.shallow_clone(), flip(&out1.narrow(1, w - sw_e, sw_e), 1)],
        1,
    );
    let kw = ww.size()[1];
    let cols: Vec<Tensor> = (0..ow as usize)
        .map(|i| aug.narrow(1, iw[i], kw).f_mv(&ww.get(i as i64)))
        .collect::<Result<_, _>>()
        .map_err(numeric)?;
    let out = Tensor::stack(&cols, 1) * 255.0;
    Vec::<f32>::try_from(out.contiguous().view([-1])).map_err(numeric)
}

/// BasicSR's `calculate_weights_indices` for the antialiased bicubic kernel, in float32
/// libtorch: the weights `[out, taps]`, each output's first index into the padded line, and the
/// padding before and after.
fn weights_indices(in_len: i64, out_len: i64, scale: f64) -> Result<(Tensor, Vec<i64>, i64, i64), QualityError> {
    let opts = (Kind::Float, Device::Cpu);
    let kernel_width = 4.0 / scale;
    let x = Tensor::linspace(1.0, out_len as f64, out_len, opts);
    let u = &x / scale + 0.5 * (1.0 - 1.0 / scale);
    let left = (&u - kernel_width / 2.0).floor();
    let p = kernel_width.ceil() as i64 + 2;
    let indices = left.view([out_len, 1]).expand([out_len, p], false)
        + Tensor::linspace(0.0, (p - 1) as f64, p, opts).view([1, p]).expand([out_len, p], false);
    let distance = u.view([out_len, 1]).expand([out_len, p], false) - &indices;
    let cubic = |x: &Tensor| {
        let absx = x.abs();
        let absx2 = absx.pow_tensor_scalar(2);
        let absx3 = absx.pow_tensor_scalar(3);
        let near = absx.le(1.0).type_as(&absx);
        let far = (absx.gt(1.0).logical_and(&absx.le(2.0))).type_as(&absx);
        ((&absx3 * 1.5) - (&absx2 * 2.5) + 1.0) * near + ((&absx3 * -0.5) + (&absx2 * 2.5) - (&absx * 4.0) + 2.0) * far
    };
    let weights = cubic(&(&distance * scale)) * scale;
    let sum = weights.sum_dim_intlist(1, false, Kind::Float).view([out_len, 1]);
    let mut weights = &weights / sum.expand([out_len, p], false);
    let mut indices = indices;
    let zeros = weights.eq(0.0).sum_dim_intlist(0, false, Kind::Int64);
    let zeros: Vec<i64> =
        Vec::<i64>::try_from(zeros).map_err(|e| QualityError::Numeric { metric: METRIC, reason: e.to_string() })?;
    // BasicSR's checks, quirks included: both narrow to p − 2 columns, the second from 0
    if zeros[0] != 0 {
        indices = indices.narrow(1, 1, p - 2);
        weights = weights.narrow(1, 1, p - 2);
    }
    if zeros[(p - 1) as usize] != 0 {
        indices = indices.narrow(1, 0, p - 2);
        weights = weights.narrow(1, 0, p - 2);
    }
    let weights = weights.contiguous();
    let sym_s = -indices.min().double_value(&[]) as i64 + 1;
    let sym_e = indices.max().double_value(&[]) as i64 - in_len;
    if sym_s < 1 || sym_e < 1 || sym_s > in_len || sym_e > in_len {
        return Err(QualityError::Image {
            metric: METRIC,
            reason: format!("{in_len} px is too short for the ×0.5 resize (padding {sym_s}, {sym_e})"),
        });
    }
    let first: Vec<f64> = Vec::<f64>::try_from(indices.narrow(1, 0, 1).contiguous().view([-1]).to_kind(Kind::Double))
        .map_err(|e| QualityError::Numeric { metric: METRIC, reason: e.to_string() })?;
    let first = first.into_iter().map(|v| v as i64 + sym_s - 1).collect();
    Ok((weights, first, sym_s, sym_e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_grid_is_basicsrs() {
        let (grid, ratio) = shape_grid();
        assert_eq!(grid.len(), 9801);
        assert_eq!(grid[0], 0.2);
        assert!((grid[9800] - 10.0).abs() < 1e-9);
        // ρ(2) = Γ(1)²/(Γ(½)Γ(3/2)) = 2/π, the Gaussian's E|x|²/E x²
        let i = grid.iter().position(|&g| (g - 2.0).abs() < 1e-9).unwrap();
        assert!((ratio[i] - 2.0 / std::f64::consts::PI).abs() < 1e-12);
        assert!(ratio.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn gaussian_quantiles_fit_alpha_two() {
        let (grid, ratio) = shape_grid();
        let niqe = Niqe { file: PathBuf::new(), mu: vec![], cov: vec![], window: vec![], crop_border: 0, grid, ratio };
        // the quantiles of a standard Gaussian, shuffled by a stride coprime to n
        let n = 90_001usize;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let p = ((i * 7919) % n) as f64 / n as f64 + 0.5 / n as f64;
                (std::f64::consts::SQRT_2 * statrs::function::erf::erf_inv(2.0 * p - 1.0)) as f32
            })
            .collect();
        let (alpha, bl, br) = niqe.aggd(&x);
        assert!((alpha - 2.0).abs() < 0.01, "{alpha}");
        // β = σ·√(Γ(1/α)/Γ(3/α)) = √2 σ for α = 2
        assert!((bl - 2f64.sqrt()).abs() < 0.01 && (br - 2f64.sqrt()).abs() < 0.01, "{bl} {br}");
    }

    #[test]
    fn the_halving_keeps_a_constant_and_halves_the_size() {
        let img = vec![100.0f32; 96 * 192];
        let half = halve_like_basicsr(&img, 96, 192).unwrap();
        assert_eq!(half.len(), 48 * 96);
        assert!(half.iter().all(|v| (v - 100.0).abs() < 1e-4));
    }
}
