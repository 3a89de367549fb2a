//! What a run leaves for people: results that validate against the schema and read back
//! exactly, plots, the self-contained page (checked in headless Chromium), the Markdown export,
//! `upbench report` and `upbench compare`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use upbench::report::plots::IMPOSSIBLE_FILL;
use upbench::report::{read_run, Exporter, JsonExporter};

use crate::util::{assert_valid_results, data_dir, plugins, workspace, SuiteBuilder};

/// Exact tasks with a deterministic model (P = ∞) and a sweep, plus a small image task.
fn report_suite() -> SuiteBuilder {
    SuiteBuilder::new(11)
        .name("report")
        .task(
            "ar1-d4",
            r#"dim = 4
            prior = { kind = "ar1", rho = 0.6 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .image_task(
            "leaves",
            r#"dataset = "dead-leaves"
            images = 2
            image_size = 48
            degradation = { kind = "super-resolution", scale = 4 }
            samples_per_image = 4
            patches = [4]
            grid_images = 2
            inherent = { model = "none" }"#,
        )
        .plugin_with("gamma-optimal", "gamma = [0.25, 1.0]")
        .plugin("posterior-mean")
        .plugin("bicubic")
}

fn upbench() -> Command {
    plugins();
    let mut cmd = Command::cargo_bin("upbench").unwrap();
    cmd.env("UPBENCH_DATA_DIR", data_dir());
    cmd
}

/// One run of [`report_suite`], shared by the tests that only read it; returns its directory.
fn run_dir() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let suite = report_suite().write(&dir, "report.toml");
        let out = upbench()
            .args(["run", suite.to_str().unwrap(), "--device", "cpu", "--quiet", "--out"])
            .arg(dir.join("reports"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_dir(dir.join("reports")).unwrap().next().unwrap().unwrap().path()
    })
}

fn copy_run(to: &Path) -> PathBuf {
    let target = to.join("run");
    let status = std::process::Command::new("cp").arg("-r").arg(run_dir()).arg(&target).status().unwrap();
    assert!(status.success());
    target
}

#[test]
fn results_validate_and_read_back_byte_for_byte() {
    let bytes = std::fs::read(run_dir().join("results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_valid_results(&json);
    // +∞ (the posterior mean's P) survives as text, and reads back as +∞
    let mean = json["results"].as_array().unwrap().iter().find(|r| r["label"] == "posterior-mean").unwrap();
    assert_eq!(mean["perception_nats"]["point"], "Infinity");
    let report = read_run(run_dir()).unwrap();
    let p = report.results.iter().find(|r| r.label == "posterior-mean").unwrap().judgement.perception_nats.point;
    assert_eq!(p, f64::INFINITY);
    assert_same("results.json", &JsonExporter.serialize(&report).unwrap(), &bytes);
}

/// Equal bytes, or a panic naming the first line that differs.
fn assert_same(what: &str, new: &[u8], old: &[u8]) {
    if new == old {
        return;
    }
    let (new, old) = (String::from_utf8_lossy(new), String::from_utf8_lossy(old));
    let line =
        new.lines().zip(old.lines()).position(|(a, b)| a != b).unwrap_or(new.lines().count().min(old.lines().count()));
    panic!(
        "{what} differs at line {}: now {:?}, was {:?}",
        line + 1,
        new.lines().nth(line).unwrap_or("<end>"),
        old.lines().nth(line).unwrap_or("<end>")
    );
}

#[test]
fn the_schema_rejects_what_the_format_forbids() {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir().join("results.json")).unwrap()).unwrap();
    let rejected = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut bad = json.clone();
        edit(&mut bad);
        std::panic::catch_unwind(|| assert_valid_results(&bad)).is_err()
    };
    assert!(rejected(&|v| {
        v["results"][0].as_object_mut().unwrap().remove("uncertainty");
    }));
    assert!(rejected(&|v| v["results"][0]["bound"] = "inf".into()));
    assert!(rejected(&|v| v["results"][0]["undocumented"] = 1.into()));
    assert!(rejected(&|v| v["schema_version"] = 1.into()));
}

#[test]
fn report_rebuilds_every_derived_file_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let run = copy_run(tmp.path());
    let derived = [
        "table.txt",
        "results.csv",
        "manifest.json",
        "report.md",
        "index.html",
        "plots/eta.svg",
        "plots/plane-ar1-d4.png",
    ];
    let before: Vec<Vec<u8>> = derived.iter().map(|f| std::fs::read(run.join(f)).unwrap()).collect();
    for f in ["table.txt", "results.csv", "manifest.json", "report.md", "index.html"] {
        std::fs::remove_file(run.join(f)).unwrap();
    }
    std::fs::remove_dir_all(run.join("plots")).unwrap();
    let out = upbench().args(["report", "--quiet"]).arg(&run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (file, old) in derived.iter().zip(before) {
        assert_same(file, &std::fs::read(run.join(file)).unwrap(), &old);
    }
}

/// Schema version 2 stated N(X|Y) in four fields; each combination reads into its source.
#[test]
fn a_version_2_results_file_reads_into_the_typed_inherent_uncertainty() {
    use upbench::task::InherentUncertainty;
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir().join("results.json")).unwrap()).unwrap();
    let current = read_run(run_dir()).unwrap();
    json["schema_version"] = 2.into();
    let ci = serde_json::json!({ "level": 0.95, "lower": 0.4, "upper": 0.6 });
    // (the exact task's fields, the image task's fields, what each must read as)
    let cases = [
        (
            (serde_json::json!(0.5), serde_json::Value::Null, 0.5),
            (serde_json::json!("NaN"), "unknown (no estimate)"),
            InherentUncertainty::Exact { value: 0.5 },
            InherentUncertainty::Unknown { reason: "unknown (no estimate)".into() },
        ),
        (
            (serde_json::json!(0.5), ci.clone(), 0.7),
            (serde_json::json!(0.01), "estimate: a model"),
            InherentUncertainty::MonteCarlo {
                estimate: upbench::estimate::Estimate {
                    point: 0.5,
                    ci: upbench::estimate::ConfidenceInterval { level: 0.95, lower: 0.4, upper: 0.6 },
                    standard_error: f64::NAN,
                    n: current.tasks[0].observations,
                },
                gaussian: 0.7,
            },
            InherentUncertainty::Estimated { value: 0.01, method: "estimate: a model".into() },
        ),
    ];
    for ((value, interval, gaussian), (image_value, basis), want_exact, want_image) in cases {
        let tasks = json["tasks"].as_array_mut().unwrap();
        for task in tasks.iter_mut() {
            task.as_object_mut().unwrap().remove("inherent");
        }
        tasks[0]["inherent_uncertainty"] = value;
        tasks[0]["inherent_basis"] = "exact (closed form)".into();
        tasks[0]["inherent_uncertainty_ci"] = interval;
        tasks[0]["gaussian_inherent_uncertainty"] = gaussian.into();
        tasks[1]["inherent_uncertainty"] = image_value.clone();
        tasks[1]["inherent_basis"] = basis.into();
        tasks[1]["inherent_uncertainty_ci"] = serde_json::Value::Null;
        tasks[1]["gaussian_inherent_uncertainty"] = image_value;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("results.json"), serde_json::to_vec(&json).unwrap()).unwrap();
        let old = read_run(tmp.path()).unwrap();
        let read = |i: usize| serde_json::to_value(&old.tasks[i].inherent).unwrap();
        assert_eq!(read(0), serde_json::to_value(&want_exact).unwrap());
        assert_eq!(read(1), serde_json::to_value(&want_image).unwrap());
        // (compared as JSON: NaN, a bound ratio without N(X|Y), is not equal to itself)
        assert_eq!(serde_json::to_value(&old.results).unwrap(), serde_json::to_value(&current.results).unwrap());
    }
}

#[test]
fn a_results_file_from_a_newer_upbench_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let run = copy_run(tmp.path());
    let path = run.join("results.json");
    let text = std::fs::read_to_string(&path).unwrap().replacen("\"schema_version\": 4", "\"schema_version\": 99", 1);
    std::fs::write(&path, text).unwrap();
    let out = upbench().arg("report").arg(&run).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("results.json: schema version 99"), "{err}");
}

#[test]
fn the_page_is_self_contained_with_every_plot_and_grid() {
    let html = std::fs::read_to_string(run_dir().join("index.html")).unwrap();
    // tasks: ar1-d4 and leaves/p4 → η, and a plane and a distortion plot each
    assert_eq!(html.matches("<svg class=\"plot\"").count(), 5);
    for external in ["<script", "<link", "src=\"http", "href=\"http", "url("] {
        assert!(!html.contains(external), "the page refers to something outside it: {external}");
    }
    let images = html.matches("<img ").count();
    assert_eq!(images, html.matches("src=\"data:image/png;base64,").count());
    // one grid per configuration on the image task (bicubic; the oracles skip images), per image
    assert_eq!(images, 2);
    let md = std::fs::read_to_string(run_dir().join("report.md")).unwrap();
    assert!(md.contains("| # | model |") && md.contains("posterior-mean"), "{md}");
}

#[test]
fn the_plane_shows_the_impossible_region_and_every_configuration() {
    let svg = std::fs::read_to_string(run_dir().join("plots/plane-ar1-d4.svg")).unwrap();
    // a marker per configuration (3) and per plugin in the legend (2)
    assert_eq!(svg.matches("<circle").count(), 5, "{svg}");
    assert!(svg.contains("P = ∞"), "the deterministic model's column is missing");
    let png = image::open(run_dir().join("plots/plane-ar1-d4.png")).unwrap().to_rgb8();
    let fill = [IMPOSSIBLE_FILL.0, IMPOSSIBLE_FILL.1, IMPOSSIBLE_FILL.2];
    let share = png.pixels().filter(|p| p.0 == fill).count() as f64 / (png.width() * png.height()) as f64;
    assert!(share > 0.05, "impossible region covers {share}");
    // the image task has no N(X|Y): no region drawn
    let png = image::open(run_dir().join("plots/plane-leaves_p4.png")).unwrap().to_rgb8();
    assert!(!png.pixels().any(|p| p.0 == fill));
}

#[test]
fn the_sample_grid_has_six_panels_of_the_image() {
    let report = read_run(run_dir()).unwrap();
    let bicubic = report.results.iter().find(|r| r.label == "bicubic").unwrap();
    assert_eq!(bicubic.sample_grids.len(), 2);
    let grid = image::open(run_dir().join(&bicubic.sample_grids[0])).unwrap();
    // six 48-pixel panels, 6-pixel gaps
    assert_eq!(grid.width(), 6 * 48 + 7 * 6);
}

#[test]
fn the_browser_renders_the_page_without_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let shot = tmp.path().join("page.png");
    let out = std::process::Command::new(workspace().join("scripts/check-report"))
        .arg(run_dir())
        .arg(&shot)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(shot.is_file());
}

#[test]
fn compare_marks_only_changes_beyond_the_intervals() {
    let tmp = tempfile::tempdir().unwrap();
    let after = copy_run(tmp.path());
    let same = upbench().args(["compare", "--fail-on-change"]).arg(run_dir()).arg(&after).output().unwrap();
    assert!(same.status.success(), "{}", String::from_utf8_lossy(&same.stdout));
    assert!(String::from_utf8_lossy(&same.stdout).contains("0 changed beyond"));
    assert!(!String::from_utf8_lossy(&same.stdout).contains("warning:"));

    // An older schema measured some columns differently: the comparison says so.
    let path = after.join("results.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["schema_version"] = 2.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let older = upbench().args(["compare"]).arg(run_dir()).arg(&after).output().unwrap();
    let text = String::from_utf8_lossy(&older.stdout);
    assert!(text.contains("warning: results schema differs: 4 → 2"), "{text}");

    // double the U of one configuration, intervals included
    let path = after.join("results.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let u = &mut json["results"][0]["uncertainty"];
    u["point"] = (u["point"].as_f64().unwrap() * 2.0).into();
    for field in ["lower", "upper"] {
        u["ci"][field] = (u["ci"][field].as_f64().unwrap() * 2.0).into();
    }
    let label = json["results"][0]["label"].as_str().unwrap().to_string();
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();

    let changed = upbench().args(["compare", "--fail-on-change"]).arg(run_dir()).arg(&after).output().unwrap();
    assert_eq!(changed.status.code(), Some(1));
    let text = String::from_utf8_lossy(&changed.stdout);
    assert!(text.contains("1 changed beyond"), "{text}");
    assert!(text.contains("(+100.0 %) ◆"), "{text}");
    let md = upbench().args(["compare", "--markdown"]).arg(run_dir()).arg(&after).output().unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("| task | model | U |") && md.contains(&label), "{md}");
    let json = upbench().args(["compare", "--json"]).arg(run_dir()).arg(&after).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["matched"].as_array().unwrap().iter().filter(|m| m["changes"][0]["beyond_ci"] == true).count(), 1);

    // A configuration missing from the second run (it failed, or the suite lost it) is a change.
    let path = after.join("results.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["results"].as_array_mut().unwrap().remove(0);
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let lost = upbench().args(["compare", "--fail-on-change"]).arg(run_dir()).arg(&after).output().unwrap();
    let text = String::from_utf8_lossy(&lost.stdout);
    assert!(text.contains("1 only in the first"), "{text}");
    assert_eq!(lost.status.code(), Some(1), "{text}");
}

#[test]
fn the_progress_bar_counts_every_planned_run_once() {
    #[derive(Default)]
    struct Count {
        planned: usize,
        finished: Vec<String>,
    }
    impl upbench::pipeline::Progress for Count {
        fn planned(&mut self, runs: usize) {
            self.planned = runs;
        }
        fn finished(&mut self, task: &str, label: &str) {
            self.finished.push(format!("{task}: {label}"));
        }
    }
    // 2 tasks × 2 gamma-optimal; the misconfigured posterior-mean is one problem found by the
    // checks before anything is planned, not a step per task.
    let suite = SuiteBuilder::new(1)
        .name("count")
        .sampling(8, 64)
        .task(
            "a",
            r#"dim = 2
            prior = { kind = "ar1", rho = 0.5 }
            operator = { kind = "denoising", noise_std = 1.0 }"#,
        )
        .task(
            "b",
            r#"dim = 3
            prior = { kind = "ar1", rho = 0.5 }
            operator = { kind = "denoising", noise_std = 1.0 }"#,
        )
        .plugin_with("gamma-optimal", "gamma = [0.5, 1.0]")
        .plugin_with("posterior-mean", "no_such_parameter = 1")
        .toml();
    let mut count = Count::default();
    let report = crate::util::run_with(&suite, &mut count);
    assert_eq!(count.planned, 4);
    assert_eq!(count.finished.len(), 4, "{:?}", count.finished);
    assert_eq!(report.results.len(), 4);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(report.failures[0].message.contains("has no parameter 'no_such_parameter'"), "{:?}", report.failures);
}

/// Each image task result carries its images' scores (results.json, images.csv, the page,
/// compare), and the task's numbers are their means: PSNR-Y and SSIM the means over images, U
/// the geometric mean of the images' U (the mean of ln U), P the mean of their P.
#[test]
fn per_image_scores_add_up_to_the_task_scores() {
    let report = read_run(&run_dir().join("results.json")).unwrap();
    let image_results: Vec<_> = report.results.iter().filter(|r| r.task == "leaves/p4").collect();
    let configurations = image_results.len();
    assert!(configurations >= 1, "the image task has results");
    let mut rows = 0;
    for r in &image_results {
        let names: Vec<&str> = r.images.iter().map(|i| i.image.as_str()).collect();
        assert_eq!(names.len(), 2, "{}: {names:?}", r.label);
        let mean = |f: &dyn Fn(&upbench::record::ImageScore) -> f64| r.images.iter().map(f).sum::<f64>() / 2.0;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(close(mean(&|i| i.psnr_y_db), r.psnr_y_db.as_ref().unwrap().point), "{}", r.label);
        assert!(close(mean(&|i| i.ssim), r.ssim.as_ref().unwrap().point), "{}", r.label);
        assert!(close(mean(&|i| i.uncertainty.unwrap().ln()).exp(), r.judgement.uncertainty.point), "{}", r.label);
        assert!(close(mean(&|i| i.perception_nats.unwrap()), r.judgement.perception_nats.point), "{}", r.label);
        rows += r.images.len();
    }
    assert!(report.results.iter().filter(|r| r.task == "ar1-d4").all(|r| r.images.is_empty()));

    let csv = std::fs::read_to_string(run_dir().join("images.csv")).unwrap();
    // then a column per quality metric, and the ground truth's rows (docs/metrics.md)
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("task,plugin,label,image,psnr_y_db,ssim,uncertainty,perception_nats"), "{header}");
    let quality = report.tasks.iter().find(|t| t.name == "leaves/p4").and_then(|t| t.image.as_ref()?.quality.as_ref());
    let metrics = quality.map_or(0, |q| q.metrics.len());
    assert_eq!(header.split(',').count(), 8 + metrics, "{header}");
    let truth_rows = quality.filter(|q| !q.metrics.is_empty()).map_or(0, |q| q.ground_truth.len());
    assert_eq!(csv.lines().count(), 1 + rows + truth_rows, "{csv}");
    let page = std::fs::read_to_string(run_dir().join("index.html")).unwrap();
    let section = format!("Per image: 2 images × {configurations} configurations");
    assert!(page.contains(&section), "no per-image section on the page");

    // compare pairs the images: identical runs move nothing; one image's PSNR-Y up by 1 dB
    // in every configuration shows as that image's change, a mean of +0.5 dB
    let tmp = tempfile::tempdir().unwrap();
    let after = copy_run(tmp.path());
    let same = upbench().arg("compare").arg(run_dir()).arg(&after).output().unwrap();
    let text = String::from_utf8_lossy(&same.stdout);
    assert_eq!(text.matches("per image: leaves/p4").count(), configurations, "{text}");
    // the quality metrics (when the run computed them) are paired the same way: 0 for each
    let line = text.lines().find(|l| l.starts_with("per image: leaves/p4")).unwrap();
    assert!(line.contains("ΔPSNR-Y 0 dB, ΔSSIM 0") && line.ends_with(" over 2 images"), "{text}");
    let scored = image_results[0].images.iter().flat_map(|i| i.quality.iter().map(|q| q.metric.as_str()));
    for metric in scored {
        assert!(line.contains(&format!("Δ{metric} 0")), "{line}");
    }
    let path = after.join("results.json");
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut first_image = String::new();
    for result in json["results"].as_array_mut().unwrap().iter_mut().filter(|r| r["task"] == "leaves/p4") {
        let image = &mut result["images"][0];
        first_image = image["image"].as_str().unwrap().to_string();
        image["psnr_y_db"] = (image["psnr_y_db"].as_f64().unwrap() + 1.0).into();
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let moved = upbench().args(["compare", "--json"]).arg(run_dir()).arg(&after).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&moved.stdout).unwrap();
    for m in json["matched"].as_array().unwrap().iter().filter(|m| m["task"] == "leaves/p4") {
        let images = &m["images"];
        assert!((images["psnr_y_db"]["point"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{images}");
        assert_eq!(images["largest"][0][0], first_image.as_str(), "{images}");
        assert!((images["largest"][0][1].as_f64().unwrap() - 1.0).abs() < 1e-9, "{images}");
    }
}
