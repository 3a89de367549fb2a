//! Tiled inference for super-resolution networks: the low-resolution input cut into tiles, each
//! run with `overlap` pixels of context on every side (fewer at the image's edges), and only the
//! tile's own part of each output kept and stitched (the scheme of Real-ESRGAN's `tile_process`).
//!
//! Why: a network's activations grow with the image (RRDBNet's dense blocks hold 192 channels at
//! the input's size and 64 at 4× its size), so a large image can exhaust memory; tiles bound it.
//! What it costs: a tile's output is the whole image's exactly when the network is purely
//! convolutional (no global pooling, no attention over the image) and `overlap` is at least its
//! receptive-field radius in input pixels, because then no output pixel kept sees a tile border
//! that is not an image border. Otherwise (RFDN's attention pools over the whole input; RRDBNet's
//! radius, 345 stacked 3×3 convolutions, exceeds any overlap worth paying for) tiles change the
//! output a little, and the plugin documents by how much.

use upbench_sdk::{ParamSpec, ParamValue, Params, PluginError};
use upbench_tch::tch::Tensor;

/// The `tile` parameter's name: the tile side in input (low-resolution) pixels, 0 = whole image.
pub const TILE_PARAM: &str = "tile";
/// The `tile_overlap` parameter's name: context added on every side of a tile, input pixels.
pub const OVERLAP_PARAM: &str = "tile_overlap";

/// How to cut an input: square tiles of `tile` input pixels (0 = the whole image at once), each
/// run with `overlap` input pixels of context on every side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Tile side in input pixels; 0 runs the whole image at once.
    pub tile: i64,
    /// Context on every side of a tile, in input pixels.
    pub overlap: i64,
}

impl Tiling {
    /// The whole image at once.
    pub const WHOLE: Tiling = Tiling { tile: 0, overlap: 0 };

    /// The two parameter declarations, with the plugin's defaults and `why` (what the overlap
    /// must cover for this model) appended to the overlap's description.
    pub fn param_specs(default: Tiling, why: &str) -> [ParamSpec; 2] {
        [
            ParamSpec::new(
                TILE_PARAM,
                ParamValue::Int(default.tile),
                "tile side in low-resolution pixels for bounded memory on large images; 0 = whole image",
            ),
            ParamSpec::new(
                OVERLAP_PARAM,
                ParamValue::Int(default.overlap),
                &format!("context around each tile, low-resolution pixels (used when tile > 0); {why}"),
            ),
        ]
    }

    /// Reads and checks `tile` (0, or positive) and `tile_overlap` (non-negative).
    pub fn from_params(params: &Params) -> Result<Tiling, PluginError> {
        let (tile, overlap) = (params.int(TILE_PARAM)?, params.int(OVERLAP_PARAM)?);
        let invalid =
            |name: &str, reason: String| PluginError::InvalidParameter { name: name.into(), reason: reason.into() };
        if tile < 0 {
            return Err(invalid(TILE_PARAM, format!("{tile} is negative (0 = whole image, else the tile side)")));
        }
        if overlap < 0 {
            return Err(invalid(OVERLAP_PARAM, format!("{overlap} is negative")));
        }
        Ok(Tiling { tile, overlap })
    }

    /// Runs `net` (input `[n, c, h, w]` → output `[n, c', s·h, s·w]`) on `x` tile by tile and
    /// stitches the outputs; the whole image in one call when tiling is off or one tile covers it.
    pub fn run(
        &self,
        x: &Tensor,
        scale: i64,
        mut net: impl FnMut(&Tensor) -> Result<Tensor, PluginError>,
    ) -> Result<Tensor, PluginError> {
        let size = x.size();
        let (h, w) = (size[2], size[3]);
        if self.tile == 0 || (h <= self.tile && w <= self.tile) {
            return net(x);
        }
        let mut out: Option<Tensor> = None;
        for y0 in (0..h).step_by(self.tile as usize) {
            for x0 in (0..w).step_by(self.tile as usize) {
                let (y1, x1) = ((y0 + self.tile).min(h), (x0 + self.tile).min(w));
                let (in_y0, in_x0) = ((y0 - self.overlap).max(0), (x0 - self.overlap).max(0));
                let (in_y1, in_x1) = ((y1 + self.overlap).min(h), (x1 + self.overlap).min(w));
                let input = x.narrow(2, in_y0, in_y1 - in_y0).narrow(3, in_x0, in_x1 - in_x0);
                let result = net(&input)?;
                let got = result.size();
                let want = [(in_y1 - in_y0) * scale, (in_x1 - in_x0) * scale];
                if got.len() != 4 || got[2..] != want {
                    return Err(PluginError::Failed(
                        format!("a tile of {:?} gave an output of {got:?}, not ×{scale} its size", input.size()).into(),
                    ));
                }
                let kept = result.narrow(2, (y0 - in_y0) * scale, (y1 - y0) * scale).narrow(
                    3,
                    (x0 - in_x0) * scale,
                    (x1 - x0) * scale,
                );
                let out = out.get_or_insert_with(|| {
                    Tensor::zeros([size[0], got[1], h * scale, w * scale], (result.kind(), result.device()))
                });
                out.narrow(2, y0 * scale, (y1 - y0) * scale)
                    .narrow(3, x0 * scale, (x1 - x0) * scale)
                    .f_copy_(&kept)
                    .map_err(|e| PluginError::Failed(format!("cannot stitch a tile: {e}").into()))?;
            }
        }
        out.ok_or_else(|| PluginError::InvalidInput(format!("an empty input {size:?}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use upbench_tch::tch::{Device, Kind};

    /// A purely convolutional ×2 "network" of receptive-field radius 2 (two 3×3 convolutions with
    /// zero padding, then nearest-neighbour ×2): tiles with overlap ≥ 2 reproduce it exactly, a
    /// smaller overlap does not.
    fn net(x: &Tensor) -> Result<Tensor, PluginError> {
        let k = Tensor::arange(9, (Kind::Double, Device::Cpu)).view([1, 1, 3, 3]) / 36.0;
        let y = x.conv2d(&k, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1).sin();
        let y = y.conv2d(&k, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
        Ok(y.upsample_nearest2d([2 * x.size()[2], 2 * x.size()[3]], Some(2.0), Some(2.0)))
    }

    #[test]
    fn tiles_with_enough_overlap_reproduce_a_convolutional_network() {
        let x = Tensor::rand([2, 1, 23, 17], (Kind::Double, Device::Cpu));
        let whole = net(&x).unwrap();
        for tile in [1, 5, 8, 16] {
            let tiled = Tiling { tile, overlap: 2 }.run(&x, 2, net).unwrap();
            assert_eq!(tiled.size(), whole.size());
            let diff = (&tiled - &whole).abs().max().double_value(&[]);
            assert!(diff < 1e-12, "tile {tile}: max |Δ| {diff}");
        }
        let short = Tiling { tile: 5, overlap: 1 }.run(&x, 2, net).unwrap();
        assert!((&short - &whole).abs().max().double_value(&[]) > 1e-4, "overlap 1 < radius 2 must show");
    }

    #[test]
    fn a_wrong_output_size_is_an_error_and_bad_parameters_are_named() {
        let x = Tensor::rand([1, 1, 10, 10], (Kind::Double, Device::Cpu));
        let err = Tiling { tile: 4, overlap: 1 }.run(&x, 3, net).unwrap_err();
        assert!(err.to_string().contains("not ×3"), "{err}");
        let mut params = Params::default();
        params.insert(TILE_PARAM, ParamValue::Int(-1));
        params.insert(OVERLAP_PARAM, ParamValue::Int(0));
        let err = Tiling::from_params(&params).unwrap_err();
        assert!(matches!(err, PluginError::InvalidParameter { .. }) && err.to_string().contains("'tile'"), "{err}");
    }
}
