//! The checks every pretrained ×4 super-resolution plugin's tests share (test support, like
//! `upbench_sdk::testing`): its configurations conform, bad parameters, weights files and tasks
//! are named errors before any model runs, and tiles with enough overlap reproduce the whole
//! image. One place, so that `srresnet-x4`, `carn-m-x4`, `rfdn-x4` and `rrdb-x4` test alike.

use std::path::PathBuf;

use upbench_sdk::{testing, OwnedTensor, ParamValue, Plugin, PluginError, TaskKind, TaskSpec};

use crate::weights::MODELS_DIR_VAR;

/// Points [`MODELS_DIR_VAR`] at `../shared/models` beside the checkout unless it is set, and
/// returns the directory.
pub fn point_at_models() -> PathBuf {
    if std::env::var_os(MODELS_DIR_VAR).is_none() {
        std::env::set_var(MODELS_DIR_VAR, concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models"));
    }
    PathBuf::from(std::env::var_os(MODELS_DIR_VAR).unwrap_or_default())
}

/// The SDK's conformance checks of `P` on ×4 super-resolution for each set of parameter
/// overrides; every configuration deterministic.
pub fn assert_conforms<P: Plugin>(configurations: &[Vec<(&str, ParamValue)>]) {
    point_at_models();
    for overrides in configurations {
        testing::assert_conforms::<P>(&[TaskKind::ImageSuperResolution], overrides, false);
    }
}

/// The error `P`'s `new_model` gives for these parameter overrides on `task`; panics when it
/// accepts them.
pub fn refusal<P: Plugin>(overrides: &[(&str, ParamValue)], task: &TaskSpec) -> PluginError {
    point_at_models();
    let params = testing::params_with::<P>(overrides);
    match testing::module::<P>().new_model()(&params, task).into_result() {
        Ok(_) => panic!("{overrides:?} was accepted"),
        Err(e) => e.into(),
    }
}

/// The refusals every SR network shares, each a named error before any model runs: a negative
/// `tile` or `tile_overlap`; through the weights parameter `weights_param`, a missing file,
/// another architecture's checkpoint (ESPCN's: all `tensors` names missing), a file that is not
/// safetensors; and a task that is not ×4 RGB super-resolution.
pub fn assert_common_refusals<P: Plugin>(weights_param: &str, tensors: usize) {
    let sr = testing::standard_task(TaskKind::ImageSuperResolution);
    for (name, value) in [("tile", ParamValue::Int(-1)), ("tile_overlap", ParamValue::Int(-2))] {
        let err = refusal::<P>(&[(name, value)], &sr);
        assert!(matches!(&err, PluginError::InvalidParameter { name: n, .. } if n.as_str() == name), "{err}");
    }
    let text = |path: &str| ParamValue::Text(path.into());
    let err = refusal::<P>(&[(weights_param, text("no-such.safetensors"))], &sr);
    assert!(err.to_string().contains("no-such.safetensors") && err.to_string().contains(MODELS_DIR_VAR), "{err}");
    let err = refusal::<P>(&[(weights_param, text("espcn_x4.safetensors"))], &sr);
    let missing = format!("{tensors} missing");
    assert!(err.to_string().contains(&missing) && err.to_string().contains("unexpected ('conv_1.bias'"), "{err}");
    let bad = std::env::temp_dir().join(format!("{}-corrupt-{}.safetensors", P::metadata().name, std::process::id()));
    std::fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").expect("a temporary file");
    let err = refusal::<P>(&[(weights_param, text(&bad.to_string_lossy()))], &sr);
    let _ = std::fs::remove_file(&bad);
    assert!(err.to_string().contains("not a readable safetensors file"), "{err}");
    for task in [
        testing::image_task(TaskKind::ImageSuperResolution, 3, 2, 0.0),
        testing::image_task(TaskKind::ImageSuperResolution, 1, 4, 0.0),
        testing::standard_task(TaskKind::ImageDenoising),
    ] {
        let err = refusal::<P>(&[], &task);
        assert!(matches!(err, PluginError::UnsupportedTask(_)), "{err}");
    }
}

/// Rows of the tiling test image.
const H: i64 = 88;
/// Columns of the tiling test image.
const W: i64 = 60;
/// The tile side: four tiles (44 × 44 and the rest) whose inner edges lie inside the image by
/// more than the overlap.
const TILE: i64 = 44;

/// The ×4 output of `input` `[1, 3, H, W]` by `P` with these tiling parameters and precision.
fn upscale<P: Plugin>(input: &OwnedTensor, tile: i64, overlap: i64, precision: &str) -> Vec<f64> {
    let params = testing::params_with::<P>(&[
        ("tile", ParamValue::Int(tile)),
        ("tile_overlap", ParamValue::Int(overlap)),
        ("precision", ParamValue::Text(precision.into())),
    ]);
    let task = testing::standard_task(TaskKind::ImageSuperResolution);
    let mut model = testing::module::<P>().new_model()(&params, &task).into_result().expect("the model constructs");
    testing::restore_checked(&mut model, input.view(), 1, 0, &[3, 4 * H, 4 * W]).expect("restore conforms")
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Tiled inference of a purely convolutional network reproduces whole-image inference when
/// `overlap` covers its receptive-field radius, on an 88 × 60 dead-leaves image in 44-px tiles:
/// in float64 within 1e-6 (the scheme is exact), while an overlap of 4 must show a difference
/// (so the check can fail); in float32, the default, within 1e-5 (libtorch's float32
/// convolutions round differently for different input sizes and thread counts: measured for
/// CARN-M 1.4e-6 tiled against whole on a 100 × 100 image, and 1.7e-6 between two whole-image
/// runs on 1 and 2 threads), at most about 4e-4 of a grey level.
pub fn assert_tiles_reproduce_the_whole_image<P: Plugin>(overlap: i64) {
    point_at_models();
    let pixels = crate::dead_leaves(H as usize, W as usize, 7);
    let n = (H * W) as usize;
    let chw = (0..3).flat_map(|c| pixels.iter().skip(c).step_by(3).take(n).map(|&v| f64::from(v) / 255.0)).collect();
    let input = OwnedTensor::from_f64_vec(chw, &[1, 3, H, W]).expect("a [1, 3, H, W] tensor");
    let whole = upscale::<P>(&input, 0, 0, "float64");
    let tiled = max_diff(&whole, &upscale::<P>(&input, TILE, overlap, "float64"));
    assert!(tiled < 1e-6, "float64, tiles of {TILE} with overlap {overlap}: max |Δ| {tiled:e}");
    let short = max_diff(&whole, &upscale::<P>(&input, TILE, 4, "float64"));
    assert!(short > 1e-4, "overlap 4 is far below the radius, yet max |Δ| is only {short:e}");
    let whole32 = upscale::<P>(&input, 0, 0, "float32");
    let tiled32 = max_diff(&whole32, &upscale::<P>(&input, TILE, overlap, "float32"));
    assert!(tiled32 < 1e-5, "float32, tiles of {TILE} with overlap {overlap}: max |Δ| {tiled32:e}");
}
