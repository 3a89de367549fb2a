//! Tiled inference reproduces whole-image inference for this purely convolutional network when
//! the overlap covers its receptive field (CARN-M's receptive-field radius is 21 input pixels), on an
//! 88 × 60 dead-leaves image cut into four tiles (44 × 44 and the rest) whose inner edges lie
//! inside the image by more than the overlap:
//! - in float64 (`precision = "float64"`) within 1e-6 (the scheme is exact: measured 0), and a
//!   short overlap must show (the check can fail);
//! - in float32, the default, within 1e-5: libtorch's float32 convolutions may round differently
//!   for different input sizes and thread counts (measured for CARN-M on a 100 × 100 image cut in
//!   50 × 50 tiles: 1.4e-6 tiled against whole, and 1.7e-6 between two whole-image runs on 1 and 2
//!   threads; 0 on this image), at most about 4e-4 of a grey level.

use upbench_plugin_carn_m_x4::CarnM;
use upbench_sdk::{testing, OwnedTensor, ParamValue, TaskKind};

/// The weights live in `../shared/models` beside the checkout unless `UPBENCH_MODELS_DIR` says.
fn point_at_models() {
    if std::env::var_os("UPBENCH_MODELS_DIR").is_none() {
        std::env::set_var("UPBENCH_MODELS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models"));
    }
}

/// Rows of the test image.
const H: i64 = 88;
/// Columns of the test image.
const W: i64 = 60;
/// The tile side.
const TILE: i64 = 44;

/// The ×4 output of `input` `[1, 3, H, W]` with these tiling parameters and precision.
fn upscale(input: &OwnedTensor, tile: i64, overlap: i64, precision: &str) -> Vec<f64> {
    let params = testing::params_with::<CarnM>(&[
        ("tile", ParamValue::Int(tile)),
        ("tile_overlap", ParamValue::Int(overlap)),
        ("precision", ParamValue::Text(precision.into())),
    ]);
    let task = testing::standard_task(TaskKind::ImageSuperResolution);
    let mut model = testing::module::<CarnM>().new_model()(&params, &task).into_result().unwrap();
    testing::restore_checked(&mut model, input.view(), 1, 0, &[3, 4 * H, 4 * W]).unwrap()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn tiles_with_the_default_overlap_reproduce_the_whole_image() {
    point_at_models();
    let pixels = image_kit::dead_leaves(H as usize, W as usize, 7);
    // HWC bytes → [1, 3, H, W] in [0, 1]
    let n = (H * W) as usize;
    let pixels = &pixels;
    let chw = (0..3).flat_map(|c| (0..n).map(move |i| f64::from(pixels[i * 3 + c]) / 255.0)).collect();
    let input = OwnedTensor::from_f64_vec(chw, &[1, 3, H, W]).unwrap();
    let whole = upscale(&input, 0, 0, "float64");
    let tiled = max_diff(&whole, &upscale(&input, TILE, 21, "float64"));
    assert!(tiled < 1e-6, "float64, tiles of 44 with overlap 21: max |Δ| {tiled:e}");
    let short = max_diff(&whole, &upscale(&input, TILE, 4, "float64"));
    assert!(short > 1e-4, "overlap 4 is far below the radius, yet max |Δ| is only {short:e}");
    let whole32 = upscale(&input, 0, 0, "float32");
    let tiled32 = max_diff(&whole32, &upscale(&input, TILE, 21, "float32"));
    assert!(tiled32 < 1e-5, "float32, tiles of 44 with overlap 21: max |Δ| {tiled32:e}");
    eprintln!("carn-m-x4: tiled − whole max |Δ| float64 {tiled:e}, float32 {tiled32:e}; overlap 4 (float64) {short:e}");
}
