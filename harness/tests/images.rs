//! The ×4 degradation matches MATLAB's: our `imresize_bicubic` of every HR image of Set5, Set14
//! and BSD100 against the published `lr_x4` files (MATLAB `imresize(…, 1/4, 'bicubic')`).
//! Issue [3] asks for at most one grey level of difference (or PSNR ≥ 45 dB) on every image.

use std::path::PathBuf;

use upbench::task::images::{imresize_bicubic, read_image, ImageError};

use crate::util::data_dir;

#[test]
fn bicubic_x4_matches_the_standard_low_resolution_sets() {
    let root = data_dir();
    assert!(root.is_dir(), "no data directory at {} (set UPBENCH_DATA_DIR)", root.display());
    let mut checked = 0;
    let mut worst = (0u8, String::new());
    let mut lowest_psnr = f64::INFINITY;
    for set in ["set5", "set14", "bsd100"] {
        let mut names: Vec<PathBuf> =
            std::fs::read_dir(root.join(set).join("hr")).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for hr_path in names {
            let name = hr_path.file_name().unwrap().to_owned();
            let hr = read_image(&hr_path).unwrap();
            let lr = read_image(&root.join(set).join("lr_x4").join(&name)).unwrap();
            let ours = imresize_bicubic(&hr, 0.25);
            assert_eq!(
                (ours.height, ours.width, ours.channels),
                (lr.height, lr.width, lr.channels),
                "{}",
                hr_path.display()
            );
            let max = ours.data.iter().zip(&lr.data).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            let mse = ours.data.iter().zip(&lr.data).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum::<f64>()
                / lr.data.len() as f64;
            let psnr = if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() };
            assert!(max <= 1 || psnr >= 45.0, "{}: max difference {max}, PSNR {psnr:.1} dB", hr_path.display());
            lowest_psnr = lowest_psnr.min(psnr);
            if max > worst.0 {
                worst = (max, hr_path.display().to_string());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 5 + 14 + 100);
    // Measured here: lowest PSNR 50.4 dB; most images differ by more than one grey level in a
    // few pixels. An independent NumPy port (tests/reference/imresize_port.py) finds the very same
    // pixels, so the residue lies in the reference files' MATLAB version, not in this port.
    eprintln!(
        "bicubic ×4: {checked} images, lowest PSNR {lowest_psnr:.1} dB, worst max difference {} ({})",
        worst.0, worst.1
    );
}

#[test]
fn a_corrupt_image_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.png");
    std::fs::write(&path, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let err = read_image(&path).unwrap_err();
    assert!(matches!(err, ImageError::Decode { .. }), "{err}");
    assert!(err.to_string().starts_with(&path.display().to_string()));
    let missing = read_image(&dir.path().join("nope.png")).unwrap_err();
    assert!(missing.to_string().contains("nope.png: cannot read image"), "{missing}");
}

#[test]
fn the_shared_data_directory_matches_the_registry() {
    let out = assert_cmd::Command::cargo_bin("upbench")
        .unwrap()
        .args(["data", "--data-dir"])
        .arg(data_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for set in ["set5", "set14", "bsd100", "kodak24"] {
        assert!(text.lines().any(|l| l.contains(set) && l.contains(" ok ")), "{set} not ok:\n{text}");
    }
}

#[test]
fn a_corrupt_or_missing_file_is_named_with_its_set() {
    let dir = tempfile::tempdir().unwrap();
    let set5 = dir.path().join("set5");
    std::fs::create_dir_all(set5.join("hr")).unwrap();
    std::fs::create_dir_all(set5.join("lr_x4")).unwrap();
    for sub in ["hr", "lr_x4"] {
        for entry in std::fs::read_dir(data_dir().join("set5").join(sub)).unwrap() {
            let p = entry.unwrap().path();
            std::fs::copy(&p, set5.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut bytes = std::fs::read(set5.join("hr/img_002.png")).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0xff;
    std::fs::write(set5.join("hr/img_002.png"), bytes).unwrap();
    std::fs::remove_file(set5.join("lr_x4/img_005.png")).unwrap();
    let out = assert_cmd::Command::cargo_bin("upbench")
        .unwrap()
        .args(["data", "set5", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("set5/hr/img_002.png: checksum mismatch (dataset set5)"), "{text}");
    assert!(text.contains("set5/lr_x4/img_005.png: missing (dataset set5)"), "{text}");
    let unknown = assert_cmd::Command::cargo_bin("upbench").unwrap().args(["data", "div2k"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown dataset 'div2k'"));
}

/// A `file://` mirror laid out as the public source (`<set>/<source file name>`), made from the
/// shared copy of Set5.
fn set5_mirror(root: &std::path::Path) -> PathBuf {
    let mirror = root.join("mirror/set5");
    std::fs::create_dir_all(&mirror).unwrap();
    for (sub, suffix) in [("hr", "HR"), ("lr_x4", "LR")] {
        for i in 1..=5 {
            let from = data_dir().join("set5").join(sub).join(format!("img_00{i}.png"));
            std::fs::copy(from, mirror.join(format!("img_00{i}_SRF_4_{suffix}.png"))).unwrap();
        }
    }
    root.join("mirror")
}

#[test]
fn fetch_downloads_a_set_from_a_mirror_and_verifies_every_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = set5_mirror(dir.path());
    let target = dir.path().join("data");
    let fetch = || {
        assert_cmd::Command::cargo_bin("upbench")
            .unwrap()
            .args(["data", "set5", "--fetch", "--from"])
            .arg(format!("file://{}", mirror.display()))
            .arg("--data-dir")
            .arg(&target)
            .output()
            .unwrap()
    };
    let out = fetch();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("set5: 10 fetched, 0 already present, 0 failed"), "{text}");
    assert_eq!(
        std::fs::read(target.join("set5/hr/img_003.png")).unwrap(),
        std::fs::read(data_dir().join("set5/hr/img_003.png")).unwrap()
    );
    // Again: nothing to do.
    assert!(String::from_utf8_lossy(&fetch().stdout).contains("set5: 0 fetched, 10 already present"));
    // A corrupt file in the mirror is refused and never written; the rest is kept.
    std::fs::remove_file(target.join("set5/lr_x4/img_004.png")).unwrap();
    let bad = mirror.join("set5/img_004_SRF_4_LR.png");
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&bad, bytes).unwrap();
    let out = fetch();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("img_004_SRF_4_LR.png: checksum mismatch (dataset set5)"), "{text}");
    assert!(text.contains("set5/lr_x4/img_004.png was not written"), "{text}");
    assert!(!target.join("set5/lr_x4/img_004.png").exists());
    assert!(!target.join("set5/lr_x4/img_004.part").exists());
    // An unreachable mirror names the URL.
    let out = assert_cmd::Command::cargo_bin("upbench")
        .unwrap()
        .args(["data", "set5", "--fetch", "--from", "file:///no/such/mirror", "--data-dir"])
        .arg(dir.path().join("empty"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("file:///no/such/mirror/set5/img_001_SRF_4_HR.png: cannot fetch"), "{text}");
}

/// Bicubic ×4 PSNR-Y / SSIM as the SR literature's tables print them. Sources:
/// - Set5 28.42 / 0.8104, Set14 26.00 / 0.7027, B100 25.96 / 0.6675: the "Bicubic" row of the
///   BI-degradation ×4 table of RCAN (Zhang et al., ECCV 2018, arXiv 1807.02758; the README of
///   yulunzhang/RCAN shows it as `Figs/psnr_bi_2.PNG`), repeated by EDSR-era tables (e.g. ESRGAN's
///   supplementary Table 2).
/// - Kodak24: no published bicubic ×4 SR numbers exist in those tables; not asserted.
///
/// The tables score Set14's `bridge` (img_003, a one-channel file) on its grey values and every
/// three-channel file, `man` (img_010, three equal channels) included, on the BT.601 luma:
/// SelfExSR's per-image results (`quant_eval/result/result_Set14_SRF_4.mat`) give bridge
/// 23.1459 dB, which only the grey values reproduce, and man 25.6915 dB, which only the luma
/// does. That is the `grey-values` convention; the default `modern` one scores bridge as the Y of
/// its replicated RGB, 20·log10(255/219) dB higher, and is otherwise the same.
const PUBLISHED_BICUBIC_X4: [(&str, usize, f64, f64); 3] =
    [("set5", 5, 28.42, 0.8104), ("set14", 14, 26.00, 0.7027), ("bsd100", 100, 25.96, 0.6675)];

/// The bicubic baseline (MATLAB upsampling ×4 of each measurement, 8-bit) on `task`'s images.
fn bicubic_outputs(task: &upbench::task::images::ImageTask) -> Vec<tch::Tensor> {
    use upbench::task::images::{degrade, Image8};
    let up = |low: &tch::Tensor| {
        let (c, h, w) = (low.size()[0] as usize, low.size()[1] as usize, low.size()[2] as usize);
        let values: Vec<f64> = Vec::try_from((low.permute([1, 2, 0]) * 255.0).round().flatten(0, -1)).unwrap();
        let low = Image8 { height: h, width: w, channels: c, data: values.iter().map(|&v| v as u8).collect() };
        degrade::to_tensor(&imresize_bicubic(&low, 4.0)).unsqueeze(0)
    };
    task.cases.iter().map(|case| up(&case.measurement)).collect()
}

/// Mean PSNR-Y and SSIM of `outputs` as `task` scores them.
fn mean_scores(task: &upbench::task::images::ImageTask, outputs: &[tch::Tensor]) -> (f64, f64) {
    use upbench::estimate::fidelity::{psnr_y, ssim_y};
    let (mut psnr, mut ssim) = (0.0, 0.0);
    for (case, up) in task.cases.iter().zip(outputs) {
        psnr += psnr_y(up, &case.truth, 4, case.scored_on)[0];
        ssim += ssim_y(up, &case.truth, 4, case.scored_on)[0];
    }
    let n = task.cases.len() as f64;
    (psnr / n, ssim / n)
}

/// Every registered set under the default (`modern`) and the `grey-values` convention, the same
/// outputs scored both ways: the published tables under `grey-values`, and `modern` apart from it
/// only by bridge's closed-form lift (`evaluation.rs` pins Set5/Set14 to the README's numbers).
#[test]
fn bicubic_x4_scores_match_the_published_tables_on_every_registered_set() {
    use upbench::task::images::{ImageTask, ImageTaskConfig};
    let mut measured = Vec::new();
    for dataset in upbench::task::images::datasets() {
        let build = |evaluation: &str| {
            let config: ImageTaskConfig = toml::from_str(&format!(
                "name = \"t\"\ndataset = \"{}\"\ndegradation = {{ kind = \"super-resolution\", scale = 4 }}\n{evaluation}",
                dataset.name
            ))
            .unwrap();
            ImageTask::build(&config, &data_dir(), 1).unwrap_or_else(|e| panic!("{}: {e}", dataset.name))
        };
        let (modern, old) = (build(""), build("evaluation = \"grey-values\""));
        let outputs = bicubic_outputs(&modern);
        let one_channel = old.cases.iter().filter(|c| c.scored_on == upbench::task::images::ScoredOn::Grey).count();
        measured.push((
            dataset.name.clone(),
            modern.cases.len(),
            mean_scores(&modern, &outputs),
            mean_scores(&old, &outputs),
            one_channel,
        ));
    }
    eprintln!("bicubic ×4 (set, images, modern PSNR-Y/SSIM, grey-values PSNR-Y/SSIM, one-channel files): {measured:?}");
    for (set, images, want_psnr, want_ssim) in PUBLISHED_BICUBIC_X4 {
        let (_, n, modern, (psnr, ssim), grey) =
            measured.iter().find(|m| m.0 == set).unwrap_or_else(|| panic!("{set} not registered"));
        assert_eq!(*n, images, "{set}");
        assert!((psnr - want_psnr).abs() <= 0.02, "{set}: PSNR-Y {psnr:.4} dB, published {want_psnr}");
        assert!((ssim - want_ssim).abs() <= 0.002, "{set}: SSIM {ssim:.4}, published {want_ssim}");
        // a one-channel file's Y is 16 + 219 g / 255: its PSNR rises by 20·log10(255/219) dB
        let lift = 20.0 * (255.0f64 / 219.0).log10() * *grey as f64 / *n as f64;
        assert!((modern.0 - psnr - lift).abs() < 1e-9, "{set}: {modern:?} vs {psnr} (lift {lift})");
        assert_eq!(*grey, usize::from(set == "set14"), "{set}");
    }
    assert!(measured.iter().any(|m| m.0 == "kodak24" && m.2 .0.is_finite()), "{measured:?}");
}
