//! Inpainting under the [`StationaryPrior`]: the exact posterior of the hidden pixels given the
//! observed ones (noise-free), by conjugate gradients on the precision Q = C⁻¹, which the Fourier
//! domain applies cheaply (Q·v = F⁻¹(F v / S)).
//!
//! Mean: Q_hh·μ_h = −Q_ho·x_o, by conjugate gradients preconditioned with C_hh. Draws by perturbation: with x′ a prior draw,
//! δ_h = x′_h + Q_hh⁻¹·Q_ho·x′_o is a zero-mean field with the posterior covariance. The solve runs
//! on a window around the hole (its bounding box plus a margin), mirrored to twice its size.

use upbench_tch::tch::{Kind, Tensor};

use crate::prior::StationaryPrior;
use crate::resample::mirror;

/// Conjugate-gradient settings.
#[derive(Debug, Clone, Copy)]
pub struct Solver {
    /// Iteration cap.
    pub max_iterations: usize,
    /// Stop when every system's residual norm has fallen by this factor.
    pub tolerance: f64,
    /// Observed pixels kept around the hole's bounding box.
    pub margin: i64,
}

impl Default for Solver {
    fn default() -> Self {
        Solver { max_iterations: 1000, tolerance: 1e-4, margin: 24 }
    }
}

fn precision(v: &Tensor, psd: &Tensor) -> Tensor {
    (v.fft_fft2(None::<&[i64]>, [-2, -1], "backward") / psd).fft_ifft2(None::<&[i64]>, [-2, -1], "backward").real()
}

fn covariance(v: &Tensor, psd: &Tensor) -> Tensor {
    (v.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * psd).fft_ifft2(None::<&[i64]>, [-2, -1], "backward").real()
}

/// Solves Q_hh·u = b for a batch `[B, C, H, W]` (b zero outside the hole) by conjugate gradients
/// preconditioned with C_hh (the prior covariance on the hole, whose product with Q_hh is the
/// identity plus a term of the hole's boundary); returns u and the iterations used.
fn solve(b: &Tensor, hidden: &Tensor, psd: &Tensor, solver: Solver) -> (Tensor, usize) {
    let apply = |v: &Tensor| precision(&(v * hidden), psd) * hidden;
    let precondition = |v: &Tensor| covariance(&(v * hidden), psd) * hidden;
    let dot = |a: &Tensor, b: &Tensor| (a * b).sum_dim_intlist([-2, -1].as_slice(), true, Kind::Double);
    let mut x = b.zeros_like();
    let mut r = b.shallow_clone();
    let mut z = precondition(&r);
    let mut p = z.shallow_clone();
    let mut rz = dot(&r, &z);
    let norm = |r: &Tensor| dot(r, r).max().double_value(&[]).sqrt();
    let start = norm(&r).max(f64::MIN_POSITIVE);
    for iteration in 0..solver.max_iterations {
        if norm(&r) <= solver.tolerance * start {
            return (x, iteration);
        }
        let ap = apply(&p);
        let alpha = &rz / dot(&p, &ap).clamp_min(f64::MIN_POSITIVE);
        x += &p * &alpha;
        r -= &ap * &alpha;
        z = precondition(&r);
        let rz_next = dot(&r, &z);
        p = &z + &p * (&rz_next / rz.clamp_min(f64::MIN_POSITIVE));
        rz = rz_next;
    }
    (x, solver.max_iterations)
}

/// Samples `k` inpaintings of one image. `z` is `[C, H, W]` in the prior's decorrelated,
/// mean-free coordinates, `hidden` `[H, W]` (true = hidden); returns `[k, C, H, W]` with the
/// observed pixels kept and the hidden ones μ + √γ·δ, and the worst CG iteration count.
pub fn inpaint(
    prior: &StationaryPrior,
    z: &Tensor,
    hidden: &Tensor,
    k: i64,
    gamma: f64,
    solver: Solver,
) -> (Tensor, usize) {
    let device = z.device();
    let (h, w) = (z.size()[1], z.size()[2]);
    let rows = hidden.any_dim(1, false).nonzero();
    let cols = hidden.any_dim(0, false).nonzero();
    if rows.size()[0] == 0 {
        return (z.unsqueeze(0).expand([k, -1, -1, -1], false).contiguous(), 0);
    }
    let span = |idx: &Tensor, len: i64| {
        let (lo, hi) = (idx.min().int64_value(&[]), idx.max().int64_value(&[]));
        let lo = (lo - solver.margin).max(0);
        (lo, (hi + 1 + solver.margin).min(len) - lo)
    };
    let ((top, height), (left, width)) = (span(&rows, h), span(&cols, w));
    let z = z.to_kind(Kind::Double);
    let window = z.narrow(1, top, height).narrow(2, left, width);
    let hole = hidden.narrow(0, top, height).narrow(1, left, width);
    let (zw, hole_w) = (mirror(&window), mirror(&hole.to_kind(Kind::Double)));
    let observed_w = 1.0 - &hole_w;
    let psd = prior.spectrum(2 * height, 2 * width, device);
    let c = zw.size()[0];

    let white = Tensor::randn([k, c, 2 * height, 2 * width], (Kind::Double, device));
    let draws = (white.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * psd.sqrt())
        .fft_ifft2(None::<&[i64]>, [-2, -1], "backward")
        .real();
    // One batch: the mean's right-hand side, then the k perturbations'.
    let rhs = Tensor::cat(&[-(zw.unsqueeze(0) * &observed_w), &draws * &observed_w], 0);
    let rhs = precision(&rhs, &psd) * &hole_w;
    let (u, iterations) = solve(&rhs, &hole_w, &psd, solver);
    let mean = u.get(0);
    let deviations = (&draws + u.narrow(0, 1, k)) * &hole_w;
    let filled = (mean.unsqueeze(0) + deviations * gamma.sqrt()).narrow(2, 0, height).narrow(3, 0, width);
    let hole4 = hole.to_kind(Kind::Double).view([1, 1, height, width]);
    let patched = window.unsqueeze(0) * (1.0 - &hole4) + filled * &hole4;
    let out = z.unsqueeze(0).repeat([k, 1, 1, 1]);
    out.narrow(2, top, height).narrow(3, left, width).copy_(&patched);
    (out, iterations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use upbench_tch::tch;

    #[test]
    fn the_mean_matches_the_dense_conditional_gaussian() {
        // Small periodic-free check: a 12 × 10 grey window, hole in the middle, margin covers all.
        let radii: Vec<f64> = (0..24).map(|i| ((1.0f64 / 256.0).ln() + i as f64 * 0.22).exp()).collect();
        let psd: Vec<f64> = radii.iter().map(|r| (1e-3 / (r * r + 1e-2)).ln()).collect();
        let prior = StationaryPrior { channels: 1, mean: vec![0.0], radii, log_psd: vec![psd] };
        let (h, w) = (12i64, 10i64);
        tch::manual_seed(4);
        let z = Tensor::randn([1, h, w], (Kind::Double, tch::Device::Cpu)) * 0.1;
        let hidden = Tensor::zeros([h, w], (Kind::Bool, tch::Device::Cpu));
        let _ = hidden.narrow(0, 4, 4).narrow(1, 3, 4).fill_(1);
        let solver = Solver { margin: 100, tolerance: 1e-10, ..Solver::default() };
        let (out, _) = inpaint(&prior, &z, &hidden, 1, 0.0, solver);
        // Dense reference on the mirrored 2h × 2w torus: covariance from the spectrum.
        let spec = prior.spectrum(2 * h, 2 * w, tch::Device::Cpu);
        let n = 2 * h * 2 * w;
        let eye = Tensor::eye(n, (Kind::Double, tch::Device::Cpu)).view([n, 2 * h, 2 * w]);
        let cov = (eye.fft_fft2(None::<&[i64]>, [-2, -1], "backward") * &spec)
            .fft_ifft2(None::<&[i64]>, [-2, -1], "backward")
            .real()
            .view([n, n]);
        let hole_w = mirror(&hidden.to_kind(Kind::Double)).flatten(0, -1).gt(0.5);
        let (hi, oi) = (hole_w.nonzero().squeeze_dim(1), hole_w.logical_not().nonzero().squeeze_dim(1));
        let xo = mirror(&z).flatten(0, -1).index_select(0, &oi);
        let c_ho = cov.index_select(0, &hi).index_select(1, &oi);
        let c_oo = cov.index_select(0, &oi).index_select(1, &oi);
        let mean_h = c_ho.matmul(&Tensor::linalg_solve(&c_oo, &xo.unsqueeze(1), true)).squeeze_dim(1);
        // The dense conditional mean written into the mirrored field; compare the original quadrant.
        let full =
            mirror(&z).flatten(0, -1).index_put(&[Some(hi.shallow_clone())], &mean_h, false).view([2 * h, 2 * w]);
        let want = full.narrow(0, 0, h).narrow(1, 0, w);
        let diff = (out.get(0).get(0) - want).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "max difference {diff}");
    }
}
