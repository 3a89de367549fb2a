//! Pixels into files, for every layer that writes a picture: PNG encoding, the embedded fonts
//! (DejaVu Sans, so PNGs need no system fonts), safe file stems, and the sample grids
//! ([`grid`]) that a cell draws while its samples are in memory. The report's plots
//! (`report::plots`) use the same fonts and encoder.

pub mod grid;

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// A task name as a file name: letters, digits, `-` and `.` kept, the rest `_`.
pub fn file_stem(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

/// RGB pixels as a PNG file.
pub fn encode_png(pixels: Vec<u8>, (width, height): (u32, u32)) -> Result<Vec<u8>, String> {
    let image = image::RgbImage::from_raw(width, height, pixels).ok_or("pixel buffer of the wrong size")?;
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(text)?;
    Ok(png)
}

/// Makes DejaVu Sans the `sans-serif` family, once per process.
pub fn register_fonts() {
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        // The fonts are valid TrueType files shipped by the `dejavu` crate; a failure here would
        // only make text invisible, never a wrong number.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// An error's text.
fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}
