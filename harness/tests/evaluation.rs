//! The PSNR-Y/SSIM conventions and the measurements of the SR sets (issue [14], item 1): by
//! default an SR task on Set5/Set14/BSD100 gives the models the stored `lr_x4/` files, as every
//! published table did, and scores them as the modern papers do (Y in float from the 8-bit RGB,
//! a one-channel file replicated to RGB); the older conventions stay named options.
//!
//! References: bicubic ×4 (MATLAB upsampling of the stored LR) measured with an independent port,
//! `../shared/models/README.md`, "Measured with these files": Set5 28.4302 / 0.8111, Set14
//! 26.0914 / 0.7048 (modern), Set14 25.9970 / 0.7029 with bridge on its grey values; the VDSR-era
//! tables' 28.42 / 0.8104 and 26.00 / 0.7027.

use tch::Tensor;
use upbench::estimate::fidelity::{psnr_y, ssim_y, Evaluation, ScoredOn};
use upbench::task::images::{degrade, imresize_bicubic, Image8, ImageTask, ImageTaskConfig, LrSource};

use crate::util::data_dir;

/// A ×4 SR task on `set` with the extra settings `extra` (TOML lines), built from the shared data.
fn task(set: &str, extra: &str) -> ImageTask {
    let text = format!(
        "name = \"t\"\ndataset = \"{set}\"\ndegradation = {{ kind = \"super-resolution\", scale = 4 }}\n{extra}"
    );
    let config: ImageTaskConfig = toml::from_str(&text).unwrap();
    ImageTask::build(&config, &data_dir(), 1).unwrap_or_else(|e| panic!("{set}: {e}"))
}

/// An 8-bit image of a `[C, h, w]` tensor in [0, 1].
fn image8(x: &Tensor) -> Image8 {
    let (c, h, w) = (x.size()[0] as usize, x.size()[1] as usize, x.size()[2] as usize);
    let values: Vec<f64> = Vec::try_from((x.permute([1, 2, 0]) * 255.0).round().flatten(0, -1)).unwrap();
    Image8 { height: h, width: w, channels: c, data: values.iter().map(|&v| v as u8).collect() }
}

/// The bicubic baseline on every image of `task`: MATLAB's upsampling ×4 of its measurement,
/// `[1, C, H, W]` in [0, 1].
fn bicubic(task: &ImageTask) -> Vec<Tensor> {
    let up = |case: &upbench::task::images::ImageCase| {
        degrade::to_tensor(&imresize_bicubic(&image8(&case.measurement), 4.0)).unsqueeze(0)
    };
    task.cases.iter().map(up).collect()
}

/// Per-image (PSNR-Y, SSIM) of `outputs` as `task` scores them.
fn scores(task: &ImageTask, outputs: &[Tensor]) -> Vec<(f64, f64)> {
    let score = |(case, up): (&upbench::task::images::ImageCase, &Tensor)| {
        (psnr_y(up, &case.truth, 4, case.scored_on)[0], ssim_y(up, &case.truth, 4, case.scored_on)[0])
    };
    task.cases.iter().zip(outputs).map(score).collect()
}

fn mean(scores: &[(f64, f64)]) -> (f64, f64) {
    let n = scores.len() as f64;
    (scores.iter().map(|s| s.0).sum::<f64>() / n, scores.iter().map(|s| s.1).sum::<f64>() / n)
}

/// The README's modern numbers, "Measured with these files": (set, PSNR-Y, SSIM).
const MODERN: [(&str, f64, f64); 2] = [("set5", 28.4302, 0.8111), ("set14", 26.0914, 0.7048)];

/// The VDSR-era bicubic ×4 tables (RCAN's BI table, as `images.rs` cites): (set, PSNR-Y, SSIM).
const VDSR_ERA: [(&str, f64, f64); 2] = [("set5", 28.42, 0.8104), ("set14", 26.00, 0.7027)];

/// PSNR of Y rounded to integers (MATLAB's `rgb2ycbcr` on `uint8`), or of the grey values when
/// `grey`, 4-pixel border: written here from the 8-bit pixels, apart from the harness's tensors.
fn rounded_y_psnr(out: &Image8, truth: &Image8, grey: bool) -> f64 {
    let value = |img: &Image8, r: usize, c: usize| {
        let p = &img.data[(r * img.width + c) * 3..][..3];
        let [red, green, blue] = [p[0], p[1], p[2]].map(f64::from);
        if grey {
            return red;
        }
        (16.0 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255.0).round()
    };
    let (mut sum, mut n) = (0.0, 0.0);
    for r in 4..truth.height - 4 {
        for c in 4..truth.width - 4 {
            sum += (value(out, r, c) - value(truth, r, c)).powi(2);
            n += 1.0;
        }
    }
    10.0 * (255.0 * 255.0 / (sum / n)).log10()
}

/// Set14 (bridge, `img_003`, is a one-channel file) and Set5 under every convention, the same
/// bicubic outputs of the stored LR files scored three ways.
#[test]
fn bicubic_x4_reads_the_modern_numbers_by_default_and_the_old_tables_under_the_old_options() {
    for ((set, psnr, ssim), (_, vdsr_psnr, vdsr_ssim)) in MODERN.into_iter().zip(VDSR_ERA) {
        let modern = task(set, "");
        assert_eq!((modern.lr, modern.config.evaluation), (LrSource::Stored, Evaluation::Modern), "{set}");
        let outputs = bicubic(&modern);
        let scored = scores(&modern, &outputs);
        let (p, s) = mean(&scored);
        eprintln!("{set} bicubic ×4, modern: {p:.4} dB / {s:.4} (README {psnr} / {ssim})");
        assert!((p - psnr).abs() < 1e-4 && (s - ssim).abs() < 1e-4, "{set}: {p:.5} / {s:.5}");
        let grey_values = task(set, "evaluation = \"grey-values\"");
        let old = scores(&grey_values, &outputs);
        let matlab = task(set, "evaluation = \"matlab-uint8\"");
        let rounded = scores(&matlab, &outputs);
        for (i, case) in matlab.cases.iter().enumerate() {
            let grey = case.scored_on == ScoredOn::Grey;
            assert_eq!(grey, grey_values.cases[i].scored_on == ScoredOn::Grey, "{}", case.name);
            assert_eq!(grey, set == "set14" && case.name == "hr/img_003.png", "{}", case.name);
            // Y of a replicated grey value g is 16 + 219 g / 255: errors shrink by 219/255
            let lift = if grey { 20.0 * (255.0f64 / 219.0).log10() } else { 0.0 };
            assert!((scored[i].0 - old[i].0 - lift).abs() < 1e-9, "{}: {scored:?} {old:?}", case.name);
            let reference = rounded_y_psnr(&image8(&outputs[i].get(0)), &image8(&case.truth), grey);
            assert!((rounded[i].0 - reference).abs() < 1e-9, "{}: {} vs {reference}", case.name, rounded[i].0);
        }
        let ((p_old, s_old), (p_rounded, s_rounded)) = (mean(&old), mean(&rounded));
        eprintln!(
            "{set}: grey-values {p_old:.4} / {s_old:.4}, matlab-uint8 {p_rounded:.4} / {s_rounded:.4} \
             (VDSR-era table {vdsr_psnr} / {vdsr_ssim})"
        );
        // the README's measurement with bridge on its grey values, then the published table
        if set == "set14" {
            assert!((p_old - 25.9970).abs() < 1e-4 && (s_old - 0.7029).abs() < 1e-4, "{p_old:.5} / {s_old:.5}");
        }
        // two decimals printed, and implementations that differ in the last digits: 0.02 dB, 0.001
        for (p, s) in [(p_old, s_old), (p_rounded, s_rounded)] {
            assert!((p - vdsr_psnr).abs() < 0.02 && (s - vdsr_ssim).abs() < 0.001, "{set}: {p:.4} / {s:.4}");
        }
        // rounding Y costs a little on every set: 0.0125 dB on Set5, 0.0037 dB on Set14
        assert!(p_rounded < p_old && p_old - p_rounded < 0.02, "{set}: {p_old} vs {p_rounded}");
    }
}

/// The stored files differ from the harness's own degradation of the same ground truths in a few
/// values by several grey levels, which moves bicubic's Set5 score by about a thousandth of a dB.
#[test]
fn the_stored_lr_files_differ_from_the_tasks_own_degradation_in_a_few_pixels() {
    let (stored, own) = (task("set5", ""), task("set5", "lr = \"degrade\""));
    assert_eq!(own.lr, LrSource::Degrade);
    let (mut values, mut differing, mut largest) = (0i64, 0i64, 0.0f64);
    for (a, b) in stored.cases.iter().zip(&own.cases) {
        assert_eq!(a.measurement.size(), b.measurement.size(), "{}", a.name);
        let diff = ((&a.measurement - &b.measurement) * 255.0).abs().round();
        values += diff.numel() as i64;
        differing += diff.gt(0.0).sum(tch::Kind::Int64).int64_value(&[]);
        largest = largest.max(diff.max().double_value(&[]));
    }
    let (p_stored, _) = mean(&scores(&stored, &bicubic(&stored)));
    let (p_own, _) = mean(&scores(&own, &bicubic(&own)));
    eprintln!(
        "set5 ×4 LR: {differing} of {values} values differ, at most {largest} grey levels; \
         bicubic {p_stored:.4} dB on the stored files, {p_own:.4} on the task's own"
    );
    assert!(differing > 0 && (differing as f64) < 0.02 * values as f64, "{differing} of {values}");
    assert!(largest >= 2.0, "{largest}");
    assert!((p_stored - p_own).abs() > 1e-4 && (p_stored - p_own).abs() < 0.01, "{p_stored} vs {p_own}");
}

/// A suite that asks for stored LR files where none ship, or names no convention, is stopped
/// before any model runs, with the file, line and column (exit 2, like every image-task problem).
#[test]
fn impossible_lr_and_unknown_conventions_are_located_errors() {
    crate::util::plugins();
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("s.toml");
    let text = |extra: &str| {
        format!(
            "seed = 1\n[[image_task]]\nname = \"kodak-x4\"\ndataset = \"kodak24\"\n\
             degradation = {{ kind = \"super-resolution\", scale = 4 }}\n{extra}\n[[plugin]]\nname = \"bicubic\"\n"
        )
    };
    let check = |extra: &str| {
        std::fs::write(&suite, text(extra)).unwrap();
        let out = assert_cmd::Command::cargo_bin("upbench")
            .unwrap()
            .args(["run", suite.to_str().unwrap(), "--check", "--device", "cpu", "--data-dir"])
            .arg(data_dir())
            .arg("--out")
            .arg(dir.path().join("out"))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, err) = check("lr = \"stored\"");
    let want = format!(
        "{}:3:8: image task 'kodak-x4': lr = \"stored\": the set kodak24 ships no lr_x4/ files; use lr = \"degrade\"",
        suite.display()
    );
    assert!(code == Some(2) && err.contains(&want), "{code:?} {err}");
    let (code, err) = check("evaluation = \"matlab\"");
    assert!(code == Some(2) && err.contains("line 6, column 14") && err.contains("unknown variant `matlab`"), "{err}");
    let (code, err) = check("lr = \"degrade\"\nevaluation = \"matlab-uint8\"");
    assert_eq!(code, Some(0), "{err}");
    assert!(!dir.path().join("out").exists());
}
