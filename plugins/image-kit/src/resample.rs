//! MATLAB-style bicubic upsampling on tch tensors.

use upbench_tch::tch::{Kind, Tensor};

/// Keys' cubic with a = −0.5, MATLAB's `cubic` (also the pnp-sampler's exact bicubic operator).
pub fn cubic(x: f64) -> f64 {
    let a = x.abs();
    if a <= 1.0 {
        1.5 * a.powi(3) - 2.5 * a.powi(2) + 1.0
    } else if a <= 2.0 {
        -0.5 * a.powi(3) + 2.5 * a.powi(2) - 4.0 * a + 2.0
    } else {
        0.0
    }
}

/// Half-sample symmetric extension of `[…, h, w]` to `[…, 2h, 2w]`: the periodic grid on which
/// the Fourier-domain solvers treat an image without wrap-around seams (MATLAB's mirrored
/// borders continued).
pub fn mirror(z: &Tensor) -> Tensor {
    let wide = Tensor::cat(&[z.shallow_clone(), z.flip([-1])], -1);
    Tensor::cat(&[wide.shallow_clone(), wide.flip([-2])], -2)
}

/// Source indices (0-based, mirrored at the borders) and normalised weights of the 6 taps MATLAB
/// uses for each of `in_len·scale` outputs.
fn taps(in_len: i64, scale: i64) -> (Vec<i64>, Vec<f64>) {
    const TAPS: i64 = 6;
    let out_len = in_len * scale;
    let s = scale as f64;
    let (mut indices, mut weights) = (Vec::new(), Vec::new());
    for x in 1..=out_len {
        let u = x as f64 / s + 0.5 * (1.0 - 1.0 / s);
        let left = (u - 2.0).floor() as i64;
        let w: Vec<f64> = (0..TAPS).map(|j| cubic(u - (left + j) as f64)).collect();
        let total: f64 = w.iter().sum();
        for j in 0..TAPS {
            // MATLAB mirrors 1-based index i through [1..n, n..1] repeated.
            let period = 2 * in_len;
            let m = (left + j - 1).rem_euclid(period);
            indices.push(if m < in_len { m } else { period - 1 - m });
            weights.push(w[j as usize] / total);
        }
    }
    (indices, weights)
}

fn along(x: &Tensor, dim: i64, scale: i64) -> Tensor {
    let in_len = x.size()[dim as usize];
    let (indices, weights) = taps(in_len, scale);
    let device = x.device();
    let idx = Tensor::from_slice(&indices).to_device(device);
    let w = Tensor::from_slice(&weights).to_kind(x.kind()).to_device(device);
    let picked = x.index_select(dim, &idx); // `dim` now holds out_len × 6 entries
    let mut shape = x.size();
    shape[dim as usize] = in_len * scale;
    shape.insert(dim as usize + 1, 6);
    let mut w_shape = vec![1i64; shape.len()];
    w_shape[dim as usize] = in_len * scale;
    w_shape[dim as usize + 1] = 6;
    (picked.view(shape.as_slice()) * w.view(w_shape.as_slice())).sum_dim_intlist(dim + 1, false, x.kind())
}

/// Upsamples `[…, h, w]` by the integer `scale` as MATLAB's `imresize(x, scale, 'bicubic')` does
/// on floating-point images (rows first, mirrored borders, no rounding). Computed in float64.
pub fn upsample_bicubic(x: &Tensor, scale: i64) -> Tensor {
    let kind = x.kind();
    let dims = x.dim() as i64;
    let x = x.to_kind(Kind::Double);
    along(&along(&x, dims - 2, scale), dims - 1, scale).to_kind(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use upbench_tch::tch;

    #[test]
    fn constant_images_stay_constant_and_linear_ramps_stay_linear_inside() {
        let c = Tensor::full([1, 1, 5, 7], 0.25, (Kind::Double, tch::Device::Cpu));
        let up = upsample_bicubic(&c, 4);
        assert_eq!(up.size(), [1, 1, 20, 28]);
        assert!((up - 0.25).abs().max().double_value(&[]) < 1e-12);
        // Keys' cubic reproduces linear functions away from the mirrored borders.
        let ramp = Tensor::arange(16, (Kind::Double, tch::Device::Cpu)).view([1, 16]);
        let up = upsample_bicubic(&ramp.view([1, 1, 1, 16]), 4).view([4, 64]).get(0);
        for o in 12..52 {
            let want = (o as f64 + 0.5) / 4.0 - 0.5;
            assert!((up.double_value(&[o]) - want).abs() < 1e-12, "output {o}");
        }
    }

    #[test]
    fn the_taps_of_scale_four_match_matlabs_weights() {
        // MATLAB's `contributions` for output 1 of 8 → 32: u = 0.625, taps at 1-based −2…3
        // mirrored to 3, 2, 1, 1, 2, 3; weights cubic(u − i), worked by hand.
        let (idx, w) = taps(8, 4);
        assert_eq!(&idx[..6], &[2, 1, 0, 0, 1, 2]);
        let want = [0.0, -0.0439453125, 0.3896484375, 0.7275390625, -0.0732421875, 0.0];
        for (a, b) in w[..6].iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{:?}", &w[..6]);
        }
    }
}
