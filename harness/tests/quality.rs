//! The native quality metrics (issue [13]) against their reference implementations: NIQE
//! against BasicSR's `calculate_niqe`, BRISQUE against PyPI `brisque` 0.2.0, ST-LPIPS (alex)
//! against PyPI `stlpips-pytorch` 0.0.2, on Set5 and Set14 images. The reference values are in
//! `tests/reference/quality_reference.json`, written by `tests/reference/quality_reference.py`
//! (which says how to rerun it); the parameter files and images are the shared ones.

use std::time::Instant;

use serde_json::Value;
use tch::{Device, Kind, Tensor};
use upbench::estimate::quality::{Better, Brisque, Niqe, QualityError, QualityMeasure, Reference, StLpips};
use upbench::raster::{imresize_bicubic, read_image, Image8};

use crate::util::{data_dir, models_dir, workspace};

fn reference() -> Value {
    let path = workspace().join("harness/tests/reference/quality_reference.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The case's image: the file, cut to its first `rows` rows when the case says so.
fn case_image(case: &Value) -> Image8 {
    let img = read_image(&data_dir().join(case["file"].as_str().unwrap())).unwrap();
    match case["rows"].as_u64() {
        Some(rows) => {
            let rows = rows as usize;
            Image8 { height: rows, data: img.data[..rows * img.width * img.channels].to_vec(), ..img }
        }
        None => img,
    }
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn niqe_equals_basicsr() {
    let r = reference();
    let niqe = Niqe::load(&models_dir(), 4).unwrap();
    let mut worst: f64 = 0.0;
    for case in r["niqe"]["cases"].as_array().unwrap() {
        let img = case_image(case);
        let start = Instant::now();
        let ours = niqe.score(&img, None).unwrap();
        let want = case["niqe"].as_f64().unwrap();
        let rel = relative(ours, want);
        eprintln!(
            "NIQE {:<22} {}x{}x{}: ours {ours:.9}  BasicSR {want:.9}  rel {rel:.1e}  (BasicSR in float64: {:.6})  {:.0} ms",
            case["image"].as_str().unwrap(),
            img.height,
            img.width,
            img.channels,
            case["niqe_float64"].as_f64().unwrap(),
            start.elapsed().as_secs_f64() * 1e3
        );
        worst = worst.max(rel);
        assert!(rel < 1e-3, "{}: {ours} vs BasicSR {want}", case["image"]);
    }
    eprintln!("NIQE: max relative difference {worst:.1e}");
    // no border crop
    let c = &r["niqe"]["crop0"];
    let ours = Niqe::load(&models_dir(), 0).unwrap().score(&case_image(c), None).unwrap();
    assert!(relative(ours, c["niqe"].as_f64().unwrap()) < 1e-3, "crop 0: {ours} vs {}", c["niqe"]);
}

/// A ×4 LR image of 128×192 px holds one 96×96 block after the crop: BasicSR fails on it (its
/// covariance of one row is NaN, `np.linalg.pinv` does not converge), NIQE here says why.
#[test]
fn niqe_needs_two_blocks() {
    let r = reference();
    assert!(r["niqe"]["one_block"]["exception"].as_str().unwrap().contains("LinAlgError"));
    let img = read_image(&data_dir().join("set14/lr_x4/img_011.png")).unwrap();
    assert_eq!((img.height, img.width), (128, 192));
    let err = Niqe::load(&models_dir(), 4).unwrap().score(&img, None).unwrap_err();
    assert!(matches!(err, QualityError::Image { .. }) && err.to_string().contains("96×96"), "{err}");
    let tiny = Image8 { height: 8, width: 8, channels: 3, data: vec![0; 192] };
    assert!(matches!(Niqe::load(&models_dir(), 4).unwrap().score(&tiny, None), Err(QualityError::Image { .. })));
}

#[test]
fn brisque_equals_the_brisque_package() {
    let r = reference();
    let brisque = Brisque::load(&models_dir()).unwrap();
    let mut worst: f64 = 0.0;
    for case in r["brisque"]["cases"].as_array().unwrap() {
        let img = case_image(case);
        let start = Instant::now();
        let ours = brisque.score(&img, None).unwrap();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let want = case["brisque"].as_f64().unwrap();
        let rel = relative(ours, want);
        eprintln!(
            "BRISQUE {:<22}: ours {ours:.9}  brisque 0.2.0 {want:.9}  rel {rel:.1e}  (grey in float32: {:.6})  {ms:.0} ms",
            case["image"].as_str().unwrap(),
            case["brisque_grey_float32"].as_f64().unwrap()
        );
        worst = worst.max(rel);
        assert!(rel < 1e-3, "{}: {ours} vs brisque {want}", case["image"]);
        // the features themselves
        let f = brisque.features(&img).unwrap();
        for (i, (a, b)) in f.iter().zip(case["features"].as_array().unwrap()).enumerate() {
            let b = b.as_f64().unwrap();
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-3), "{} feature {i}: {a} vs {b}", case["image"]);
        }
    }
    eprintln!("BRISQUE: max relative difference {worst:.1e}");
}

/// The test vectors of `brisque_svr.json` (models README 4b): the SVR on fixed scaled features.
#[test]
fn brisque_svr_test_vectors() {
    let brisque = Brisque::load(&models_dir()).unwrap();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(models_dir().join(Brisque::FILE)).unwrap()).unwrap();
    let sv0: Vec<f64> =
        json["svr"]["support_vectors"][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    for (x, want) in [([-1.0; 36], 128.425273), ([0.0; 36], 14.352117), ([1.0; 36], 136.917114)] {
        assert!((brisque.predict_scaled(&x) - want).abs() < 1e-6, "{} vs {want}", brisque.predict_scaled(&x));
    }
    let sv0: [f64; 36] = sv0.try_into().unwrap();
    assert!((brisque.predict_scaled(&sv0) - 20.626955).abs() < 1e-6);
    // raw features at the middle of the scaling range are scaled to 0
    let min: Vec<f64> = json["scaling"]["min"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let max: Vec<f64> = json["scaling"]["max"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let mid: [f64; 36] = std::array::from_fn(|i| (min[i] + max[i]) / 2.0);
    assert!((brisque.predict(&mid) - 14.352117).abs() < 1e-6);
}

#[test]
fn stlpips_equals_the_stlpips_package() {
    let r = reference();
    let net = StLpips::load(&models_dir(), Device::Cpu).unwrap();
    let mut worst: f64 = 0.0;
    for case in r["stlpips"]["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let hr = read_image(&data_dir().join(file)).unwrap();
        let pair = case["pair"].as_str().unwrap();
        let (a, b) = if pair.starts_with("hr vs imresize") {
            let lr = read_image(&data_dir().join(file.replace("/hr/", "/lr_x4/"))).unwrap();
            (hr.clone(), imresize_bicubic(&lr, 4.0))
        } else if pair.starts_with("hr[8:-8, 8:-8]") {
            (crop(&hr, 8, 8), crop(&hr, 8, 7))
        } else {
            (hr.clone(), hr.clone())
        };
        let start = Instant::now();
        let ours = net.score(&b, Some(&a)).unwrap();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let want = case["stlpips"].as_f64().unwrap();
        eprintln!(
            "ST-LPIPS {:<14} {pair:<55}: ours {ours:.8}  stlpips-pytorch {want:.8}  |Δ| {:.1e}  {ms:.0} ms",
            case["image"].as_str().unwrap(),
            (ours - want).abs()
        );
        worst = worst.max((ours - want).abs());
        assert!((ours - want).abs() < 1e-4, "{} {pair}: {ours} vs {want}", case["image"]);
        // the models README's own values (4c)
        match (case["image"].as_str().unwrap(), &pair[..6]) {
            ("set5/img_002", "hr vs ") if pair.contains("imresize") => {
                assert!((ours - 0.195559).abs() < 1e-5, "{ours}")
            }
            ("set5/img_002", "hr[8:-") => assert!((ours - 0.003694).abs() < 1e-6, "{ours}"),
            ("set5/img_002", "hr vs ") => assert_eq!(ours, 0.0),
            _ => {}
        }
    }
    eprintln!("ST-LPIPS: max absolute difference {worst:.1e}");
}

/// The batch form on `[N, 3, H, W]` tensors in [0, 1] gives the per-image scores.
#[test]
fn stlpips_batches_equal_single_pairs() {
    let net = StLpips::load(&models_dir(), Device::Cpu).unwrap();
    let hr = read_image(&data_dir().join("set5/hr/img_002.png")).unwrap();
    let up = imresize_bicubic(&read_image(&data_dir().join("set5/lr_x4/img_002.png")).unwrap(), 4.0);
    let t = |img: &Image8| {
        Tensor::from_slice(&img.data)
            .view([img.height as i64, img.width as i64, 3])
            .permute([2, 0, 1])
            .to_kind(Kind::Float)
            / 255.0
    };
    let (hr, up) = (t(&hr).narrow(1, 100, 64).narrow(2, 80, 96), t(&up).narrow(1, 100, 64).narrow(2, 80, 96));
    let single = net.distance(&up, &hr).unwrap().double_value(&[0]);
    let batch = net.distance(&Tensor::stack(&[&up, &hr], 0), &Tensor::stack(&[&hr, &hr], 0)).unwrap();
    let batch = Vec::<f64>::try_from(batch.to_kind(Kind::Double)).unwrap();
    assert!(single > 0.05 && (batch[0] - single).abs() < 1e-6 && batch[1] == 0.0, "{single} {batch:?}");
    // inputs that do not pair up
    assert!(matches!(net.distance(&up, &hr.narrow(1, 0, 60)), Err(QualityError::Image { .. })));
    assert!(matches!(net.distance(&up.narrow(0, 0, 1), &hr.narrow(0, 0, 1)), Err(QualityError::Image { .. })));
}

/// The image cut to rows and columns [8, len − 8) shifted left by `8 − col` columns
/// (`col` = 7: the picture moved right by one pixel).
fn crop(img: &Image8, row: usize, col: usize) -> Image8 {
    let (h, w) = (img.height - 16, img.width - 16);
    let data = (row..row + h)
        .flat_map(|r| img.data[(r * img.width + col) * 3..(r * img.width + col + w) * 3].iter().copied())
        .collect();
    Image8 { height: h, width: w, channels: 3, data }
}

#[test]
fn measures_describe_themselves() {
    let m = models_dir();
    let all: Vec<Box<dyn QualityMeasure>> = vec![
        Box::new(Niqe::load(&m, 4).unwrap()),
        Box::new(Brisque::load(&m).unwrap()),
        Box::new(StLpips::load(&m, Device::Cpu).unwrap()),
    ];
    let described: Vec<_> = all.iter().map(|q| (q.name(), q.reference(), q.better())).collect();
    assert_eq!(
        described,
        [
            ("niqe", Reference::None, Better::Lower),
            ("brisque", Reference::None, Better::Lower),
            ("stlpips-alex", Reference::Full, Better::Lower)
        ]
    );
    assert!(all[0].convention().contains("crop 4 px") && all[1].convention().contains("Rec.709"));
    // a full-reference measure without its reference, and images of different sizes
    let img = Image8 { height: 64, width: 64, channels: 3, data: vec![128; 64 * 64 * 3] };
    let other = Image8 { height: 64, width: 60, channels: 3, data: vec![128; 64 * 60 * 3] };
    assert!(matches!(all[2].score(&img, None), Err(QualityError::Image { .. })));
    assert!(matches!(all[2].score(&img, Some(&other)), Err(QualityError::Image { .. })));
    // a header that does not match the data
    let broken = Image8 { height: 64, width: 64, channels: 3, data: vec![0; 10] };
    for q in &all {
        assert!(matches!(q.score(&broken, Some(&img)), Err(QualityError::Image { .. })), "{}", q.name());
    }
}

/// Missing files and files with the wrong contents are errors that name the file and the
/// parameter, before any image is scored.
#[test]
fn parameter_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let named = |e: QualityError, file: &str| {
        let text = e.to_string();
        assert!(text.contains(file), "{text}");
        e
    };
    assert!(matches!(named(Niqe::load(d, 4).err().unwrap(), Niqe::FILE), QualityError::Read { .. }));
    assert!(matches!(named(Brisque::load(d).err().unwrap(), Brisque::FILE), QualityError::Read { .. }));
    assert!(matches!(named(StLpips::load(d, Device::Cpu).err().unwrap(), StLpips::FILE), QualityError::Read { .. }));

    // NIQE: a covariance of the wrong shape, then a NaN mean, then float32 tensors
    let shipped = Tensor::read_safetensors(models_dir().join(Niqe::FILE)).unwrap();
    let write = |edit: &dyn Fn(&str, &Tensor) -> Tensor| {
        let tensors: Vec<(String, Tensor)> = shipped.iter().map(|(n, t)| (n.clone(), edit(n, t))).collect();
        Tensor::write_safetensors(&tensors, d.join(Niqe::FILE)).unwrap();
        Niqe::load(d, 4).err().unwrap()
    };
    let err = write(&|n, t| if n == "cov_pris_param" { t.narrow(0, 0, 35) } else { t.shallow_clone() });
    assert!(matches!(&err, QualityError::Parameter { name, .. } if name == "cov_pris_param"), "{err}");
    let err2 = write(&|n, t| {
        if n == "mu_pris_param" {
            t.copy().index_fill_(1, &Tensor::from_slice(&[3i64]), f64::NAN)
        } else {
            t.shallow_clone()
        }
    });
    assert!(
        matches!(&err2, QualityError::Parameter { name, reason, .. } if name == "mu_pris_param" && reason.contains("non-finite")),
        "{err2}"
    );
    let err = write(&|_, t| t.to_kind(Kind::Float));
    assert!(err.to_string().contains("dtype"), "{err}");

    // BRISQUE: 35 minima
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(models_dir().join(Brisque::FILE)).unwrap()).unwrap();
    json["scaling"]["min"].as_array_mut().unwrap().pop();
    std::fs::write(d.join(Brisque::FILE), json.to_string()).unwrap();
    let err = named(Brisque::load(d).err().unwrap(), Brisque::FILE);
    assert!(matches!(&err, QualityError::Parameter { name, .. } if name == "scaling.min"), "{err}");
    std::fs::write(d.join(Brisque::FILE), "{ not json").unwrap();
    assert!(matches!(Brisque::load(d), Err(QualityError::Read { .. })));

    // ST-LPIPS: a missing head and a blur filter that is not the binomial one
    let shipped = Tensor::read_safetensors(models_dir().join(StLpips::FILE)).unwrap();
    let without: Vec<(String, Tensor)> = shipped
        .iter()
        .filter(|(n, _)| n != "lin3.model.1.weight")
        .map(|(n, t)| (n.clone(), t.shallow_clone()))
        .collect();
    Tensor::write_safetensors(&without, d.join(StLpips::FILE)).unwrap();
    let err = named(StLpips::load(d, Device::Cpu).err().unwrap(), StLpips::FILE);
    assert!(
        matches!(&err, QualityError::Parameter { name, reason, .. } if name == "lin3.model.1.weight" && reason == "missing"),
        "{err}"
    );
    let flat: Vec<(String, Tensor)> = shipped
        .iter()
        .map(|(n, t)| (n.clone(), if n.ends_with(".filt") { t.ones_like() / 9.0 } else { t.shallow_clone() }))
        .collect();
    Tensor::write_safetensors(&flat, d.join(StLpips::FILE)).unwrap();
    let err = StLpips::load(d, Device::Cpu).err().unwrap();
    assert!(matches!(&err, QualityError::Parameter { name, .. } if name.ends_with(".filt")), "{err}");
}

/// A tiny image task in a run: two 200×200 dead-leaves images (two 96-px NIQE blocks a side after
/// the 4-px crop), bicubic ×4 and a sampler. Each image's NIQE, BRISQUE and ST-LPIPS in the run's
/// `results.json` equal the metric computed directly on the same output (the bicubic upscale,
/// recomputed here with image-kit from the task's own measurements) and the ground truth row
/// equals the no-reference metrics on the ground-truth images; `images.csv` carries both.
pub(crate) const TINY_RUN: &str = r#"
seed = 3
[timing]
budget_secs = 0
[[image_task]]
name = "dl"
dataset = "dead-leaves"
images = 2
image_size = 200
degradation = { kind = "super-resolution", scale = 4 }
samples_per_image = 4
patches = [4]
[[plugin]]
name = "bicubic"
[[plugin]]
name = "gaussian-prior"
params = { gamma = 1.0, training = "dead-leaves" }
"#;

/// 8-bit values of an image `[C, H, W]` in [0, 1], as the run rounds outputs.
fn to_image8(x: &Tensor) -> Image8 {
    let (c, h, w) = (x.size()[0] as usize, x.size()[1] as usize, x.size()[2] as usize);
    let q = (x.to_kind(Kind::Double).clamp(0.0, 1.0) * 255.0).round().permute([1, 2, 0]).contiguous();
    let values: Vec<f64> = Vec::try_from(q.flatten(0, -1)).unwrap();
    Image8 { height: h, width: w, channels: c, data: values.iter().map(|&v| v as u8).collect() }
}

#[test]
fn a_run_scores_each_image_as_the_metrics_do_directly_and_the_ground_truth_once() {
    use upbench::record::{score_of, RunReport};
    use upbench::task::images::{ImageTask, ImageTaskConfig};
    let report = crate::util::run(TINY_RUN);
    // through results.json's serialisation and back
    let report: RunReport = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    let task = &report.tasks[0];
    let quality = task.image.as_ref().unwrap().quality.as_ref().expect("the task records its metrics");
    let names: Vec<&str> = quality.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["niqe", "brisque", "stlpips-alex"], "skipped: {:?}", quality.skipped);
    assert!(quality.skipped.is_empty() && quality.sample.contains("first sample"));

    // the same task, built as the run builds it
    let suite = upbench::suite::Suite::parse(TINY_RUN, "t.toml", crate::util::workspace(), "t").unwrap();
    let config: &ImageTaskConfig = &suite.file.image_tasks[0];
    let seed = upbench::seed::derive_seed(suite.file.seed, &["image-task", "dl"]);
    let built = ImageTask::build(config, &data_dir(), seed).unwrap();
    let niqe = Niqe::load(&models_dir(), 4).unwrap();
    let brisque = Brisque::load(&models_dir()).unwrap();
    let stlpips = StLpips::load(&models_dir(), Device::Cpu).unwrap();

    let bicubic = crate::util::result(&report, "dl/p4", "bicubic");
    assert_eq!(bicubic.images.len(), 2);
    for (case, score) in built.cases.iter().zip(&bicubic.images) {
        assert_eq!(case.name, score.image);
        let truth = to_image8(&case.truth);
        let up = image_kit::resample::upsample_bicubic(&case.measurement.unsqueeze(0), 4).clamp(0.0, 1.0);
        let output = to_image8(&up.get(0));
        let direct = [
            niqe.score(&output, None).unwrap(),
            brisque.score(&output, None).unwrap(),
            stlpips.score(&output, Some(&truth)).unwrap(),
        ];
        let recorded: Vec<f64> =
            names.iter().map(|m| score_of(&score.quality, m).unwrap_or_else(|| panic!("{m} missing"))).collect();
        eprintln!("{}: recorded {recorded:?}, direct {direct:?}", case.name);
        for k in 0..2 {
            assert!(
                relative(recorded[k], direct[k]) < 1e-9,
                "{} {}: {} vs {}",
                case.name,
                names[k],
                recorded[k],
                direct[k]
            );
        }
        // the run compares cached ground-truth features, the direct path one batch of two
        assert!((recorded[2] - direct[2]).abs() < 1e-5, "{}: ST-LPIPS {} vs {}", case.name, recorded[2], direct[2]);
        // the ground truth row: the no-reference metrics on the ground truth itself
        let gt = quality.ground_truth.iter().find(|g| g.image == case.name).unwrap();
        assert_eq!(score_of(&gt.scores, "niqe"), Some(niqe.score(&truth, None).unwrap()));
        assert_eq!(score_of(&gt.scores, "brisque"), Some(brisque.score(&truth, None).unwrap()));
        assert_eq!(score_of(&gt.scores, "stlpips-alex"), None, "full-reference: not on the ground truth");
    }
    // per configuration: the mean over the images with an interval, for the sampler too
    for r in report.results.iter() {
        let niqe_mean = r.quality.iter().find(|q| q.metric == "niqe").unwrap();
        let values: Vec<f64> = r.images.iter().map(|i| score_of(&i.quality, "niqe").unwrap()).collect();
        assert!((niqe_mean.estimate.point - values.iter().sum::<f64>() / 2.0).abs() < 1e-12);
        assert!(niqe_mean.estimate.ci.lower <= niqe_mean.estimate.point && niqe_mean.estimate.n == 2);
        assert_eq!(niqe_mean.better, Better::Lower);
    }
    let gt_mean = quality.ground_truth_means.iter().find(|q| q.metric == "brisque").unwrap();
    assert_eq!(gt_mean.estimate.n, 2);
    // images.csv: a column per metric, the ground truth's rows
    let csv = upbench::report::Exporter::serialize(&upbench::report::ImagesCsvExporter, &report).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",niqe,brisque,stlpips-alex"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.starts_with("dl/p4,ground truth,ground truth,")).count(), 2, "{csv}");
    // the run's profile counts the metrics stage
    let profile = report.profile.as_ref().unwrap();
    assert!(profile.cell_totals().metrics_secs > 0.0);
}

/// `[metrics] measures = "none"` computes none and says so in the footnote.
#[test]
fn a_suite_can_turn_the_metrics_off_and_the_footnote_says_so() {
    let text = TINY_RUN
        .replace("[[plugin]]\nname = \"gaussian-prior\"\nparams = { gamma = 1.0, training = \"dead-leaves\" }\n", "")
        .replace("[timing]", "[metrics]\nmeasures = \"none\"\n[timing]");
    let report = crate::util::run(&text);
    let quality = report.tasks[0].image.as_ref().unwrap().quality.as_ref().unwrap();
    assert!(quality.metrics.is_empty() && quality.skipped.len() == 3);
    assert!(report.results.iter().all(|r| r.quality.is_empty() && r.images.iter().all(|i| i.quality.is_empty())));
    let footnote = upbench::report::scores::footnote(&report, upbench::report::scores::IntervalStyle::Brackets);
    assert!(footnote.contains("Quality metrics skipped: niqe (not chosen in the suite's [metrics])"), "{footnote}");
}

/// Images too small for NIQE (128 px: one 96-px block after the crop) are named once in the
/// task's record and its table's notes, not as a failure of every configuration on every image.
#[test]
fn a_metric_that_cannot_score_the_set_is_noted_once_per_task() {
    let text = TINY_RUN
        .replace("[[plugin]]\nname = \"gaussian-prior\"\nparams = { gamma = 1.0, training = \"dead-leaves\" }\n", "")
        .replace("image_size = 200", "image_size = 128")
        .replace("[timing]", "[metrics]\nmeasures = [\"niqe\"]\n[timing]");
    let report = crate::util::run(&text);
    let quality = report.tasks[0].image.as_ref().unwrap().quality.as_ref().unwrap();
    assert_eq!(quality.notes.len(), 2, "{:?}", quality.notes);
    assert!(quality.notes[0].contains("niqe"), "{:?}", quality.notes);
    assert!(report.failures.iter().all(|f| !f.message.contains("quality metric")), "{:#?}", report.failures);
    assert!(report.results.iter().all(|r| r.quality.is_empty()));
    let notes = &upbench::report::scores::scores(&report)[0].notes;
    assert!(notes.iter().any(|n| n.starts_with("Not scored (ground truth and outputs): ")), "{notes:?}");
}

/// Small TorchScript metrics, scripted here with the project's Python (once per test binary):
/// `mad.pt`, full reference, the mean absolute difference; `brightness.pt`, no reference, the
/// mean value; `per_channel.pt`, the mean of each channel (not a scalar); `picky.pt`, full
/// reference, which raises on images wider than 40 px (not on the 32-px probe). Each with its
/// SHA-256.
fn scripted_metrics() -> &'static [(&'static str, std::path::PathBuf, String)] {
    use sha2::Digest;
    static FILES: std::sync::OnceLock<Vec<(&'static str, std::path::PathBuf, String)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let script = r#"
import sys, torch
class Mad(torch.nn.Module):
    def forward(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return (image - reference).abs().mean()
class Brightness(torch.nn.Module):
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image.mean()
class PerChannel(torch.nn.Module):
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image.mean(dim=[0, 2, 3])
class Picky(torch.nn.Module):
    def forward(self, image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        if image.size(3) > 40:
            raise ValueError("too wide for this metric")
        return (image - reference).abs().mean()
for name, m in [("mad", Mad()), ("brightness", Brightness()), ("per_channel", PerChannel()), ("picky", Picky())]:
    torch.jit.script(m.eval()).save(f"{sys.argv[1]}/{name}.pt")
"#;
        let python = workspace().join(".venv/bin/python");
        let python = if python.exists() { python } else { "python3".into() };
        // torch.jit.script reads the classes' source, so the script is a file
        std::fs::write(dir.join("make.py"), script).unwrap();
        let out = std::process::Command::new(python).arg(dir.join("make.py")).arg(&dir).output().unwrap();
        assert!(out.status.success(), "scripting the metrics: {}", String::from_utf8_lossy(&out.stderr));
        ["mad", "brightness", "per_channel", "picky"]
            .into_iter()
            .map(|name| {
                let path = dir.join(format!("{name}.pt"));
                let sha = format!("{:x}", sha2::Sha256::digest(std::fs::read(&path).unwrap()));
                (name, path, sha)
            })
            .collect()
    })
}

/// A `[[metric]]` entry for the scripted file `file`, as `name`.
fn metric_entry(name: &str, file: &str, reference: &str, better: &str) -> String {
    let (_, path, sha) = scripted_metrics().iter().find(|(n, _, _)| *n == file).unwrap();
    format!(
        "[[metric]]\nname = \"{name}\"\ntorchscript = \"{}\"\nsha256 = \"{sha}\"\nreference = \"{reference}\"\nbetter = \"{better}\"\n",
        path.display()
    )
}

/// A suite's own TorchScript metrics in a run: each image's recorded score equals the value
/// computed here in Rust from the same 8-bit output (bicubic ×4 of the task's measurement) and
/// ground truth, within 1e-6; the task records name, reference, better and the convention with
/// the file's checksum; the no-reference one scores the ground truth too; the configuration's
/// mean, `results.csv`, `images.csv`, the page and `compare` carry them like the built-ins; one
/// that raises on an image is a metric failure, and the run goes on.
#[test]
fn a_suites_own_torchscript_metrics_score_each_image_as_computed_directly() {
    use upbench::record::score_of;
    use upbench::task::images::ImageTask;
    let text = TINY_RUN
        .replace("[[plugin]]\nname = \"gaussian-prior\"\nparams = { gamma = 1.0, training = \"dead-leaves\" }\n", "")
        .replace("image_size = 200", "image_size = 48")
        .replace("[timing]", "[metrics]\nmeasures = \"none\"\n[timing]")
        + &metric_entry("mad", "mad", "full", "lower")
        + &metric_entry("bright", "brightness", "none", "higher")
        + &metric_entry("picky", "picky", "full", "lower");
    let report = crate::util::run(&text);
    let quality = report.tasks[0].image.as_ref().unwrap().quality.as_ref().unwrap();
    let names: Vec<&str> = quality.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["mad", "bright", "picky"], "skipped: {:?}", quality.skipped);
    let mad = quality.metric("mad").unwrap();
    assert_eq!((mad.reference, mad.better), (Reference::Full, Better::Lower));
    assert_eq!(quality.metric("bright").unwrap().better, Better::Higher);
    assert!(mad.convention.contains("mad.pt") && mad.convention.contains(&scripted_metrics()[0].2), "{mad:?}");
    assert!(mad.convention.contains("forward(image, reference)"), "{}", mad.convention);

    let suite = upbench::suite::Suite::parse(&text, "t.toml", workspace(), "t").unwrap();
    let seed = upbench::seed::derive_seed(suite.file.seed, &["image-task", "dl"]);
    let built = ImageTask::build(&suite.file.image_tasks[0], &data_dir(), seed).unwrap();
    let bicubic = crate::util::result(&report, "dl/p4", "bicubic");
    assert_eq!(bicubic.images.len(), 2);
    // the module's convention, in Rust: 8-bit values / 255 in float32, grey repeated to RGB
    let unit = |image: &Image8| -> Vec<f32> {
        let rgb: Vec<u8> =
            if image.channels == 1 { image.data.iter().flat_map(|&v| [v; 3]).collect() } else { image.data.clone() };
        rgb.iter().map(|&v| f32::from(v) / 255.0).collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for (case, score) in built.cases.iter().zip(&bicubic.images) {
        let truth = unit(&to_image8(&case.truth));
        let up = image_kit::resample::upsample_bicubic(&case.measurement.unsqueeze(0), 4).clamp(0.0, 1.0);
        let output = unit(&to_image8(&up.get(0)));
        let direct_mad = mean(&output.iter().zip(&truth).map(|(o, t)| f64::from((o - t).abs())).collect::<Vec<_>>());
        let direct_bright = mean(&output.iter().map(|&o| f64::from(o)).collect::<Vec<_>>());
        let recorded = (score_of(&score.quality, "mad").unwrap(), score_of(&score.quality, "bright").unwrap());
        eprintln!("{}: mad {} vs {direct_mad}, bright {} vs {direct_bright}", case.name, recorded.0, recorded.1);
        assert!((recorded.0 - direct_mad).abs() < 1e-6, "{}: mad {} vs {direct_mad}", case.name, recorded.0);
        assert!((recorded.1 - direct_bright).abs() < 1e-6, "{}: bright {} vs {direct_bright}", case.name, recorded.1);
        let gt = quality.ground_truth.iter().find(|g| g.image == case.name).unwrap();
        let truth_bright = mean(&truth.iter().map(|&t| f64::from(t)).collect::<Vec<_>>());
        assert!((score_of(&gt.scores, "bright").unwrap() - truth_bright).abs() < 1e-6);
        assert_eq!(score_of(&gt.scores, "mad"), None, "full-reference: not on the ground truth");
    }
    let means: Vec<f64> = bicubic.images.iter().map(|i| score_of(&i.quality, "mad").unwrap()).collect();
    let mad_mean = bicubic.quality.iter().find(|q| q.metric == "mad").unwrap();
    assert!((mad_mean.estimate.point - mean(&means)).abs() < 1e-12 && mad_mean.estimate.n == 2);
    let csv = upbench::report::Exporter::serialize(&upbench::report::ImagesCsvExporter, &report).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",mad,bright,picky"), "{csv}");
    let results_csv = upbench::report::Exporter::serialize(&upbench::report::CsvExporter, &report).unwrap();
    let header = String::from_utf8(results_csv).unwrap().lines().next().unwrap().to_string();
    assert!(header.contains("mad") && header.contains("bright"), "{header}");
    // the page's per-image table, and compare's per-image pairing (0 between identical runs)
    let page = upbench::report::html::render(&report, &[], std::path::Path::new("."));
    assert!(page.contains("mad ↓") && page.contains("bright ↑"), "the page's per-image table");
    let comparison = upbench::report::compare::compare(&report, &report);
    let changes = comparison.matched[0].images.as_ref().unwrap();
    let names: Vec<&str> = changes.quality.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["mad", "bright"]);
    assert!(changes.quality.iter().all(|(_, e)| e.point == 0.0));
    // a metric that fails on an image is a metric failure naming it; the rest of the cell stands
    assert!(!report.failures.is_empty() && bicubic.images.iter().all(|i| score_of(&i.quality, "picky").is_none()));
    for failure in &report.failures {
        assert_eq!(failure.cause, upbench::record::Cause::Metric, "{failure:#?}");
        assert!(failure.message.contains("picky") && failure.message.contains("too wide"), "{}", failure.message);
    }
}

/// `upbench run --check` refuses (exit 2, nothing run) a `[[metric]]` whose file is missing, has
/// another SHA-256, or whose module does not follow the calling convention (a full-reference
/// module declared `reference = "none"`, a module returning a vector), and a built-in chosen
/// explicitly in `[metrics]` whose parameter file is missing; each at its file:line:column.
#[test]
fn run_check_refuses_user_metrics_that_cannot_be_used_and_chosen_metrics_without_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mad, mad_sha) = &scripted_metrics()[0];
    std::fs::copy(mad, dir.path().join("mad.pt")).unwrap();
    let wrong_sha = "0".repeat(64);
    let text = TINY_RUN
        .replace("[[plugin]]\nname = \"gaussian-prior\"\nparams = { gamma = 1.0, training = \"dead-leaves\" }\n", "")
        .replace("[timing]", "[metrics]\nmeasures = [\"niqe\"]\n[timing]")
        + &format!("[[metric]]\nname = \"gone\"\ntorchscript = \"missing.pt\"\nsha256 = \"{mad_sha}\"\nreference = \"full\"\nbetter = \"lower\"\n")
        + &format!("[[metric]]\nname = \"pinned\"\ntorchscript = \"mad.pt\"\nsha256 = \"{wrong_sha}\"\nreference = \"full\"\nbetter = \"lower\"\n")
        + "[[metric]]\nname = \"fine\"\ntorchscript = \"mad.pt\"\n"
        + &format!("sha256 = \"{mad_sha}\"\nreference = \"full\"\nbetter = \"lower\"\n")
        + &format!("[[metric]]\nname = \"arity\"\ntorchscript = \"mad.pt\"\nsha256 = \"{mad_sha}\"\nreference = \"none\"\nbetter = \"lower\"\n")
        + &metric_entry("vector", "per_channel", "none", "lower");
    let suite = dir.path().join("s.toml");
    std::fs::write(&suite, &text).unwrap();
    let at = |needle: &str, nth: usize| {
        let offset = text.match_indices(needle).nth(nth).unwrap().0;
        let line = text[..offset].matches('\n').count() + 1;
        let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{}:{line}:{column}: ", suite.display())
    };
    crate::util::plugins();
    let out = dir.path().join("out");
    let result = assert_cmd::Command::cargo_bin("upbench")
        .unwrap()
        .args(["run", suite.to_str().unwrap(), "--check", "--device", "cpu", "--models-dir", "/nonexistent-models"])
        .arg("--data-dir")
        .arg(data_dir())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&result.stderr).into_owned();
    assert_eq!(result.status.code(), Some(2), "{err}");
    for expected in [
        format!(
            "{}metric 'niqe' is chosen in [metrics] measures, but its parameter file /nonexistent-models/",
            at("[\"niqe\"]", 0)
        ),
        format!("{}metric 'gone': {}: no such file", at("\"missing.pt\"", 0), dir.path().join("missing.pt").display()),
        format!(
            "{}metric 'pinned': {}: SHA-256 is {mad_sha}, but the suite pins {wrong_sha}",
            at(&format!("\"{wrong_sha}\""), 0),
            dir.path().join("mad.pt").display()
        ),
        format!(
            "{}metric 'arity': {}: cannot be used as a metric: called as forward(image)",
            at("\"mad.pt\"", 2),
            dir.path().join("mad.pt").display()
        ),
        format!("{}metric 'vector': ", at(&format!("\"{}\"", scripted_metrics()[2].1.display()), 0)),
        "expected a scalar".into(),
        "5 problems found before any model ran".into(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!err.contains("'fine'"), "{err}");
    assert!(!out.exists(), "nothing is written before the checks pass");
}
