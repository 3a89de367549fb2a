//! FFDNet as the plugin runs it against an independent PyTorch implementation of the README's
//! architecture (`tests/reference/ffdnet_reference.py`, outputs committed beside it): an odd-sized
//! colour pattern at σ = 30/255, and at σ = 200/255 where the map must be clamped to 75/255.

use upbench_plugin_pnp_sampler::denoisers::Ffdnet;
use upbench_plugin_pnp_sampler::sampler::Denoiser;
use upbench_tch::tch::{self, Kind, Tensor};

const WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models/ffdnet_color.safetensors");
const REFERENCE: &str = include_str!("reference/ffdnet_reference.json");

/// The script's closed-form input pattern.
fn pattern(h: i64, w: i64) -> Tensor {
    let mut v = Vec::with_capacity((3 * h * w) as usize);
    for c in 0..3 {
        for i in 0..h {
            for j in 0..w {
                let (c, i, j) = (c as f64, i as f64, j as f64);
                v.push(0.5 + 0.3 * (0.7 * i + 1.3 * j + c).sin() + 0.15 * (0.37 * i * j + 2.0 * c).cos());
            }
        }
    }
    Tensor::from_slice(&v).view([1, 3, h, w]).to_kind(Kind::Float)
}

#[test]
fn ffdnet_matches_the_pytorch_reference() {
    let _guard = tch::no_grad_guard();
    tch::set_num_threads(1);
    let reference: serde_json::Value = serde_json::from_str(REFERENCE).expect("reference JSON");
    let (h, w) = (reference["height"].as_i64().unwrap(), reference["width"].as_i64().unwrap());
    let task = upbench_sdk::testing::standard_task(upbench_sdk::TaskKind::ImageDenoising);
    let mut net = Ffdnet::load(&task, WEIGHTS, tch::Device::Cpu).expect("weights load");
    let x = pattern(h, w);
    for (key, sigma) in [("sigma30", 30.0 / 255.0), ("sigma200", 200.0 / 255.0)] {
        let want: Vec<f64> = reference[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let got = Vec::<f64>::try_from(&net.denoise(&x, sigma).unwrap().to_kind(Kind::Double).view([-1])).unwrap();
        assert_eq!(got.len(), want.len());
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-4, "{key}: max difference {err}");
        // The network did something: its output is not its input.
        let moved = got
            .iter()
            .zip(Vec::<f64>::try_from(&x.to_kind(Kind::Double).view([-1])).unwrap())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(moved > 1e-2, "{key}: output equals input");
    }
    // Grey: three equal channels in, their mean out.
    let grey = x.narrow(1, 0, 1);
    let rgb = net.denoise(&grey.expand([1, 3, h, w], false), 30.0 / 255.0).unwrap().mean_dim(1, true, Kind::Float);
    let diff = (net.denoise(&grey, 30.0 / 255.0).unwrap() - rgb).abs().max().double_value(&[]);
    assert!(diff < 1e-6, "grey path differs by {diff}");
}
