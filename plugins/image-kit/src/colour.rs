//! Colour conversions on `[n, 3, h, w]` tensors in [0, 1].
//!
//! YCbCr here is JPEG's (ITU-R BT.601, full range, chroma centred on 128/255), the convention the
//! ESPCN weights were trained with.

use upbench_tch::tch::Tensor;

const TO_YCBCR: [[f64; 3]; 3] = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]];
const TO_RGB: [[f64; 3]; 3] = [[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]];
const CHROMA_OFFSET: f64 = 128.0 / 255.0;

fn mix(x: &Tensor, m: &[[f64; 3]; 3]) -> Tensor {
    let c = |i: i64| x.narrow(1, i, 1);
    let rows: Vec<Tensor> = m.iter().map(|r| c(0) * r[0] + c(1) * r[1] + c(2) * r[2]).collect();
    Tensor::cat(&rows, 1)
}

/// RGB → YCbCr.
pub fn rgb_to_ycbcr(rgb: &Tensor) -> Tensor {
    let ycc = mix(rgb, &TO_YCBCR);
    let offset = Tensor::from_slice(&[0.0, CHROMA_OFFSET, CHROMA_OFFSET]).to_kind(rgb.kind()).to_device(rgb.device());
    ycc + offset.view([1, 3, 1, 1])
}

/// YCbCr → RGB, the inverse of [`rgb_to_ycbcr`].
pub fn ycbcr_to_rgb(ycc: &Tensor) -> Tensor {
    let offset = Tensor::from_slice(&[0.0, CHROMA_OFFSET, CHROMA_OFFSET]).to_kind(ycc.kind()).to_device(ycc.device());
    mix(&(ycc - offset.view([1, 3, 1, 1])), &TO_RGB)
}
