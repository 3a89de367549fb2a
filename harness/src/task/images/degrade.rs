//! The image degradations: inpainting masks, additive Gaussian noise, and the conversions the
//! tasks need (grey, 8-bit to float). Every random draw is seeded, so a task's measurements are
//! the same on every run and every device.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use super::Image8;

/// The hidden region of an inpainting task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MaskConfig {
    /// One box in the centre, `fraction` of the height and of the width.
    CentreBox {
        /// Side of the box relative to the image's, in (0, 1).
        fraction: f64,
    },
    /// `count` boxes at random places, each side up to `max_fraction` of the image's.
    RandomBoxes {
        /// How many boxes.
        count: usize,
        /// Largest side, relative to the image's.
        max_fraction: f64,
    },
    /// `count` free-form strokes: random walks of round brushes, as in free-form inpainting
    /// benchmarks.
    Strokes {
        /// How many strokes.
        count: usize,
        /// Brush diameter in pixels.
        width: f64,
        /// Steps per stroke.
        #[serde(default = "default_steps")]
        steps: usize,
    },
}

fn default_steps() -> usize {
    8
}

impl MaskConfig {
    /// Checks the settings, naming the bad one.
    pub fn validate(&self) -> Result<(), String> {
        let fraction_ok = |f: f64| f > 0.0 && f < 1.0;
        match *self {
            MaskConfig::CentreBox { fraction } if !fraction_ok(fraction) => {
                Err(format!("mask fraction must be in (0, 1), got {fraction}"))
            }
            MaskConfig::RandomBoxes { count, max_fraction } if count == 0 || !fraction_ok(max_fraction) => {
                Err(format!("random boxes need count ≥ 1 and max_fraction in (0, 1), got {count}, {max_fraction}"))
            }
            MaskConfig::Strokes { count, width, steps } if count == 0 || width < 1.0 || steps == 0 => {
                Err(format!("strokes need count ≥ 1, width ≥ 1 and steps ≥ 1, got {count}, {width}, {steps}"))
            }
            _ => Ok(()),
        }
    }

    /// The mask of a `height × width` image, row-major, `true` where the pixel is hidden.
    pub fn hidden(&self, height: usize, width: usize, seed: u64) -> Vec<bool> {
        let mut hidden = vec![false; height * width];
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut fill_box = |top: usize, left: usize, h: usize, w: usize| {
            for r in top..(top + h).min(height) {
                hidden[r * width + left..r * width + (left + w).min(width)].fill(true);
            }
        };
        match *self {
            MaskConfig::CentreBox { fraction } => {
                let (h, w) = (side(height, fraction), side(width, fraction));
                fill_box((height - h) / 2, (width - w) / 2, h, w);
            }
            MaskConfig::RandomBoxes { count, max_fraction } => {
                for _ in 0..count {
                    let h = rng.random_range(1..=side(height, max_fraction));
                    let w = rng.random_range(1..=side(width, max_fraction));
                    let top = rng.random_range(0..=height - h);
                    let left = rng.random_range(0..=width - w);
                    fill_box(top, left, h, w);
                }
            }
            MaskConfig::Strokes { count, width: brush, steps } => {
                let radius = brush / 2.0;
                let mut dab = |cy: f64, cx: f64| {
                    let (r0, r1) = (
                        (cy - radius).floor().max(0.0) as usize,
                        (cy + radius).ceil().min(height as f64 - 1.0) as usize,
                    );
                    let (c0, c1) = (
                        (cx - radius).floor().max(0.0) as usize,
                        (cx + radius).ceil().min(width as f64 - 1.0) as usize,
                    );
                    for r in r0..=r1 {
                        for c in c0..=c1 {
                            if (r as f64 - cy).powi(2) + (c as f64 - cx).powi(2) <= radius * radius {
                                hidden[r * width + c] = true;
                            }
                        }
                    }
                };
                let reach = 0.15 * height.min(width) as f64;
                for _ in 0..count {
                    let (mut y, mut x) = (rng.random_range(0.0..height as f64), rng.random_range(0.0..width as f64));
                    for _ in 0..steps {
                        let angle = rng.random_range(0.0..std::f64::consts::TAU);
                        let length = rng.random_range(0.3 * reach..reach);
                        let (ny, nx) = (
                            (y + length * angle.sin()).clamp(0.0, height as f64 - 1.0),
                            (x + length * angle.cos()).clamp(0.0, width as f64 - 1.0),
                        );
                        let dabs = (length / radius.max(0.5)).ceil() as usize + 1;
                        for i in 0..=dabs {
                            let t = i as f64 / dabs as f64;
                            dab(y + t * (ny - y), x + t * (nx - x));
                        }
                        (y, x) = (ny, nx);
                    }
                }
            }
        }
        hidden
    }
}

fn side(length: usize, fraction: f64) -> usize {
    ((length as f64 * fraction).round() as usize).clamp(1, length)
}

/// The grey version of an RGB image: MATLAB's `rgb2gray` (0.298936·R + 0.587043·G + 0.114021·B,
/// rounded). Grey images are returned unchanged.
pub fn to_grey(img: &Image8) -> Image8 {
    if img.channels == 1 {
        return img.clone();
    }
    let data = img
        .data
        .chunks_exact(3)
        .map(|p| (0.298936 * f64::from(p[0]) + 0.587043 * f64::from(p[1]) + 0.114021 * f64::from(p[2])).round() as u8)
        .collect();
    Image8 { height: img.height, width: img.width, channels: 1, data }
}

/// An RGB version of a grey image (the channel repeated); RGB images are returned unchanged.
pub fn to_rgb(img: &Image8) -> Image8 {
    if img.channels == 3 {
        return img.clone();
    }
    let data = img.data.iter().flat_map(|&v| [v, v, v]).collect();
    Image8 { height: img.height, width: img.width, channels: 3, data }
}

/// The top-left `height × width` crop.
pub fn crop(img: &Image8, height: usize, width: usize) -> Image8 {
    let c = img.channels;
    let mut data = Vec::with_capacity(height * width * c);
    for r in 0..height {
        data.extend_from_slice(&img.data[r * img.width * c..(r * img.width + width) * c]);
    }
    Image8 { height, width, channels: c, data }
}

/// A `[C, H, W]` float32 tensor of the 8-bit values divided by 255.
pub fn to_tensor(img: &Image8) -> tch::Tensor {
    let t = tch::Tensor::from_slice(&img.data).view([img.height as i64, img.width as i64, img.channels as i64]);
    t.permute([2, 0, 1]).to_kind(tch::Kind::Float) / 255.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fraction_hidden(mask: &[bool]) -> f64 {
        mask.iter().filter(|&&h| h).count() as f64 / mask.len() as f64
    }

    #[test]
    fn the_centre_box_is_centred_and_of_the_asked_size() {
        let mask = MaskConfig::CentreBox { fraction: 0.5 }.hidden(8, 12, 0);
        assert_eq!(fraction_hidden(&mask), 0.25);
        assert!(mask[2 * 12 + 3] && mask[5 * 12 + 8] && !mask[12 + 3] && !mask[2 * 12 + 9]);
    }

    #[test]
    fn random_masks_follow_their_seed() {
        for config in [
            MaskConfig::RandomBoxes { count: 4, max_fraction: 0.3 },
            MaskConfig::Strokes { count: 3, width: 9.0, steps: 6 },
        ] {
            let a = config.hidden(96, 128, 7);
            assert_eq!(a, config.hidden(96, 128, 7));
            assert_ne!(a, config.hidden(96, 128, 8));
            let f = fraction_hidden(&a);
            assert!(f > 0.01 && f < 0.7, "{config:?} hides {f}");
        }
    }

    #[test]
    fn bad_settings_are_refused_with_the_value() {
        assert!(MaskConfig::CentreBox { fraction: 1.5 }.validate().unwrap_err().contains("1.5"));
        assert!(MaskConfig::Strokes { count: 0, width: 5.0, steps: 3 }.validate().is_err());
    }

    #[test]
    fn grey_follows_matlab_rgb2gray() {
        let img = Image8 { height: 1, width: 2, channels: 3, data: vec![255, 0, 0, 10, 200, 30] };
        // 0.298936·255 = 76.23 → 76; 0.298936·10 + 0.587043·200 + 0.114021·30 = 123.81 → 124.
        assert_eq!(to_grey(&img).data, [76, 124]);
    }
}
