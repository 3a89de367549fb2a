//! The exact posterior of a [`StationaryPrior`] image under a linear-Gaussian degradation that
//! is diagonal in the Fourier domain up to aliasing: MATLAB-bicubic ×s decimation (s = 1 is
//! denoising) plus white Gaussian noise, on a periodic grid.
//!
//! An LR frequency u collects the s² HR frequencies u + L·t that alias onto it, so the
//! observation of each group is a scalar Ŷ(u) = Σ v(f)·X̂(f) + Ŵ(u) and the posterior is a rank-one
//! update of the prior per group: mean Pf·v̄·Ŷ / D, covariance Pf − Pf·v̄·vᵀ·Pf / D with
//! D = Σ |v|²·Pf + N_L·σ² (Pf = N·S, unnormalised DFTs). Draws use the perturbation trick:
//! x_prior − K·y_sim has exactly the posterior covariance.

use upbench_tch::tch::{self, Kind, Tensor};

use crate::prior::{StationaryPrior, TILT_REFERENCE};
use crate::resample::cubic;

/// The DFT over a circle of `n` HR pixels of the decimation filter g(k) = b(k + (s−1)/2), b the
/// antialiased bicubic kernel of MATLAB's `imresize(…, 1/s)`: LR sample j is (g ⊛ x)(s·j).
fn filter_dft(n: i64, s: i64) -> Tensor {
    let offset = (s - 1) as f64 / 2.0;
    let reach = 2 * s + 1;
    let taps: Vec<(i64, f64)> = (-reach..=reach).map(|k| (k, cubic((k as f64 + offset) / s as f64))).collect();
    let total: f64 = taps.iter().map(|t| t.1).sum();
    let mut g = vec![0.0; n as usize];
    for (k, w) in taps {
        g[k.rem_euclid(n) as usize] += w / total;
    }
    Tensor::from_slice(&g).fft_fft(None, 0, "backward")
}

/// The posterior of one grid size: LR `ly × lx`, HR `s·ly × s·lx`, for every decorrelated channel.
pub struct FourierPosterior {
    /// The model it was built from.
    prior: StationaryPrior,
    scale: i64,
    lr: (i64, i64),
    noise_var: f64,
    /// Pf = N·S, `[C, s, ly, s, lx]`.
    prior_power: Tensor,
    /// √S on the HR grid, `[C, H, W]`.
    sqrt_psd: Tensor,
    /// v = Ĝ / s², `[s, ly, s, lx]`, complex.
    response: Tensor,
    /// D per LR frequency, `[C, 1, ly, 1, lx]`.
    denominator: Tensor,
}

impl FourierPosterior {
    /// Sets up the posterior for LR grids of `lr` pixels, decimation `scale` and noise variance
    /// `noise_var` (on the [0, 1] scale; include 1/(12·255²) for 8-bit rounded measurements).
    pub fn new(prior: &StationaryPrior, scale: i64, noise_var: f64, lr: (i64, i64), device: tch::Device) -> Self {
        let (h, w) = (scale * lr.0, scale * lr.1);
        let n = (h * w) as f64;
        let psd = prior.spectrum(h, w, device);
        let c = psd.size()[0];
        let grouped = |t: &Tensor, lead: &[i64]| {
            let mut shape = lead.to_vec();
            shape.extend([scale, lr.0, scale, lr.1]);
            t.reshape(shape.as_slice())
        };
        let prior_power = grouped(&(&psd * n), &[c]);
        let g =
            filter_dft(h, scale).to_device(device).view([h, 1]) * filter_dft(w, scale).to_device(device).view([1, w]);
        let response = grouped(&(g / (scale * scale) as f64), &[]);
        let n_lr = (lr.0 * lr.1) as f64;
        let gain = response.abs().square();
        let denominator =
            (&prior_power * &gain).sum_dim_intlist([1, 3].as_slice(), true, Kind::Double) + n_lr * noise_var;
        FourierPosterior {
            prior: prior.clone(),
            scale,
            lr,
            noise_var,
            prior_power,
            sqrt_psd: psd.sqrt(),
            response,
            denominator,
        }
    }

    fn hr(&self) -> (i64, i64) {
        (self.scale * self.lr.0, self.scale * self.lr.1)
    }

    /// Pf·v̄·Ŷ / D on the HR grid for LR spectra `[…, C, ly, lx]`, as `[…, C, H, W]` spectra.
    fn gain_times(&self, y_hat: &Tensor) -> Tensor {
        let size = y_hat.size();
        let lead = &size[..size.len() - 2];
        let mut grouped: Vec<i64> = lead.to_vec();
        grouped.extend([1, self.lr.0, 1, self.lr.1]);
        let y = y_hat.view(grouped.as_slice());
        let x = &self.prior_power * self.response.conj() * y / &self.denominator;
        let (h, w) = self.hr();
        let mut out: Vec<i64> = lead.to_vec();
        out.extend([h, w]);
        x.reshape(out.as_slice())
    }

    /// Posterior means `[n, C, H, W]` of decorrelated HR images given decorrelated LR
    /// measurements `[n, C, ly, lx]` (float64).
    pub fn mean(&self, y: &Tensor) -> Tensor {
        let y_hat = y.to_kind(Kind::Double).fft_fft2(None::<&[i64]>, [-2, -1], "backward");
        self.gain_times(&y_hat).fft_ifft2(None::<&[i64]>, [-2, -1], "backward").real()
    }

    /// `k` zero-mean fields per measurement, `[n, k, C, H, W]`, each with the posterior
    /// covariance, from libtorch's generator.
    pub fn deviations(&self, n: i64, k: i64) -> Tensor {
        let (h, w) = self.hr();
        let c = self.sqrt_psd.size()[0];
        let device = self.sqrt_psd.device();
        let white = Tensor::randn([n, k, c, h, w], (Kind::Double, device));
        let x_hat = white.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * &self.sqrt_psd;
        let grouped = x_hat.view([n, k, c, self.scale, self.lr.0, self.scale, self.lr.1].as_slice());
        let observed = (grouped * &self.response).sum_dim_intlist([3, 5].as_slice(), false, Kind::ComplexDouble);
        let noise = Tensor::randn([n, k, c, self.lr.0, self.lr.1], (Kind::Double, device)) * self.noise_var.sqrt();
        let y_hat = observed + noise.fft_fft2(None::<&[i64]>, [-2, -1], "backward");
        (x_hat - self.gain_times(&y_hat)).fft_ifft2(None::<&[i64]>, [-2, -1], "backward").real()
    }

    /// Per-channel gains α_c and spectral tilts β_c that fit the model, its spectra multiplied by
    /// α·(|f|/f_ref)^β, to one measurement `[C, ly, lx]` (decorrelated, mean-free, on this grid):
    /// Whittle maximum likelihood of |Ŷ(u)|² ~ Exp(Σ|v|²·Pf·α·(|f|/f_ref)^β + N_L·σ²) over the
    /// non-zero LR frequencies (β on a grid of 0.05 in [−1.5, 1.5], α by Newton on ln α). This
    /// adapts the model's contrast and its spectral slope, which sets the power it extrapolates
    /// above the measurement's Nyquist frequency, to each image (`docs/protocol.md`).
    ///
    /// On the CPU a few scalar passes over the frequencies per slope, in plain loops: as tensor
    /// operations (61 slopes × 12 Newton steps, each a dozen temporaries the size of the
    /// spectrum) this fit was most of the time an image task took to build
    /// (`docs/performance.md`). On CUDA those tensor operations are the quick way and stay.
    pub fn fit_contrast(&self, y: &Tensor) -> Vec<(f64, f64)> {
        let _no_grad = tch::no_grad_guard();
        if y.device().is_cuda() {
            return self.fit_contrast_by_tensors(y);
        }
        let cpu = tch::Device::Cpu;
        let values = |t: Tensor| {
            Vec::<f64>::try_from(t.to_device(cpu).contiguous().flatten(0, -1))
                .expect("a float64 tensor on the CPU converts to Vec<f64>")
        };
        let (s, (ly, lx)) = (self.scale, self.lr);
        let (h, w) = self.hr();
        // |Ŷ(u)|², [C, u]; ln(|f|/f_ref) and |v|²·Pf per LR frequency u and alias j: [u, j], [C, u, j].
        let periodogram = values(y.to_kind(Kind::Double).fft_fft2(None::<&[i64]>, [-2, -1], "backward").abs().square());
        let (r_lo, r_hi) = (self.prior.radii[0], *self.prior.radii.last().unwrap_or(&0.5));
        let log_r = values(
            (crate::prior::radial_frequency(h, w, cpu).clamp(r_lo, r_hi) / TILT_REFERENCE)
                .log()
                .reshape([s, ly, s, lx])
                .permute([1, 3, 0, 2]),
        );
        let weighted = values((&self.prior_power * self.response.abs().square()).permute([0, 2, 4, 1, 3]));
        let spectra = Spectra {
            channels: y.size()[0] as usize,
            frequencies: (ly * lx) as usize,
            aliases: (s * s) as usize,
            periodogram,
            log_r,
            weighted,
            noise: (ly * lx) as f64 * self.noise_var,
        };
        // Fixed runs of slopes, each warm-starting Newton from its previous slope, on as many
        // threads as libtorch may use: the same answer whatever the thread count.
        let steps: Vec<i32> = SLOPE_STEPS.collect();
        let runs: Vec<&[i32]> = steps.chunks(SLOPES_PER_RUN).collect();
        let fits: Vec<std::sync::OnceLock<Vec<Vec<WhittleGain>>>> = runs.iter().map(|_| Default::default()).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = usize::try_from(tch::get_num_threads()).unwrap_or(1).clamp(1, runs.len());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(run) = runs.get(i) else { break };
                    let _ = fits[i].set(spectra.fit_run(run));
                });
            }
        });
        // the first slope of highest likelihood, per channel
        let mut best = vec![(f64::NEG_INFINITY, 1.0, 0.0); spectra.channels];
        for (run, fits) in runs.iter().zip(&fits) {
            for (&step, per_channel) in run.iter().zip(fits.get().expect("every run fitted")) {
                for (slot, fit) in best.iter_mut().zip(per_channel) {
                    if fit.log_likelihood > slot.0 {
                        *slot = (fit.log_likelihood, fit.log_gain.exp(), slope(step));
                    }
                }
            }
        }
        best.into_iter().map(|(_, alpha, beta)| (alpha, beta)).collect()
    }

    /// [`FourierPosterior::fit_contrast`] as tensor operations, for CUDA: 12 Newton steps per
    /// slope from the noise-free start, each a dozen passes over the spectrum — slow on a CPU
    /// (scalar loops there are 10× faster), quick as GPU kernels. A test holds the two to the
    /// same slope and a gain within 1e-9.
    fn fit_contrast_by_tensors(&self, y: &Tensor) -> Vec<(f64, f64)> {
        let _no_grad = tch::no_grad_guard();
        let i = y.to_kind(Kind::Double).fft_fft2(None::<&[i64]>, [-2, -1], "backward").abs().square();
        let c = i.size()[0];
        let device = y.device();
        let (h, w) = self.hr();
        let (r_lo, r_hi) = (self.prior.radii[0], *self.prior.radii.last().unwrap_or(&0.5));
        let log_r = (crate::prior::radial_frequency(h, w, device).clamp(r_lo, r_hi) / TILT_REFERENCE)
            .log()
            .reshape([1, self.scale, self.lr.0, self.scale, self.lr.1]);
        let weighted = &self.prior_power * self.response.abs().square();
        let noise = (self.lr.0 * self.lr.1) as f64 * self.noise_var;
        let keep = Tensor::ones([self.lr.0, self.lr.1], (Kind::Double, device));
        let _ = keep.get(0).get(0).fill_(0.0);
        let count = keep.sum(Kind::Double);
        let sum = |t: Tensor| (t * &keep).sum_dim_intlist([-2, -1].as_slice(), false, Kind::Double);
        let mut best = vec![(f64::NEG_INFINITY, 1.0, 0.0); c as usize];
        for step in SLOPE_STEPS {
            let beta = slope(step);
            // a[c, u]: the signal's expected |Ŷ(u)|² for gain 1 and tilt β.
            let a = (&weighted * (&log_r * beta).exp()).sum_dim_intlist([1, 3].as_slice(), false, Kind::Double);
            // Newton on t = ln α from the noise-free maximum-likelihood value, mean(I/a).
            let mut t = (sum((&i - noise).clamp_min(0.0) / &a) / &count).clamp_min(1e-12).log();
            for _ in 0..12 {
                // with g = a·α, m = g + noise, q = g/m and u = (I − m)/m, the log-likelihood's
                // first and second derivatives in t are Σ q·u and Σ q·u − q²·(1 + 2u)
                let g = &a * t.exp().view([c, 1, 1]);
                let inv_m = (&g + noise).reciprocal();
                let q = &g * &inv_m;
                let u = &i * &inv_m - 1.0;
                let qu = &q * &u;
                let first = sum(qu.shallow_clone());
                let second = sum(&qu - q.square() * (u * 2.0 + 1.0));
                t = (&t - (&first / second.clamp_max(-1e-12)).clamp(-2.0, 2.0)).clamp(-30.0, 30.0);
            }
            let m = &a * t.exp().view([c, 1, 1]) + noise;
            let log_likelihood = Vec::<f64>::try_from(-sum(m.log() + &i / &m)).unwrap_or_default();
            let alphas = Vec::<f64>::try_from(t.exp()).unwrap_or_default();
            for ((slot, ll), alpha) in best.iter_mut().zip(log_likelihood).zip(alphas) {
                if ll > slot.0 {
                    *slot = (ll, alpha, beta);
                }
            }
        }
        best.into_iter().map(|(_, alpha, beta)| (alpha, beta)).collect()
    }

    /// The posterior of the model adapted to one measurement `[C, ly, lx]` (decorrelated,
    /// mean-free, on this grid): spectra rescaled and tilted by [`FourierPosterior::fit_contrast`].
    pub fn adapted_to(&self, y: &Tensor) -> FourierPosterior {
        let fit = self.fit_contrast(y);
        FourierPosterior::new(&self.prior.tilted(&fit), self.scale, self.noise_var, self.lr, y.device())
    }

    /// The same model and degradation on another LR grid.
    pub fn on_grid(&self, lr: (i64, i64)) -> FourierPosterior {
        FourierPosterior::new(&self.prior, self.scale, self.noise_var, lr, self.sqrt_psd.device())
    }

    /// The model it was built from.
    pub fn prior(&self) -> &StationaryPrior {
        &self.prior
    }

    /// The posterior covariance applied to fields `[…, C, H, W]`.
    pub fn apply_covariance(&self, z: &Tensor) -> Tensor {
        let (h, w) = self.hr();
        let size = z.size();
        let lead = &size[..size.len() - 3];
        let c = size[size.len() - 3];
        let z_hat = z.to_kind(Kind::Double).fft_fft2(None::<&[i64]>, [-2, -1], "backward");
        let mut grouped: Vec<i64> = lead.to_vec();
        grouped.extend([c, self.scale, self.lr.0, self.scale, self.lr.1]);
        let zg = z_hat.view(grouped.as_slice());
        let projected =
            (&self.prior_power * &self.response * &zg).sum_dim_intlist([-4, -2].as_slice(), true, Kind::ComplexDouble);
        let corrected =
            &self.prior_power * &zg - &self.prior_power * self.response.conj() * projected / &self.denominator;
        let out = corrected.reshape(size.as_slice()) / (h * w) as f64;
        out.fft_ifft2(None::<&[i64]>, [-2, -1], "backward").real()
    }

    /// ln N of the posterior law of p × p patches, `(1/d)·ln|Σ_patch|` with d = C·p², averaged
    /// over the patch origins' phases modulo the scale listed in `phases` (the posterior is
    /// periodic with period s). Exact for this model and grid.
    pub fn patch_log_entropy_power(&self, p: i64, phases: &[(i64, i64)]) -> f64 {
        let s = self.scale;
        let (h, w) = self.hr();
        let c = self.sqrt_psd.size()[0];
        let device = self.sqrt_psd.device();
        let centre = (s * (self.lr.0 / 2), s * (self.lr.1 / 2));
        // One impulse per phase (a, b) ∈ [0, s)², at centre + (a, b).
        let impulses = Tensor::zeros([s * s, 1, h, w], (Kind::Double, device));
        for a in 0..s {
            for b in 0..s {
                let _ = impulses.get(a * s + b).get(0).get(centre.0 + a).get(centre.1 + b).fill_(1.0);
            }
        }
        let columns = self.apply_covariance(&impulses.expand([s * s, c, h, w], false).contiguous()); // [s², C, H, W]
                                                                                                     // read once (not once per phase: s² copies of s²·C·H·W values)
        let cols = Vec::<f64>::try_from(columns.flatten(0, -1).to_device(tch::Device::Cpu)).unwrap_or_default();
        let pixels: Vec<(i64, i64)> = (0..p).flat_map(|a| (0..p).map(move |b| (a, b))).collect();
        let d = pixels.len();
        let mut total = 0.0;
        for &(py, px) in phases {
            let mut cov = vec![0.0; c as usize * d * d];
            for ch in 0..c as usize {
                for (j, &(aj, bj)) in pixels.iter().enumerate() {
                    let (phy, phx) = ((py + aj).rem_euclid(s), (px + bj).rem_euclid(s));
                    let column = (phy * s + phx) as usize;
                    for (i, &(ai, bi)) in pixels.iter().enumerate() {
                        let y = (centre.0 + phy + ai - aj).rem_euclid(h) as usize;
                        let x = (centre.1 + phx + bi - bj).rem_euclid(w) as usize;
                        let at = ((column * c as usize + ch) * h as usize + y) * w as usize + x;
                        cov[(ch * d + i) * d + j] = cols[at];
                    }
                }
            }
            let cov = Tensor::from_slice(&cov).view([c, d as i64, d as i64]).to_device(device);
            let sym = (&cov + cov.transpose(1, 2)) * 0.5;
            let (_, log_det) = Tensor::linalg_slogdet(&sym);
            total += log_det.sum(Kind::Double).double_value(&[]) / (c as usize * d) as f64;
        }
        total / phases.len().max(1) as f64
    }
}

/// The slopes [`FourierPosterior::fit_contrast`] tries, as steps of [`slope`]: β in [−1.5, 1.5].
const SLOPE_STEPS: std::ops::RangeInclusive<i32> = -30..=30;

/// Slopes fitted in one run (one thread, Newton warm-started along it).
const SLOPES_PER_RUN: usize = 16;

/// β = step·0.05.
fn slope(step: i32) -> f64 {
    f64::from(step) * 0.05
}

/// One measurement's spectra as [`FourierPosterior::fit_contrast`] reads them.
struct Spectra {
    channels: usize,
    /// LR frequencies u, (0, 0) first.
    frequencies: usize,
    /// HR frequencies aliased onto each u, s².
    aliases: usize,
    /// |Ŷ(u)|², `[C, u]`.
    periodogram: Vec<f64>,
    /// ln(|f|/f_ref), `[u, j]`.
    log_r: Vec<f64>,
    /// |v|²·Pf, `[C, u, j]`.
    weighted: Vec<f64>,
    /// N_L·σ².
    noise: f64,
}

impl Spectra {
    /// Each slope's gain fit per channel, `[slope][channel]`, Newton warm-started from the
    /// previous slope of the run.
    fn fit_run(&self, steps: &[i32]) -> Vec<Vec<WhittleGain>> {
        let (n, aliases) = (self.frequencies, self.aliases);
        let (mut tilt, mut signal) = (vec![0.0; n * aliases], vec![0.0; n]);
        let mut start: Vec<Option<f64>> = vec![None; self.channels];
        steps
            .iter()
            .map(|&step| {
                let beta = slope(step);
                tilt.iter_mut().zip(&self.log_r).for_each(|(t, l)| *t = (beta * l).exp());
                (0..self.channels)
                    .map(|ch| {
                        let weights = &self.weighted[ch * n * aliases..(ch + 1) * n * aliases];
                        // the signal's expected |Ŷ(u)|² for gain 1 and tilt β
                        for ((a, w), t) in
                            signal.iter_mut().zip(weights.chunks_exact(aliases)).zip(tilt.chunks_exact(aliases))
                        {
                            *a = w.iter().zip(t).map(|(w, t)| w * t).sum();
                        }
                        // u = 0 (the mean, removed) left out
                        let intensity = &self.periodogram[ch * n + 1..(ch + 1) * n];
                        let fit = WhittleGain::fit(&signal[1..], intensity, self.noise, start[ch]);
                        start[ch] = Some(fit.log_gain);
                        fit
                    })
                    .collect()
            })
            .collect()
    }
}

/// The gain of one slope in [`FourierPosterior::fit_contrast`]: the maximum over t = ln α of
/// the Whittle log-likelihood −Σ ln m + I/m, m = α·a + noise, of periodogram values I with
/// expected signal powers a.
struct WhittleGain {
    log_gain: f64,
    log_likelihood: f64,
}

impl WhittleGain {
    /// Newton's method on t from `start` (the previous slope's answer) or, without one, from
    /// the noise-free estimate ln mean(I/a); steps bounded by 2, t by ±30.
    fn fit(signal: &[f64], intensity: &[f64], noise: f64, start: Option<f64>) -> WhittleGain {
        let count = signal.len().max(1) as f64;
        let mut t = start.unwrap_or_else(|| {
            let noise_free = signal.iter().zip(intensity).map(|(a, i)| (i - noise).max(0.0) / a).sum::<f64>() / count;
            noise_free.max(1e-12).ln()
        });
        t = t.clamp(-30.0, 30.0);
        for _ in 0..40 {
            // with g = a·α, m = g + noise, q = g/m and u = (I − m)/m, the log-likelihood's
            // first and second derivatives in t are Σ q·u and Σ q·u − q²·(1 + 2u)
            let alpha = t.exp();
            let (mut first, mut second) = (0.0, 0.0);
            for (&a, &i) in signal.iter().zip(intensity) {
                let g = a * alpha;
                let inv_m = 1.0 / (g + noise);
                let q = g * inv_m;
                let u = i * inv_m - 1.0;
                first += q * u;
                second += q * u - q * q * (2.0 * u + 1.0);
            }
            let step = (first / second.min(-1e-12)).clamp(-2.0, 2.0);
            t = (t - step).clamp(-30.0, 30.0);
            if step.abs() < 1e-10 {
                break;
            }
        }
        let alpha = t.exp();
        let log_likelihood = -signal
            .iter()
            .zip(intensity)
            .map(|(a, i)| {
                let m = a * alpha + noise;
                m.ln() + i / m
            })
            .sum::<f64>();
        WhittleGain { log_gain: t, log_likelihood }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_prior(channels: usize) -> StationaryPrior {
        // A 1/f² spectrum with a floor, like natural images.
        let radii: Vec<f64> = (0..24).map(|i| (1.0f64 / 256.0).ln() + i as f64 * 0.22).map(f64::exp).collect();
        let psd: Vec<f64> = radii.iter().map(|r| (1e-4 / (r * r + 1e-3) + 1e-4).ln()).collect();
        StationaryPrior { channels, mean: vec![0.4; channels], radii, log_psd: vec![psd; channels] }
    }

    /// Draws `count` periodic images from the prior and their measurements, in pixel space.
    fn simulate(prior: &StationaryPrior, post: &FourierPosterior, scale: i64, count: i64) -> (Tensor, Tensor) {
        let (h, w) = post.hr();
        let c = prior.channels as i64;
        let white = Tensor::randn([count, c, h, w], (Kind::Double, tch::Device::Cpu));
        let x = (white.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * &post.sqrt_psd)
            .fft_ifft2(None::<&[i64]>, [-2, -1], "backward")
            .real();
        let g = filter_dft(h, scale).view([h, 1]) * filter_dft(w, scale).view([1, w]);
        let filtered = (x.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * g)
            .fft_ifft2(None::<&[i64]>, [-2, -1], "backward")
            .real();
        let y = filtered.slice(2, 0, h, scale).slice(3, 0, w, scale);
        let y = &y + Tensor::randn_like(&y) * post.noise_var.sqrt();
        (x, y)
    }

    fn error_log_entropy_power(errors: &Tensor, p: i64, scale: i64) -> f64 {
        // Patches at origins ≡ 0 mod s (phase (0, 0)), all channels, as rows.
        let patches = errors
            .f_im2col([p, p], [1, 1], [0, 0], [scale.max(p), scale.max(p)])
            .unwrap()
            .transpose(1, 2)
            .flatten(0, 1);
        let centred = &patches - patches.mean_dim(0, true, Kind::Double);
        let cov = centred.transpose(0, 1).matmul(&centred) / (patches.size()[0] - 1) as f64;
        Tensor::linalg_slogdet(&cov).1.double_value(&[]) / patches.size()[1] as f64
    }

    #[test]
    fn the_posterior_mean_denoises_as_a_wiener_filter() {
        let prior = toy_prior(1);
        let post = FourierPosterior::new(&prior, 1, 0.01, (16, 16), tch::Device::Cpu);
        let psd = prior.spectrum(16, 16, tch::Device::Cpu);
        let y = Tensor::randn([1, 1, 16, 16], (Kind::Double, tch::Device::Cpu));
        let want = (y.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * (&psd / (&psd + 0.01)))
            .fft_ifft2(None::<&[i64]>, [-2, -1], "backward")
            .real();
        assert!((post.mean(&y) - want).abs().max().double_value(&[]) < 1e-12);
    }

    #[test]
    fn errors_of_the_gamma_family_have_entropy_power_one_plus_gamma_times_the_closed_form() {
        tch::manual_seed(11);
        for (scale, channels) in [(1, 3), (4, 1)] {
            let prior = toy_prior(channels);
            let noise = if scale == 1 { 0.02 } else { 1e-5 };
            let post = FourierPosterior::new(&prior, scale, noise, (16, 16), tch::Device::Cpu);
            let p = 4;
            let exact = post.patch_log_entropy_power(p, &[(0, 0)]);
            let (x, y) = simulate(&prior, &post, scale, 600);
            let mean = post.mean(&y);
            let deviation = post.deviations(600, 1).squeeze_dim(1);
            for gamma in [0.0, 1.0] {
                let errors = &mean + &deviation * f64::sqrt(gamma) - &x;
                let measured = error_log_entropy_power(&errors, p, scale);
                let want = exact + (1.0f64 + gamma).ln();
                assert!((measured - want).abs() < 0.03, "s = {scale}, γ = {gamma}: ln U {measured:.4} vs {want:.4}");
            }
        }
    }

    fn assert_fits_agree(post: &FourierPosterior, y: &Tensor, case: &str) {
        let (fast, reference) = (post.fit_contrast(y), post.fit_contrast_by_tensors(y));
        assert_eq!(fast.len() as i64, y.size()[0], "{case}: one fit per channel");
        assert_eq!(fast.len(), reference.len(), "{case}");
        for ((alpha, beta), (a, b)) in fast.iter().zip(&reference) {
            assert!(beta == b && (alpha / a - 1.0).abs() < 1e-9, "{case}: {fast:?} vs {reference:?}");
        }
    }

    #[test]
    fn the_fit_by_loops_and_by_tensors_maximise_the_same_likelihood() {
        tch::manual_seed(3);
        // draws of the model, tilted away from it
        for (scale, channels, noise) in [(4, 3, 1e-6), (1, 1, 0.01), (2, 3, 1e-4)] {
            let prior = toy_prior(channels);
            let post = FourierPosterior::new(&prior, scale, noise, (40, 36), tch::Device::Cpu);
            let tilted = prior.tilted(&vec![(3.0, -0.35); channels]);
            let (_, y) =
                simulate(&tilted, &FourierPosterior::new(&tilted, scale, noise, (40, 36), tch::Device::Cpu), scale, 1);
            assert_fits_agree(&post, &y.get(0), &format!("toy model, s = {scale}"));
        }
        // a dead-leaves image, which the model does not describe, through a model fitted on others
        let prior = StationaryPrior::fit_named(crate::prior::DEAD_LEAVES, std::path::Path::new("."), 3).unwrap();
        let rgb = crate::dead_leaves(96, 96, 99);
        let x = Tensor::from_slice(&rgb).view([96, 96, 3]).permute([2, 0, 1]).to_kind(Kind::Double) / 255.0;
        let z = prior.to_decorrelated(&x);
        for scale in [1, 4] {
            let post = FourierPosterior::new(&prior, scale, 1e-5, (96 / scale, 96 / scale), tch::Device::Cpu);
            let g = filter_dft(96, scale).view([96, 1]) * filter_dft(96, scale).view([1, 96]);
            let y = (z.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * g)
                .fft_ifft2(None::<&[i64]>, [-2, -1], "backward")
                .real()
                .slice(1, 0, 96, scale)
                .slice(2, 0, 96, scale);
            let y = &y - y.mean_dim([1, 2].as_slice(), true, Kind::Double);
            assert_fits_agree(&post, &y, &format!("dead leaves, s = {scale}"));
        }
    }

    #[test]
    fn the_fit_is_the_same_on_any_number_of_threads() {
        tch::manual_seed(9);
        let prior = toy_prior(3);
        let post = FourierPosterior::new(&prior, 2, 1e-4, (24, 20), tch::Device::Cpu);
        let (_, y) = simulate(&prior.tilted(&[(2.0, 0.3); 3]), &post, 2, 1);
        let before = tch::get_num_threads();
        let fits: Vec<Vec<(f64, f64)>> = [1, 3, 8]
            .iter()
            .map(|&threads| {
                tch::set_num_threads(threads);
                post.fit_contrast(&y.get(0))
            })
            .collect();
        tch::set_num_threads(before);
        assert_eq!(fits[0], fits[1]);
        assert_eq!(fits[0], fits[2]);
    }

    #[test]
    fn the_fit_recovers_the_contrast_and_slope_of_a_tilted_draw() {
        tch::manual_seed(5);
        let prior = toy_prior(3);
        let post = FourierPosterior::new(&prior, 4, 1e-6, (48, 48), tch::Device::Cpu);
        let want = [(0.3, 0.0), (2.0, -0.5), (7.0, 0.4)];
        let tilted = prior.tilted(&want);
        let truth_post = FourierPosterior::new(&tilted, 4, 1e-6, (48, 48), tch::Device::Cpu);
        let (_, y) = simulate(&tilted, &truth_post, 4, 1);
        let fit = post.fit_contrast(&y.get(0));
        for ((alpha, beta), (a, b)) in fit.iter().zip(want) {
            assert!((alpha / a - 1.0).abs() < 0.15 && (beta - b).abs() < 0.11, "fit {fit:?}, want {want:?}");
        }
    }
}
