//! The denoisers the sampler can run with: the exact MMSE denoiser of a Gaussian-mixture prior
//! (closed form, for the exact tasks) and FFDNet (Zhang, Zuo & Zhang 2018, colour, the KAIR
//! weights in `ffdnet_color.safetensors`) for photographs.

use upbench_sdk::{MixturePrior, PluginError, TaskSpec};
use upbench_tch::tch::{nn, Device, Kind, Tensor};

use crate::sampler::{fail, Denoiser};

/// FFDNet's trained noise range: the noise-level map is clamped to 75/255.
pub const FFDNET_MAX_SIGMA: f64 = 75.0 / 255.0;

/// One prior component: ln w_c, m_c `[d]`, Σ_c `[d, d]`.
struct Component {
    log_weight: f64,
    mean: Tensor,
    cov: Tensor,
}

/// What one call at (x, σ) found, kept for the covariance products that follow it.
struct Moments {
    sigma: f64,
    x_ptr: usize,
    /// Cholesky factors of Σ_c + σ²·I.
    factors: Vec<Tensor>,
    /// Component posterior means E[X | x, c] `[C, B, d]`.
    means: Tensor,
    /// Posterior component weights `[C, B]`.
    weights: Tensor,
    /// E[X | x] `[B, d]`.
    mean: Tensor,
}

/// The MMSE denoiser of X ~ Σ_c w_c·N(m_c, Σ_c): E[X | x] = Σ_c w_c(x)·(m_c + Σ_c(Σ_c + σ²I)⁻¹(x − m_c))
/// with w_c(x) ∝ w_c·N(x; m_c, Σ_c + σ²I), and the exact Cov(X | x) = Σ_c w_c(x)·σ²Σ_c(Σ_c + σ²I)⁻¹
/// plus Σ_c w_c(x)·(μ_c − μ)(μ_c − μ)ᵀ. One component: the Gaussian case
/// μ + Σ(Σ + σ²I)⁻¹(x − μ). Float64 throughout.
pub struct ExactMixture {
    components: Vec<Component>,
    last: Option<Moments>,
}

impl ExactMixture {
    /// The denoiser of an exact task's prior, on `device`.
    pub fn new(prior: &MixturePrior, d: i64, device: Device) -> Result<Self, PluginError> {
        if prior.weights.len() != prior.components.len() || prior.weights.is_empty() {
            return Err(PluginError::UnsupportedTask("the prior's weights and components disagree".into()));
        }
        let on = |v: &[f64], shape: &[i64]| -> Result<Tensor, PluginError> {
            Tensor::from_slice(v).f_reshape(shape).and_then(|t| t.f_to_device(device)).map_err(fail)
        };
        let mut components = Vec::with_capacity(prior.components.len());
        for (w, c) in prior.weights.iter().zip(prior.components.iter()) {
            if c.mean.len() as i64 != d || c.covariance.len() as i64 != d * d || w.is_nan() || *w <= 0.0 {
                return Err(PluginError::UnsupportedTask(
                    "a prior component has the wrong size or a non-positive weight".into(),
                ));
            }
            components.push(Component {
                log_weight: w.ln(),
                mean: on(&c.mean, &[d])?,
                cov: on(&c.covariance, &[d, d])?,
            });
        }
        Ok(ExactMixture { components, last: None })
    }

    /// The prior's mean Σ_c w_c·m_c `[d]`.
    pub fn prior_mean(&self) -> Tensor {
        let w: Vec<Tensor> = self.components.iter().map(|c| &c.mean * c.log_weight.exp()).collect();
        Tensor::stack(&w, 0).sum_dim_intlist(0, false, Kind::Double)
    }

    /// The largest eigenvalue of the prior's covariance (between components included): the
    /// scale the automatic noise schedule starts from.
    pub fn largest_variance(&self) -> Result<f64, PluginError> {
        let mean = self.prior_mean();
        let mut total = self.components[0].cov.zeros_like();
        for c in &self.components {
            let offset = (&c.mean - &mean).unsqueeze(1);
            total += (&c.cov + offset.matmul(&offset.tr())) * c.log_weight.exp();
        }
        let eig = total.f_linalg_eigvalsh("L").map_err(fail)?;
        Ok(eig.max().double_value(&[]))
    }

    fn moments(&self, x: &Tensor, sigma: f64) -> Result<Moments, PluginError> {
        let x = x.f_to_kind(Kind::Double).map_err(fail)?;
        let d = x.size()[1];
        let mut factors = Vec::new();
        let mut means = Vec::new();
        let mut log_w = Vec::new();
        for c in &self.components {
            let eye = Tensor::eye(d, (Kind::Double, x.device()));
            let factor = (&c.cov + eye * (sigma * sigma)).f_linalg_cholesky(false).map_err(fail)?;
            let r = &x - &c.mean; // [B, d]
            let z = r.tr().f_cholesky_solve(&factor, false).map_err(fail)?.tr(); // (Σ+σ²I)⁻¹r, [B, d]
            means.push(&x - &z * (sigma * sigma)); // m + Σ(Σ+σ²I)⁻¹r = x − σ²(Σ+σ²I)⁻¹r
            let quad = (&r * &z).sum_dim_intlist(1, false, Kind::Double);
            let log_det = factor.diagonal(0, 0, 1).log().sum(Kind::Double) * 2.0;
            log_w.push(quad * -0.5 - log_det * 0.5 + c.log_weight);
            factors.push(factor);
        }
        let weights = Tensor::f_stack(&log_w, 0).and_then(|t| t.f_softmax(0, Kind::Double)).map_err(fail)?;
        let means = Tensor::f_stack(&means, 0).map_err(fail)?;
        let mean = (&means * weights.unsqueeze(-1)).sum_dim_intlist(0, false, Kind::Double);
        Ok(Moments { sigma, x_ptr: x.data_ptr() as usize, factors, means, weights, mean })
    }

    fn moments_at(&mut self, x: &Tensor, sigma: f64) -> Result<&Moments, PluginError> {
        let fresh = !matches!(&self.last, Some(m) if m.sigma == sigma && m.x_ptr == x.data_ptr() as usize);
        if fresh {
            self.last = Some(self.moments(x, sigma)?);
        }
        Ok(self.last.as_ref().expect("just set"))
    }
}

impl Denoiser for ExactMixture {
    fn denoise(&mut self, x: &Tensor, sigma: f64) -> Result<Tensor, PluginError> {
        self.last = None;
        Ok(self.moments_at(x, sigma)?.mean.shallow_clone())
    }

    fn posterior_cov(&mut self, x: &Tensor, sigma: f64, _denoised: &Tensor, v: &Tensor) -> Result<Tensor, PluginError> {
        let s2 = sigma * sigma;
        let m = self.moments_at(x, sigma)?;
        let v = v.f_to_kind(Kind::Double).map_err(fail)?;
        let mut out = v.zeros_like();
        for (i, factor) in m.factors.iter().enumerate() {
            let w = m.weights.get(i as i64).unsqueeze(1); // [B, 1]
            let solved = v.tr().f_cholesky_solve(factor, false).map_err(fail)?.tr();
            // σ²Σ(Σ+σ²I)⁻¹v = σ²(v − σ²(Σ+σ²I)⁻¹v)
            out += (&v - solved * s2) * s2 * &w;
            let offset = m.means.get(i as i64) - &m.mean;
            let along = (&offset * &v).sum_dim_intlist(1, true, Kind::Double);
            out += offset * along * w;
        }
        Ok(out)
    }
}

/// FFDNet, colour (KAIR's `FFDNet(in_nc=3, out_nc=3, nc=96, nb=12)`): pixel-unshuffle ×2, the
/// noise-level map appended as a 13th channel, 12 3×3 convolutions (ReLU between), pixel-shuffle
/// back; it predicts the clean image. Input in [0, 1] (not clipped), σ on the same scale, the map
/// clamped to the trained 75/255. Grey images run as three equal channels and come back as their
/// mean.
pub struct Ffdnet {
    net: nn::Sequential,
    _vs: nn::VarStore,
}

impl Ffdnet {
    /// Loads the weights file `weights` (relative names in `task`'s models directory) on `device`.
    pub fn load(task: &TaskSpec, weights: &str, device: Device) -> Result<Self, PluginError> {
        let mut vs = nn::VarStore::new(device);
        let root = vs.root() / "model";
        let conv = |i: usize, input, output| {
            nn::conv2d(&root / i.to_string(), input, output, 3, nn::ConvConfig { padding: 1, ..Default::default() })
        };
        let mut net = nn::seq().add(conv(0, 13, 96)).add_fn(|x| x.relu());
        for layer in (2..=20).step_by(2) {
            net = net.add(conv(layer, 96, 96)).add_fn(|x| x.relu());
        }
        net = net.add(conv(22, 96, 12));
        image_kit::weights::load(&mut vs, task, weights)?;
        Ok(Ffdnet { net, _vs: vs })
    }
}

impl Denoiser for Ffdnet {
    fn denoise(&mut self, x: &Tensor, sigma: f64) -> Result<Tensor, PluginError> {
        use upbench_tch::tch::nn::Module;
        let size = x.size();
        if size.len() != 4 || !(size[1] == 1 || size[1] == 3) {
            return Err(PluginError::Failed(format!("FFDNet denoises [B, 1 or 3, H, W] images, got {size:?}").into()));
        }
        let (b, c, h, w) = (size[0], size[1], size[2], size[3]);
        let rgb = if c == 1 { x.expand([b, 3, h, w], false) } else { x.shallow_clone() };
        let rgb = rgb.f_to_kind(Kind::Float).map_err(fail)?;
        let padded = rgb.f_pad([0, w % 2, 0, h % 2], "replicate", None).map_err(fail)?;
        let packed = padded.f_pixel_unshuffle(2).map_err(fail)?;
        let ps = packed.size();
        let map = Tensor::f_full([ps[0], 1, ps[2], ps[3]], sigma.min(FFDNET_MAX_SIGMA), (Kind::Float, x.device()))
            .map_err(fail)?;
        let input = Tensor::f_cat(&[packed, map], 1).map_err(fail)?;
        let out = self.net.forward(&input).f_pixel_shuffle(2).map_err(fail)?.narrow(2, 0, h).narrow(3, 0, w);
        let out = if c == 1 { out.mean_dim(1, true, Kind::Float) } else { out };
        out.f_to_kind(x.kind()).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use upbench_sdk::GaussianPrior;
    use upbench_tch::tch;

    fn mixture() -> MixturePrior {
        let cov = |a: f64, b: f64| vec![a, 0.3, 0.3, b];
        MixturePrior {
            weights: vec![0.3, 0.7].into(),
            components: vec![
                GaussianPrior { mean: vec![-2.0, 1.0].into(), covariance: cov(1.0, 0.5).into() },
                GaussianPrior { mean: vec![1.5, -0.5].into(), covariance: cov(0.4, 0.8).into() },
            ]
            .into(),
        }
    }

    /// Tweedie: D(x, σ) = x + σ²∇ln p_σ(x) and σ²∇D = Cov(X | x); both checked against finite
    /// differences of the smoothed density, computed independently here.
    #[test]
    fn the_mixture_denoiser_obeys_tweedies_formulas() {
        let prior = mixture();
        let mut den = ExactMixture::new(&prior, 2, tch::Device::Cpu).unwrap();
        let sigma = 0.7;
        let log_p = |x: [f64; 2]| -> f64 {
            let mut total = 0.0;
            for (w, c) in prior.weights.iter().zip(prior.components.iter()) {
                let s = [
                    c.covariance[0] + sigma * sigma,
                    c.covariance[1],
                    c.covariance[2],
                    c.covariance[3] + sigma * sigma,
                ];
                let det = s[0] * s[3] - s[1] * s[2];
                let r = [x[0] - c.mean[0], x[1] - c.mean[1]];
                let q = (s[3] * r[0] * r[0] - 2.0 * s[1] * r[0] * r[1] + s[0] * r[1] * r[1]) / det;
                total += w * (-0.5 * q).exp() / (std::f64::consts::TAU * det.sqrt());
            }
            total.ln()
        };
        let x = [0.3, 0.2];
        let h = 1e-3;
        let grad = |x: [f64; 2]| {
            [
                (log_p([x[0] + h, x[1]]) - log_p([x[0] - h, x[1]])) / (2.0 * h),
                (log_p([x[0], x[1] + h]) - log_p([x[0], x[1] - h])) / (2.0 * h),
            ]
        };
        let g = grad(x);
        let xt = Tensor::from_slice(&x).view([1, 2]);
        let d = den.denoise(&xt, sigma).unwrap();
        for i in 0..2 {
            let want = x[i] + sigma * sigma * g[i];
            assert!((d.double_value(&[0, i as i64]) - want).abs() < 1e-5, "D_{i}");
        }
        // Cov(X|x) e_j = σ²(e_j + σ²∂_j∇ln p_σ).
        for j in 0..2 {
            let mut e = [0.0, 0.0];
            e[j] = 1.0;
            let cov = den.posterior_cov(&xt, sigma, &d, &Tensor::from_slice(&e).view([1, 2])).unwrap();
            let (mut up, mut down) = (x, x);
            up[j] += h;
            down[j] -= h;
            let (gu, gd) = (grad(up), grad(down));
            for i in 0..2 {
                let hess = (gu[i] - gd[i]) / (2.0 * h);
                let want = sigma * sigma * (e[i] + sigma * sigma * hess);
                let got = cov.double_value(&[0, i as i64]);
                assert!((got - want).abs() < 1e-5, "Cov[{i},{j}] = {got}, want {want}");
            }
        }
    }
}
