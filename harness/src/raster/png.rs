//! Reading 8-bit PNG files into [`Image8`], with errors that name the file.

use std::path::{Path, PathBuf};

use super::Image8;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Missing or unreadable file.
    #[error("{path}: cannot read image: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// Not a decodable image (corrupt or truncated file).
    #[error("{path}: not a valid image ({reason}); the file may be corrupt: re-fetch it")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// An image type the harness does not handle.
    #[error("{path}: unsupported pixel format {format}; expected 8-bit grey or RGB")]
    Format {
        /// The file.
        path: PathBuf,
        /// What it was.
        format: String,
    },
}

/// Reads an 8-bit grey or RGB image (alpha, if any, is dropped).
pub fn read_image(path: &Path) -> Result<Image8, ImageError> {
    let reader =
        image::ImageReader::open(path).map_err(|e| ImageError::Read { path: path.into(), reason: e.to_string() })?;
    let decoded = reader
        .with_guessed_format()
        .map_err(|e| ImageError::Read { path: path.into(), reason: e.to_string() })?
        .decode()
        .map_err(|e| ImageError::Decode { path: path.into(), reason: e.to_string() })?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    match decoded {
        image::DynamicImage::ImageLuma8(buf) => Ok(Image8 { height, width, channels: 1, data: buf.into_raw() }),
        image::DynamicImage::ImageRgb8(buf) => Ok(Image8 { height, width, channels: 3, data: buf.into_raw() }),
        image::DynamicImage::ImageRgba8(_) => {
            Ok(Image8 { height, width, channels: 3, data: decoded.to_rgb8().into_raw() })
        }
        other => Err(ImageError::Format { path: path.into(), format: format!("{:?}", other.color()) }),
    }
}
