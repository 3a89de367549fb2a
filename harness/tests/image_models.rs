//! The ports of the pretrained models reproduce their published figures, through the plugin
//! boundary: ESPCN ×4 on Set5 under its authors' own test protocol (32.06 dB), DnCNN-S σ = 25
//! gaining more than 10 dB on noisy images.

use std::path::Path;

use tch::{Kind, Tensor};
use upbench::plugin::{self, resolve_params};
use upbench::run;
use upbench::task::images::{read_image, Image8};
use upbench_sdk::testing::image_task;
use upbench_sdk::{TaskKind, TaskSpec};

use crate::util::{data_dir, plugins, point_plugins_at_models};

fn model(name: &str, params: &[(&str, toml::Value)], spec: &TaskSpec) -> upbench_sdk::ModelBox {
    point_plugins_at_models();
    let file = format!("libupbench_plugin_{}.so", name.replace('-', "_"));
    let loaded = plugin::load(&plugins().join(file), Path::new("/tmp")).unwrap_or_else(|e| panic!("{e}"));
    let given: Vec<(String, toml::Value)> = params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let config = resolve_params(&loaded.metadata, &given, std::path::Path::new("."), None).unwrap().remove(0);
    loaded.new_model(&config.params, spec).unwrap_or_else(|e| panic!("{e}"))
}

/// `[3, H, W]` float of an RGB image, 0–255.
fn rgb(img: &Image8) -> Tensor {
    Tensor::from_slice(&img.data)
        .view([img.height as i64, img.width as i64, 3])
        .permute([2, 0, 1])
        .to_kind(Kind::Double)
}

/// torchvision's `GaussianBlur(3, σ)` on a uint8 image: reflect padding, rounded back to 8 bits.
fn blur_3x3(x: &Tensor, sigma: f64) -> Tensor {
    let g: Vec<f64> = [-1.0f64, 0.0, 1.0].iter().map(|t| (-0.5 * (t / sigma).powi(2)).exp()).collect();
    let sum: f64 = g.iter().sum();
    let g = Tensor::from_slice(&g) / sum;
    let kernel = (g.unsqueeze(1) * g.unsqueeze(0)).view([1, 1, 3, 3]).repeat([3, 1, 1, 1]);
    let padded = x.unsqueeze(0).reflection_pad2d([1, 1, 1, 1]);
    padded.conv2d(&kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], 3).squeeze_dim(0).round()
}

/// The ESPCN authors' `rgb2ycbcr`: JPEG coefficients, clipped to [16, 235] / [16, 240], truncated.
fn their_ycbcr(x: &Tensor) -> Tensor {
    let c = |i: i64| x.get(i);
    let y = (c(0) * 0.299 + c(1) * 0.587 + c(2) * 0.114).clamp(16.0, 235.0);
    let cb = (c(0) * -0.16874 - c(1) * 0.33126 + c(2) * 0.5 + 128.0).clamp(16.0, 240.0);
    let cr = (c(0) * 0.5 - c(1) * 0.41869 - c(2) * 0.08131 + 128.0).clamp(16.0, 240.0);
    Tensor::stack(&[y, cb, cr], 0).trunc()
}

#[test]
fn espcn_x4_reproduces_its_published_set5_figure() {
    let mut espcn = model(
        "espcn-x4",
        &[("colour_space", toml::Value::String("ycbcr".into()))],
        &image_task(TaskKind::ImageSuperResolution, 3, 4, 0.0),
    );
    // restore reseeds libtorch's generator, which a suite running in a parallel test shares.
    let _rng = upbench::seed::torch_rng_lock();
    let root = data_dir().join("set5");
    let mut psnr = Vec::new();
    for i in 1..=5 {
        let name = format!("img_00{i}.png");
        let hr = their_ycbcr(&rgb(&read_image(&root.join("hr").join(&name)).unwrap())) / 255.0;
        let lr = blur_3x3(&rgb(&read_image(&root.join("lr_x4").join(&name)).unwrap()), 0.2);
        let lr = (their_ycbcr(&lr) / 255.0).to_kind(Kind::Float).unsqueeze(0).contiguous();
        let sr = run::restore(&mut espcn, &lr, 1, 0, &hr.size()).unwrap().get(0).get(0);
        let mse = (sr - hr).square().mean(Kind::Double).double_value(&[]);
        psnr.push(-10.0 * mse.log10());
    }
    let mean = psnr.iter().sum::<f64>() / 5.0;
    // Published (Nhat-Thanh/ESPCN-Pytorch README): 32.0646 dB, float32 on their machine.
    assert!((mean - 32.0646).abs() < 0.02, "ESPCN ×4 on Set5: {mean:.4} dB ({psnr:?})");
}

#[test]
fn dncnn_gains_more_than_ten_db_at_sigma_25() {
    let sigma = 25.0 / 255.0;
    let mut dncnn = model("dncnn-s25", &[], &image_task(TaskKind::ImageDenoising, 1, 1, sigma));
    let _rng = upbench::seed::torch_rng_lock();
    // Set14's lenna, monarch and pepper: three of the twelve images DnCNN's paper reports.
    for (i, name) in ["img_009.png", "img_011.png", "img_012.png"].iter().enumerate() {
        let img = read_image(&data_dir().join("set14/hr").join(name)).unwrap();
        let grey = upbench::task::images::degrade::to_grey(&img);
        let x = upbench::task::images::degrade::to_tensor(&grey);
        tch::manual_seed(i as i64);
        let y = (&x + Tensor::randn_like(&x) * sigma).unsqueeze(0).contiguous();
        let restored = run::restore(&mut dncnn, &y, 1, 0, &x.size()).unwrap().get(0).get(0);
        let psnr =
            |z: &Tensor| -10.0 * (z - &x.to_kind(Kind::Double)).square().mean(Kind::Double).double_value(&[]).log10();
        let (noisy, denoised) = (psnr(&y.get(0).to_kind(Kind::Double)), psnr(&restored));
        assert!((noisy - 20.17).abs() < 0.2, "{name}: noisy input at {noisy:.2} dB");
        assert!(denoised - noisy > 10.0, "{name}: {noisy:.2} dB → {denoised:.2} dB");
    }
}

#[test]
fn a_missing_weights_file_is_named_with_the_way_to_point_at_it() {
    point_plugins_at_models();
    let file = "libupbench_plugin_srvgg_x4.so";
    let loaded = plugin::load(&plugins().join(file), Path::new("/tmp")).unwrap();
    let given = vec![("weights".to_string(), toml::Value::String("no-such.safetensors".into()))];
    let config = resolve_params(&loaded.metadata, &given, std::path::Path::new("."), None).unwrap().remove(0);
    let err = loaded.new_model(&config.params, &image_task(TaskKind::ImageSuperResolution, 3, 4, 0.0)).err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("no-such.safetensors") && msg.contains("UPBENCH_MODELS_DIR"), "{msg}");
}

#[test]
fn noisy_fill_keeps_observed_pixels_and_fills_with_the_ring_statistics() {
    let mut fill =
        model("noisy-fill", &[("ring", toml::Value::Integer(2))], &image_task(TaskKind::ImageInpainting, 1, 1, 0.0));
    // A 12 × 12 grey image: the 4 × 4 hole at (4, 4), a ring of alternating 0.2 / 0.6 around it.
    let image = Tensor::full([1, 12, 12], 0.9, (Kind::Float, tch::Device::Cpu));
    for r in 2..10 {
        for c in 2..10 {
            let _ = image.get(0).get(r).get(c).fill_(if (r + c) % 2 == 0 { 0.2 } else { 0.6 });
        }
    }
    let observed = Tensor::ones([1, 12, 12], (Kind::Float, tch::Device::Cpu));
    let _ = observed.narrow(1, 4, 4).narrow(2, 4, 4).fill_(0.0);
    let y = Tensor::cat(&[&image * &observed, observed.shallow_clone()], 0).unsqueeze(0).contiguous();
    // restore reseeds libtorch's generator and noisy-fill draws from it; suites in parallel tests share it.
    let _rng = upbench::seed::torch_rng_lock();
    let out = run::restore(&mut fill, &y, 4000, 1, &[1, 12, 12]).unwrap().get(0);
    let kept = (&out - image.to_kind(Kind::Double)) * observed.to_kind(Kind::Double);
    assert_eq!(kept.abs().max().double_value(&[]), 0.0);
    let hole = out.narrow(2, 4, 4).narrow(3, 4, 4);
    let (mean, std) = (hole.mean(Kind::Double).double_value(&[]), hole.std(true).double_value(&[]));
    assert!((mean - 0.4).abs() < 0.005 && (std - 0.2).abs() < 0.005, "fill mean {mean}, std {std}");
}
