//! 8-bit raster images, the form every image file and every image metric starts from: decoding
//! PNG files into [`Image8`] ([`read_image`]) and MATLAB's bicubic `imresize` with antialiasing
//! ([`imresize_bicubic`]), which both the super-resolution degradation (`task::images`) and
//! NIQE's halving (`estimate::quality`) follow. A foundation: it knows no task or metric.

mod imresize;
mod png;

pub use imresize::{imresize_bicubic, Image8};
pub use png::{read_image, ImageError};
