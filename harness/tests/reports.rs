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
    // tasks: ar1-d4 and leaves/p4 → η, and a plane and a distortion plot each; the image task's
    // Figure 5: U against P, BRISQUE and ST-LPIPS, PSNR-Y, SSIM and MSE against U, and a note that
    // NIQE (48-px images: no 96-px block) has no value to draw; ar1-d4's γ-optimal samplers are
    // stochastic, so it also has a rank-histogram and a coverage plot (the image task has none:
    // bicubic is deterministic)
    assert_eq!(html.matches("<svg class=\"plot\"").count(), 7 + 6);
    assert!(html.contains("ar1-d4: rank of the truth") && html.contains("ar1-d4: coverage of the"), "{html}");
    assert!(!html.contains("leaves/p4: rank of the truth"), "no calibration plot without a sampler");
    for name in ["rank-histogram-ar1-d4", "coverage-ar1-d4"] {
        for ext in ["svg", "png"] {
            assert!(run_dir().join(format!("plots/{name}.{ext}")).is_file(), "{name}.{ext}");
        }
    }
    assert!(html.contains("Not drawn: NIQE: no configuration has a finite value"), "{html}");
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

/// The seed paper's Figure 5 on a tiny image task: `quality`'s two 200-px dead-leaves images
/// (×4, all three quality metrics) with bicubic and a three-point γ sweep of the Gaussian-prior
/// sampler.
fn figure5_run() -> String {
    let sampler = "params = { gamma = 1.0, training";
    assert!(crate::quality::TINY_RUN.contains(sampler));
    crate::quality::TINY_RUN.replace(sampler, "params = { gamma = [1.0, 0.0, 0.5], training")
}

/// A number of results.json (the float rule writes non-finite values as strings).
fn json_number(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::String(s) if s == "inf" || s == "Infinity" => f64::INFINITY,
        serde_json::Value::String(s) => s.parse().unwrap_or(f64::NAN),
        v => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
    }
}

/// Spearman's ρ written out without the library: rank = 1 + #smaller + #ties/2, Pearson of ranks.
fn spearman_by_hand(pairs: &[(f64, f64)]) -> f64 {
    let ranks = |v: Vec<f64>| -> Vec<f64> {
        let rank = |x: f64| {
            1.0 + v.iter().filter(|&&y| y < x).count() as f64 + (v.iter().filter(|&&y| y == x).count() - 1) as f64 / 2.0
        };
        v.iter().map(|&x| rank(x)).collect()
    };
    let (a, b) = (ranks(pairs.iter().map(|p| p.0).collect()), ranks(pairs.iter().map(|p| p.1).collect()));
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let var = |v: &[f64], m: f64| v.iter().map(|x| (x - m).powi(2)).sum::<f64>();
    cov / (var(&a, ma) * var(&b, mb)).sqrt()
}

/// The measure's estimate of one result in results.json, as JSON.
fn json_measure<'a>(
    r: &'a serde_json::Value,
    measure: &upbench::report::plots::figure5::Measure,
) -> &'a serde_json::Value {
    use upbench::report::plots::figure5::Measure;
    match measure {
        Measure::Perception => &r["perception_nats"],
        Measure::Quality(name) => {
            let means = r["quality"].as_array().unwrap();
            &means.iter().find(|q| q["metric"] == name.as_str()).unwrap()["estimate"]
        }
        Measure::PsnrY => &r["psnr_y_db"],
        Measure::Ssim => &r["ssim"],
        Measure::Mse => &r["mse"],
    }
}

/// Every Figure 5 plot of an image task shows what results.json holds: a point per configuration
/// with a finite value (its U and the measure, with both intervals), the sweep in γ order,
/// Spearman's ρ as computed independently here, the ground truth's mean for the no-reference
/// metrics; and the files and the page's section are there.
#[test]
fn figure5_plots_the_values_of_results_json() {
    use upbench::report::plots::figure5::{Measure, MeasurePlot};
    let report = crate::util::run(&figure5_run());
    let dir = tempfile::tempdir().unwrap();
    upbench::report::write_run(&report, dir.path(), upbench::report::Outputs::All).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap()).unwrap();
    let report = read_run(dir.path()).unwrap();
    let task = &report.tasks[0];
    assert_eq!(task.name, "dl/p4");
    let names: Vec<String> = Measure::all(task).iter().map(|m| m.slug()).collect();
    assert_eq!(names, ["p", "niqe", "brisque", "stlpips-alex", "psnr-y", "ssim", "mse"]);
    let rows: Vec<&serde_json::Value> =
        json["results"].as_array().unwrap().iter().filter(|r| r["task"] == "dl/p4").collect();
    assert_eq!(rows.len(), 4);
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    let section = page.split("<section class=\"figure5\" id=\"figure5-dl_p4\">").nth(1).expect("the page's section");
    let section = section.split("</section>").next().unwrap();
    let mut drawn = 0;
    for measure in Measure::all(task) {
        let plot = MeasurePlot::of(&report, "dl/p4", &measure).unwrap_or_else(|s| panic!("{s:?}"));
        let expected: Vec<&&serde_json::Value> =
            rows.iter().filter(|r| json_number(&json_measure(r, &measure)["point"]).is_finite()).collect();
        assert_eq!(plot.points.len(), expected.len(), "{measure:?}");
        assert_eq!(plot.points.len() + plot.left_out.len(), 4, "{measure:?}");
        for (p, r) in plot.points.iter().zip(&expected) {
            assert_eq!(p.label, r["label"].as_str().unwrap());
            let (u, m) = (&r["uncertainty"], json_measure(r, &measure));
            for (field, e) in [(u, &p.uncertainty), (m, &p.measure)] {
                assert_eq!(json_number(&field["point"]), e.point, "{measure:?} {}", p.label);
                assert_eq!(json_number(&field["ci"]["lower"]), e.ci.lower, "{measure:?} {}", p.label);
                assert_eq!(json_number(&field["ci"]["upper"]), e.ci.upper, "{measure:?} {}", p.label);
            }
        }
        let pairs: Vec<(f64, f64)> = plot.points.iter().map(|p| (p.measure.point, p.uncertainty.point)).collect();
        let rho = plot.spearman.expect("at least two configurations");
        assert!((rho.rho - spearman_by_hand(&pairs)).abs() < 1e-12, "{measure:?}: {}", rho.rho);
        if pairs.len() > 3 {
            let (lo, hi) = rho.interval.expect("an interval for n > 3");
            let se = ((1.0 + rho.rho.powi(2) / 2.0) / (pairs.len() as f64 - 3.0)).sqrt();
            assert!((lo - (rho.rho.atanh() - 1.959_964 * se).tanh()).abs() < 1e-5, "{measure:?}");
            assert!((hi - (rho.rho.atanh() + 1.959_964 * se).tanh()).abs() < 1e-5, "{measure:?}");
        } else {
            assert!(rho.interval.is_none());
        }
        // perception measures: the front is what no other point matches or beats in both, best
        // score first; the empty corner is shaded with ≥ 3 points and a tradeoff on the front
        if measure.is_perception() {
            let lower = plot.better == upbench::estimate::quality::Better::Lower;
            let score = |i: usize| if lower { pairs[i].0 } else { -pairs[i].0 };
            let beaten = |i: usize| {
                (0..pairs.len()).any(|j| {
                    j != i && score(j) <= score(i) && pairs[j].1 <= pairs[i].1 && (pairs[j] != pairs[i] || j < i)
                })
            };
            let mut front: Vec<usize> = (0..pairs.len()).filter(|&i| !beaten(i)).collect();
            front.sort_by(|&a, &b| score(a).total_cmp(&score(b)));
            assert_eq!(plot.front, front, "{measure:?}");
            assert_eq!(plot.shows_empty_corner(), pairs.len() >= 3 && front.len() >= 2, "{measure:?}");
        } else {
            assert!(plot.front.is_empty() && !plot.shows_empty_corner());
        }
        // the γ sweep, in γ order
        let sweep: Vec<&str> = plot.sweeps[0].1.iter().map(|&i| plot.points[i].label.as_str()).collect();
        let gamma =
            |l: &str| -> f64 { l.split("gamma=").nth(1).unwrap().split([',', ')']).next().unwrap().parse().unwrap() };
        let gammas: Vec<f64> = sweep.iter().map(|l| gamma(l)).collect();
        assert!(gammas.windows(2).all(|w| w[0] < w[1]), "{measure:?}: {sweep:?}");
        assert_eq!(plot.sweeps[0].0, "gamma");
        let truth = &json["tasks"][0]["image"]["quality"]["ground_truth_means"];
        let truth = truth
            .as_array()
            .unwrap()
            .iter()
            .find(|q| Measure::Quality(q["metric"].as_str().unwrap().into()) == measure);
        assert_eq!(plot.reference, truth.map(|q| json_number(&q["estimate"]["point"])), "{measure:?}");
        let name = upbench::report::plots::figure5_name("dl/p4", &measure);
        assert!(dir.path().join(format!("plots/{name}.png")).is_file() && section.contains(&plot.points[0].label[..5]));
        let svg = std::fs::read_to_string(dir.path().join(format!("plots/{name}.svg"))).unwrap();
        assert!(svg.contains("Spearman ρ = ") && svg.contains(&format!("1 {}", &plot.points[0].label[..5])), "{name}");
        drawn += 1;
    }
    assert_eq!(section.matches("<svg class=\"plot\"").count(), drawn);
}
