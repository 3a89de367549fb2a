//! Time per sample of the image sampler on a Set5 ×4 image at the default settings (FFDNet,
//! DiffPIR's proximal step, η = 1, 100 steps), with the PSNR of the sample and of MATLAB-bicubic
//! upsampling against the HR image as a sanity check. For `docs/sampler.md`; run once with
//! `--release`, not a test:
//!
//! `scripts/with-libtorch cargo run --release -p pnp-sampler --example time_set5 [IMAGE] [STEPS]`

use upbench_plugin_pnp_sampler::PnpSampler;
use upbench_sdk::{testing, OwnedTensor, ParamValue, TaskKind};
use upbench_tch::tch::{self, Kind, Tensor};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets/set5");

fn read(path: &str) -> Tensor {
    let img = image::open(path).unwrap_or_else(|e| panic!("{path}: {e}")).to_rgb8();
    let (w, h) = (img.width() as i64, img.height() as i64);
    Tensor::from_slice(img.as_raw()).view([h, w, 3]).permute([2, 0, 1]).to_kind(Kind::Float) / 255.0
}

fn psnr(a: &Tensor, b: &Tensor) -> f64 {
    let mse = (a - b).square().mean(Kind::Double).double_value(&[]);
    10.0 * (1.0 / mse).log10()
}

fn main() {
    std::env::set_var("UPBENCH_MODELS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/models"));
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).cloned().unwrap_or_else(|| "img_001.png".into());
    let steps: i64 = args.get(2).map(|s| s.parse().expect("STEPS")).unwrap_or(100);
    let lr = read(&format!("{DATA}/lr_x4/{name}"));
    let hr = read(&format!("{DATA}/hr/{name}"));
    let (h, w) = (lr.size()[1], lr.size()[2]);
    let hr = hr.narrow(1, 0, 4 * h).narrow(2, 0, 4 * w);
    println!("{name}: LR {h}×{w}, HR {}×{}, libtorch threads {}", 4 * h, 4 * w, tch::get_num_threads());
    let task = testing::image_task(TaskKind::ImageSuperResolution, 3, 4, 0.0);
    for eta in [1.0, 0.0] {
        let params =
            testing::params_with::<PnpSampler>(&[("steps", ParamValue::Int(steps)), ("eta", ParamValue::Float(eta))]);
        let mut model = testing::module::<PnpSampler>().new_model()(&params, &task).into_result().expect("model");
        let values = Vec::<f32>::try_from(&lr.contiguous().view([-1])).expect("f32");
        let y = OwnedTensor::from_f32_vec(values, &[1, 3, h, w]).expect("input");
        let t = std::time::Instant::now();
        let out = testing::restore_checked(&mut model, y.view(), 1, 1, &[3, 4 * h, 4 * w]).expect("restores");
        let secs = t.elapsed().as_secs_f64();
        let sample = Tensor::from_slice(&out).view([3, 4 * h, 4 * w]).to_kind(Kind::Float);
        println!("  eta {eta}: {steps} steps, {secs:.1} s per sample, PSNR(RGB) {:.2} dB", psnr(&sample, &hr));
    }
    let bicubic = image_kit::resample::upsample_bicubic(&lr.unsqueeze(0), 4).squeeze_dim(0).clamp(0.0, 1.0);
    println!("  bicubic upsampling: PSNR(RGB) {:.2} dB", psnr(&bicubic, &hr));
}
