//! The panels of one image's sample grid, from the model's samples: ground truth, measurement,
//! one sample, the sample mean, the per-pixel standard deviation over the samples (the
//! hallucination map) and the error of the mean; a central crop, identical for every model. A
//! stochastic model's grid adds a coverage map: where the truth falls outside the samples' central
//! 90 % interval (issue [16]), so a reader sees where a model hallucinates with confidence.

use plotters::prelude::{ColorMap, ViridisRGB};
use tch::{Kind, Tensor};

use crate::draw::grid::Panel;
use crate::estimate::calibration::{nominal, outside_interval};

/// Largest crop side, pixels.
const CROP: i64 = 256;
/// Top of the colour scale of the two maps, in intensity units ([0, 1] images): fixed, so
/// maps of different models and tasks compare.
pub const MAP_SCALE: f64 = 0.25;
/// The central interval of the coverage map (the calibration's widest reported level).
pub const COVERAGE_LEVEL: f64 = 0.9;
/// The coverage map's colours: truth inside the interval, outside it (every channel), and a
/// pixel outside the evaluation region (the border, an inpainting's observed pixels).
pub const INSIDE: [u8; 3] = [255, 255, 255];
/// See [`INSIDE`].
pub const OUTSIDE: [u8; 3] = [215, 25, 28];
/// See [`INSIDE`].
pub const NOT_EVALUATED: [u8; 3] = [160, 160, 160];

/// What one grid shows.
pub struct GridInput<'a> {
    /// Ground truth `[C, H, W]`.
    pub truth: &'a Tensor,
    /// The measurement `[C(+1), h, w]` as the plugin got it.
    pub measurement: &'a Tensor,
    /// Hidden pixels `[1, H, W]` (inpainting).
    pub hidden: Option<&'a Tensor>,
    /// The model's samples `[K, C, H, W]`.
    pub samples: &'a Tensor,
    /// The SR scale (1 otherwise).
    pub scale: i64,
    /// Pixels left out at each side by the scores and the calibration (the SR scale, 0 otherwise).
    pub border: i64,
}

/// The six panels, and a seventh, the coverage map, for a stochastic model (K ≥ 2).
pub fn panels(input: &GridInput<'_>) -> Vec<Panel> {
    let truth = input.truth.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let samples = input.samples.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let channels = truth.size()[0];
    let (height, width) = (truth.size()[1], truth.size()[2]);
    let s = input.scale.max(1);
    let side = CROP.min(height).min(width);
    let top = (height - side) / 2 / s * s;
    let left = (width - side) / 2 / s * s;
    let crop = |t: &Tensor| t.narrow(-2, top, side).narrow(-1, left, side);

    let measurement = match input.hidden {
        Some(hidden) => {
            let hidden = hidden.to_device(tch::Device::Cpu).to_kind(Kind::Double);
            &truth * (1.0 - &hidden) + hidden * 0.5
        }
        None => {
            let m = input.measurement.to_device(tch::Device::Cpu).to_kind(Kind::Double).narrow(0, 0, channels);
            m.repeat_interleave_self_int(s, 1, None).repeat_interleave_self_int(s, 2, None)
        }
    };
    let k = samples.size()[0];
    let mean = samples.mean_dim(0, false, Kind::Double);
    let spread = if k > 1 {
        samples.std_dim(0, true, false).mean_dim(0, false, Kind::Double)
    } else {
        Tensor::zeros([height, width], (Kind::Double, tch::Device::Cpu))
    };
    let error = (&mean - &truth).abs().mean_dim(0, false, Kind::Double);
    let (sample_title, mean_title, spread_title) = if k > 1 {
        ("one sample".to_string(), format!("mean of {k}"), format!("std over samples, 0–{MAP_SCALE}"))
    } else {
        ("output".to_string(), "mean (deterministic)".to_string(), "std: 0 (deterministic)".to_string())
    };
    let mut panels = vec![
        image_panel("ground truth", &crop(&truth)),
        image_panel("measurement", &crop(&measurement)),
        image_panel(&sample_title, &crop(&samples.get(0))),
        image_panel(&mean_title, &crop(&mean)),
        map_panel(&spread_title, &crop(&spread)),
        map_panel(&format!("|mean − truth|, 0–{MAP_SCALE}"), &crop(&error)),
    ];
    if k > 1 {
        let region = evaluation_region(input, height, width);
        panels.push(coverage_panel(&samples, &truth, &region, crop));
    }
    panels
}

/// `[H, W]`: 1 on the pixels the scores and the calibration read (`border` or more from the
/// edges; for inpainting, hidden), 0 elsewhere.
fn evaluation_region(input: &GridInput<'_>, height: i64, width: i64) -> Tensor {
    let b = input.border.clamp(0, height.min(width) / 2);
    let region = Tensor::zeros([height, width], (Kind::Double, tch::Device::Cpu));
    let _ = region.narrow(0, b, height - 2 * b).narrow(1, b, width - 2 * b).fill_(1.0);
    match input.hidden {
        Some(hidden) => region * hidden.to_device(tch::Device::Cpu).to_kind(Kind::Double).ne(0).get(0),
        None => region,
    }
}

/// The coverage map: per pixel the share of its channels whose truth lies outside the samples'
/// central [`COVERAGE_LEVEL`] interval, from [`INSIDE`] to [`OUTSIDE`]; titled with the share of
/// the whole region outside and the share a calibrated sampler leaves outside with this K.
fn coverage_panel(samples: &Tensor, truth: &Tensor, region: &Tensor, crop: impl Fn(&Tensor) -> Tensor) -> Panel {
    let k = samples.size()[0];
    let outside = match outside_interval(samples, truth, COVERAGE_LEVEL) {
        Ok(outside) => outside,
        Err(e) => {
            let (height, width) = (region.size()[0], region.size()[1]);
            let blank = NOT_EVALUATED.repeat((height * width) as usize);
            return Panel {
                title: format!("no coverage map: {e}"),
                width: width as u32,
                height: height as u32,
                rgb: blank,
            };
        }
    };
    let pixels = region.sum(Kind::Double).double_value(&[]);
    let share = (&outside * region).sum(Kind::Double).double_value(&[]) / pixels.max(1.0);
    let expected = 1.0 - nominal(k as usize, COVERAGE_LEVEL);
    let percent = |x: f64| format!("{:.1} %", 100.0 * x);
    let title = format!(
        "truth outside the {:.0} % interval: {}\n(nominal {} for K = {k})",
        100.0 * COVERAGE_LEVEL,
        percent(share),
        percent(expected)
    );
    let (outside, region) = (crop(&outside), crop(region));
    let (height, width) = (outside.size()[0], outside.size()[1]);
    let values = Vec::<f64>::try_from(outside.contiguous().flatten(0, -1)).unwrap_or_default();
    let inside = Vec::<f64>::try_from(region.contiguous().flatten(0, -1)).unwrap_or_default();
    let rgb = values
        .iter()
        .zip(&inside)
        .flat_map(|(&v, &counted)| {
            if counted == 0.0 {
                return NOT_EVALUATED;
            }
            let blend =
                |c: usize| f64::from(INSIDE[c]) + v.clamp(0.0, 1.0) * (f64::from(OUTSIDE[c]) - f64::from(INSIDE[c]));
            [0, 1, 2].map(|c| blend(c).round() as u8)
        })
        .collect();
    Panel { title, width: width as u32, height: height as u32, rgb }
}

/// `[C, H, W]` in [0, 1] (clamped) as an 8-bit RGB panel; one channel is shown as grey.
fn image_panel(title: &str, image: &Tensor) -> Panel {
    let image = if image.size()[0] == 1 { image.repeat([3, 1, 1]) } else { image.shallow_clone() };
    let (height, width) = (image.size()[1], image.size()[2]);
    let bytes = (image.clamp(0.0, 1.0) * 255.0).round().to_kind(Kind::Uint8).permute([1, 2, 0]).contiguous();
    let rgb = Vec::<u8>::try_from(bytes.flatten(0, -1)).unwrap_or_default();
    Panel { title: title.into(), width: width as u32, height: height as u32, rgb }
}

/// `[H, W]` on the viridis scale from 0 to [`MAP_SCALE`] (clipped).
fn map_panel(title: &str, map: &Tensor) -> Panel {
    let (height, width) = (map.size()[0], map.size()[1]);
    let values = Vec::<f64>::try_from(map.contiguous().flatten(0, -1)).unwrap_or_default();
    let rgb = values
        .iter()
        .flat_map(|&v| {
            let c = ViridisRGB.get_color_normalized(v.clamp(0.0, MAP_SCALE) as f32, 0.0, MAP_SCALE as f32);
            [c.0, c.1, c.2]
        })
        .collect();
    Panel { title: title.into(), width: width as u32, height: height as u32, rgb }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maps_measure_spread_and_error() {
        let truth = Tensor::full([1, 4, 4], 0.5, (Kind::Double, tch::Device::Cpu));
        // two samples, 0.4 and 0.8: mean 0.6 (error 0.1), std 0.2828 (unbiased)
        let samples = Tensor::stack(&[&truth - 0.1, &truth + 0.3], 0);
        let measurement = truth.narrow(1, 0, 2).narrow(2, 0, 2);
        let input = GridInput {
            truth: &truth,
            measurement: &measurement,
            hidden: None,
            samples: &samples,
            scale: 2,
            border: 0,
        };
        let p = panels(&input);
        assert_eq!(p.len(), 7);
        assert!(p.iter().all(|p| (p.width, p.height) == (4, 4) && p.rgb.len() == 48));
        assert_eq!(p[0].rgb[..3], [128, 128, 128]);
        assert_eq!(p[3].rgb[..3], [153, 153, 153]);
        let viridis = |v: f64| {
            let c = ViridisRGB.get_color_normalized(v as f32, 0.0, MAP_SCALE as f32);
            vec![c.0, c.1, c.2]
        };
        assert_eq!(p[4].rgb[..3].to_vec(), viridis(MAP_SCALE)); // 0.28 is clipped
        assert_eq!(p[5].rgb[..3].to_vec(), viridis(0.1));
    }

    #[test]
    fn inpainting_holes_show_grey_and_a_deterministic_model_has_no_spread() {
        let truth = Tensor::ones([3, 2, 2], (Kind::Double, tch::Device::Cpu));
        let hidden = Tensor::zeros([1, 2, 2], (Kind::Double, tch::Device::Cpu));
        let _ = hidden.get(0).get(0).get(1).fill_(1.0);
        let measurement = Tensor::cat(&[&truth, &(1.0 - &hidden)], 0);
        let samples = truth.unsqueeze(0);
        let input = GridInput {
            truth: &truth,
            measurement: &measurement,
            hidden: Some(&hidden),
            samples: &samples,
            scale: 1,
            border: 0,
        };
        let p = panels(&input);
        assert_eq!(p.len(), 6, "a deterministic model has no coverage map");
        assert_eq!(p[1].rgb[..6], [255, 255, 255, 128, 128, 128]);
        assert_eq!(p[4].title, "std: 0 (deterministic)");
        let zero = ViridisRGB.get_color_normalized(0.0, 0.0, MAP_SCALE as f32);
        assert_eq!(p[4].rgb[..3], [zero.0, zero.1, zero.2]);
    }

    #[test]
    fn the_coverage_map_shows_the_truth_outside_the_interval_in_the_region_only() {
        let cpu = (Kind::Double, tch::Device::Cpu);
        // K = 2 samples, 0.4 and 0.6, of a 1-channel 4×4 image: the 90 % interval is [min, max]
        // (nominal coverage 1/3); the truth is 0.5 (inside) but 0.9 in its right half (outside).
        let samples = Tensor::stack(&[Tensor::full([1, 4, 4], 0.4, cpu), Tensor::full([1, 4, 4], 0.6, cpu)], 0);
        let truth = Tensor::full([1, 4, 4], 0.5, cpu);
        let _ = truth.narrow(2, 2, 2).fill_(0.9);
        // inpainting with border 1: only the hidden pixels of the central 2×2 count; the hole is
        // its top row and the pixel below its left end
        let hidden = Tensor::zeros([1, 4, 4], cpu);
        let _ = hidden.narrow(1, 1, 1).fill_(1.0);
        let _ = hidden.get(0).get(2).get(1).fill_(1.0);
        let measurement = Tensor::cat(&[&truth, &(1.0 - &hidden)], 0);
        let input = GridInput {
            truth: &truth,
            measurement: &measurement,
            hidden: Some(&hidden),
            samples: &samples,
            scale: 1,
            border: 1,
        };
        let p = panels(&input);
        assert_eq!(p.len(), 7);
        let map = &p[6];
        // 1 of the region's 3 pixels is outside
        assert_eq!(map.title, "truth outside the 90 % interval: 33.3 %\n(nominal 66.7 % for K = 2)");
        let pixel = |row: usize, col: usize| map.rgb[(row * 4 + col) * 3..(row * 4 + col) * 3 + 3].to_vec();
        assert_eq!(pixel(1, 1), INSIDE);
        assert_eq!(pixel(1, 2), OUTSIDE);
        assert_eq!(pixel(2, 1), INSIDE);
        // observed, or on the border
        for (row, col) in [(2, 2), (0, 0), (1, 0), (1, 3), (3, 2)] {
            assert_eq!(pixel(row, col), NOT_EVALUATED, "({row}, {col})");
        }
    }
}
