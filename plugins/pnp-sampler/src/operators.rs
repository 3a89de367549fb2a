//! The measurement operators of upbench's tasks as linear maps with exact adjoints: an exact
//! task's dense matrix, the identity (denoising), a pixel mask (inpainting), and MATLAB's
//! antialiased bicubic ×1/s decimation (super-resolution) as the separable pair of matrices
//! MATLAB's `imresize` applies, so that Aᵀ is their transpose, exactly.

use image_kit::resample::cubic;
use upbench_sdk::PluginError;
use upbench_tch::tch::{Device, Kind, Tensor};

use crate::sampler::{fail, Operator};

/// An exact task's A (`[m, d]`): rows of the batch `[B, d]` ↦ `[B, m]`.
pub struct Dense {
    matrix: Tensor,
    gram: f64,
}

impl Dense {
    /// A from its `[m, d]` matrix.
    pub fn new(matrix: Tensor) -> Self {
        let m = matrix.size()[0].max(1);
        let gram = matrix.square().sum(Kind::Double).double_value(&[]) / m as f64;
        Dense { matrix, gram }
    }
}

impl Operator for Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor, PluginError> {
        x.f_matmul(&self.matrix.tr()).map_err(fail)
    }
    fn adjoint(&self, y: &Tensor) -> Result<Tensor, PluginError> {
        y.f_matmul(&self.matrix).map_err(fail)
    }
    fn gram_scale(&self) -> f64 {
        self.gram
    }
}

/// Denoising: A = I.
pub struct Identity;

impl Operator for Identity {
    fn forward(&self, x: &Tensor) -> Result<Tensor, PluginError> {
        Ok(x.shallow_clone())
    }
    fn adjoint(&self, y: &Tensor) -> Result<Tensor, PluginError> {
        Ok(y.shallow_clone())
    }
    fn gram_scale(&self) -> f64 {
        1.0
    }
}

/// Inpainting: A multiplies by the mask (1 observed, 0 hidden), measurements kept at full size
/// with zeros where hidden; self-adjoint.
pub struct Mask {
    mask: Tensor,
}

impl Mask {
    /// The operator of a `[1, 1, H, W]` (or broadcastable) mask of zeros and ones.
    pub fn new(mask: Tensor) -> Self {
        Mask { mask }
    }
}

impl Operator for Mask {
    fn forward(&self, x: &Tensor) -> Result<Tensor, PluginError> {
        x.f_mul(&self.mask).map_err(fail)
    }
    fn adjoint(&self, y: &Tensor) -> Result<Tensor, PluginError> {
        y.f_mul(&self.mask).map_err(fail)
    }
    fn gram_scale(&self) -> f64 {
        1.0
    }
}

/// MATLAB's `imresize(…, 1/scale, 'bicubic')` along one dimension as an `[n, scale·n]` matrix
/// (float64): output i (1-based) samples the input at u = i·s + ½·(1 − s) with the kernel
/// stretched by s (antialiasing), ⌈4s⌉ + 2 taps normalised to sum to one, borders mirrored
/// (`[1..N, N..1]`). Taps landing on the same mirrored pixel add up.
pub fn decimation_matrix(n: i64, scale: i64) -> Vec<f64> {
    let (len, s) = (n * scale, scale as f64);
    let width = 4.0 * s;
    let taps = width.ceil() as i64 + 2;
    let mut matrix = vec![0.0; (n * len) as usize];
    for i in 1..=n {
        let u = i as f64 * s + 0.5 * (1.0 - s);
        let left = (u - width / 2.0).floor() as i64;
        let raw: Vec<f64> = (0..taps).map(|j| cubic((u - (left + j) as f64) / s) / s).collect();
        let total: f64 = raw.iter().sum();
        for (j, w) in raw.iter().enumerate() {
            let m = (left + j as i64 - 1).rem_euclid(2 * len);
            let source = if m < len { m } else { 2 * len - 1 - m };
            matrix[((i - 1) * len + source) as usize] += w / total;
        }
    }
    matrix
}

/// Super-resolution: A = MATLAB's antialiased bicubic decimation by `scale`, `[B, C, s·h, s·w]`
/// ↦ `[B, C, h, w]`, as rows·x·colsᵀ (rows `[h, s·h]`, cols `[w, s·w]`).
pub struct Bicubic {
    rows: Tensor,
    cols: Tensor,
    gram: f64,
}

impl Bicubic {
    /// The decimation of `s·h × s·w` images to `h × w`, in `kind` on `device`.
    pub fn new(h: i64, w: i64, scale: i64, kind: Kind, device: Device) -> Result<Self, PluginError> {
        let matrix = |n: i64| {
            Tensor::from_slice(&decimation_matrix(n, scale))
                .f_reshape([n, n * scale])
                .and_then(|t| t.f_to_kind(kind))
                .and_then(|t| t.f_to_device(device))
                .map_err(fail)
        };
        let (rows, cols) = (matrix(h)?, matrix(w)?);
        let mean_square = |t: &Tensor| t.square().sum(Kind::Double).double_value(&[]) / t.size()[0] as f64;
        let gram = mean_square(&rows) * mean_square(&cols);
        Ok(Bicubic { rows, cols, gram })
    }
}

impl Operator for Bicubic {
    fn forward(&self, x: &Tensor) -> Result<Tensor, PluginError> {
        self.rows.f_matmul(x).and_then(|t| t.f_matmul(&self.cols.tr())).map_err(fail)
    }
    fn adjoint(&self, y: &Tensor) -> Result<Tensor, PluginError> {
        self.rows.tr().f_matmul(y).and_then(|t| t.f_matmul(&self.cols)).map_err(fail)
    }
    fn gram_scale(&self) -> f64 {
        self.gram
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::dot;
    use upbench_tch::tch;

    fn adjoint_gap(op: &dyn Operator, x: &Tensor, y: &Tensor) -> f64 {
        let lhs = dot(&op.forward(x).unwrap(), y).unwrap();
        let rhs = dot(x, &op.adjoint(y).unwrap()).unwrap();
        ((lhs - &rhs).abs() / rhs.abs().clamp_min(1e-12)).max().double_value(&[])
    }

    /// ⟨A·x, y⟩ = ⟨x, Aᵀ·y⟩ on random tensors, for every operator.
    #[test]
    fn every_adjoint_is_the_transpose() {
        let opts = (Kind::Double, tch::Device::Cpu);
        tch::manual_seed(3);
        let bicubic = Bicubic::new(5, 7, 4, Kind::Double, tch::Device::Cpu).unwrap();
        let gap = adjoint_gap(&bicubic, &Tensor::randn([2, 3, 20, 28], opts), &Tensor::randn([2, 3, 5, 7], opts));
        assert!(gap < 1e-12, "bicubic ×4: relative gap {gap}");
        let bicubic3 = Bicubic::new(6, 4, 3, Kind::Double, tch::Device::Cpu).unwrap();
        let gap = adjoint_gap(&bicubic3, &Tensor::randn([1, 1, 18, 12], opts), &Tensor::randn([1, 1, 6, 4], opts));
        assert!(gap < 1e-12, "bicubic ×3: relative gap {gap}");
        let mask = Mask::new(Tensor::randn([1, 1, 6, 6], opts).gt(0.0).to_kind(Kind::Double));
        let gap = adjoint_gap(&mask, &Tensor::randn([2, 3, 6, 6], opts), &Tensor::randn([2, 3, 6, 6], opts));
        assert!(gap < 1e-12, "mask: relative gap {gap}");
        let dense = Dense::new(Tensor::randn([5, 9], opts));
        let gap = adjoint_gap(&dense, &Tensor::randn([4, 9], opts), &Tensor::randn([4, 5], opts));
        assert!(gap < 1e-12, "dense: relative gap {gap}");
        let gap = adjoint_gap(&Identity, &Tensor::randn([4, 9], opts), &Tensor::randn([4, 9], opts));
        assert!(gap < 1e-12, "identity: relative gap {gap}");
    }

    /// Away from the borders MATLAB's antialiased bicubic equals PyTorch's
    /// `interpolate(mode="bicubic", antialias=True)` (same Keys a = −0.5 kernel stretched by s,
    /// normalised taps; the two differ only at the borders, which MATLAB mirrors and PyTorch
    /// truncates): an independent check of the decimation matrices.
    #[test]
    fn the_decimation_matches_pytorchs_antialiased_bicubic_inside() {
        let opts = (Kind::Double, tch::Device::Cpu);
        tch::manual_seed(5);
        let (h, w, s) = (9, 11, 4);
        let x = Tensor::rand([1, 3, h * s, w * s], opts);
        let ours = Bicubic::new(h, w, s, Kind::Double, tch::Device::Cpu).unwrap().forward(&x).unwrap();
        let torch = x.internal_upsample_bicubic2d_aa([h, w], false, None, None);
        let inside = |t: &Tensor| t.narrow(2, 2, h - 4).narrow(3, 2, w - 4);
        let err = (inside(&ours) - inside(&torch)).abs().max().double_value(&[]);
        assert!(err < 1e-6, "max interior difference {err}");
        // The borders do differ (mirroring), so the comparison above is not vacuous.
        let border = (ours.narrow(2, 0, 1) - torch.narrow(2, 0, 1)).abs().max().double_value(&[]);
        assert!(border > 1e-4, "border difference {border}");
    }

    #[test]
    fn each_decimation_row_sums_to_one() {
        let m = decimation_matrix(6, 4);
        for row in m.chunks(24) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }
}
