//! Tiled inference reproduces whole-image inference for this purely convolutional network when
//! the overlap covers its receptive field (SRResNet's receptive-field radius is 40 input pixels):
//! [`image_kit::sr_checks::assert_tiles_reproduce_the_whole_image`] states the image, the tiles
//! and the tolerances (float64 within 1e-6 and a short overlap must differ; float32 within 1e-5).

use image_kit::sr_checks;
use upbench_plugin_srresnet_x4::SrResNet;

#[test]
fn tiles_with_the_default_overlap_reproduce_the_whole_image() {
    sr_checks::assert_tiles_reproduce_the_whole_image::<SrResNet>(40);
}
