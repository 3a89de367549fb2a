//! Sample grids: equal-size image panels side by side, each with its title (one line, or several
//! separated by `\n`), as one PNG.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{encode_png, register_fonts};

/// Space between panels and around them, pixels.
const GAP: u32 = 6;
/// Height of the title band above the panels, for one-line titles.
const TITLE_BAND: u32 = 26;
/// Height each further line of the longest title adds to the band.
const TITLE_LINE: u32 = 14;

/// One panel: 8-bit RGB pixels, row-major.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Shown above the panel; `\n` starts another line.
    pub title: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width·height·3` bytes.
    pub rgb: Vec<u8>,
}

/// The panels in a row on white, titled, as PNG bytes. Panels may differ in size (each is
/// placed at the top of its slot).
pub fn render(panels: &[Panel]) -> Result<Vec<u8>, String> {
    for p in panels {
        if p.rgb.len() != (p.width * p.height * 3) as usize {
            return Err(format!("panel '{}' has {} bytes for {}×{} pixels", p.title, p.rgb.len(), p.width, p.height));
        }
    }
    let lines = panels.iter().map(|p| p.title.lines().count() as u32).max().unwrap_or(1).max(1);
    let band = TITLE_BAND + (lines - 1) * TITLE_LINE;
    let width = GAP + panels.iter().map(|p| p.width + GAP).sum::<u32>();
    let height = band + panels.iter().map(|p| p.height).max().unwrap_or(0) + GAP;
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    let mut left = GAP;
    for p in panels {
        for row in 0..p.height {
            let src = (row * p.width * 3) as usize;
            let dst = (((band + row) * width + left) * 3) as usize;
            pixels[dst..dst + (p.width * 3) as usize].copy_from_slice(&p.rgb[src..src + (p.width * 3) as usize]);
        }
        left += p.width + GAP;
    }
    register_fonts();
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        let mut left = GAP as i32;
        for p in panels {
            let style = ("sans-serif", 12).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
            for (i, line) in p.title.lines().enumerate() {
                let y = (TITLE_BAND / 2 + i as u32 * TITLE_LINE) as i32;
                root.draw_text(line, &style, (left + p.width as i32 / 2, y)).map_err(|e| e.to_string())?;
            }
            left += (p.width + GAP) as i32;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    encode_png(pixels, (width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_land_where_they_belong() {
        let red = Panel { title: "a".into(), width: 2, height: 3, rgb: [255, 0, 0].repeat(6) };
        let blue = Panel { title: "b".into(), width: 4, height: 1, rgb: [0, 0, 255].repeat(4) };
        let png = render(&[red, blue]).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (GAP * 3 + 6, TITLE_BAND + 3 + GAP));
        assert_eq!(image.get_pixel(GAP + 1, TITLE_BAND + 2).0, [255, 0, 0]);
        assert_eq!(image.get_pixel(2 * GAP + 2 + 3, TITLE_BAND).0, [0, 0, 255]);
        assert_eq!(image.get_pixel(2 * GAP + 2 + 3, TITLE_BAND + 1).0, [255, 255, 255]);
    }

    #[test]
    fn a_title_of_two_lines_makes_the_band_one_line_taller() {
        let two = Panel { title: "a\nb".into(), width: 2, height: 2, rgb: [255, 0, 0].repeat(4) };
        let one = Panel { title: "c".into(), width: 2, height: 2, rgb: [0, 0, 255].repeat(4) };
        let image = image::load_from_memory(&render(&[two, one]).unwrap()).unwrap().to_rgb8();
        assert_eq!(image.height(), TITLE_BAND + TITLE_LINE + 2 + GAP);
        assert_eq!(image.get_pixel(2 * GAP + 2, TITLE_BAND + TITLE_LINE).0, [0, 0, 255]);
    }

    #[test]
    fn a_wrong_buffer_is_refused() {
        let bad = Panel { title: "x".into(), width: 2, height: 2, rgb: vec![0; 5] };
        assert!(render(&[bad]).unwrap_err().contains("'x'"));
    }
}
