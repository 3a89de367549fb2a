//! PyTorch without Rust: TorchScript exports of examples/pytorch against the Rust ports that load
//! the same weights (outputs, and the rows of `benchmarks/torchscript.toml`), and samples made by
//! NumPy scored through `upbench export-task` → `upbench judge` against the in-harness plugins.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::OnceLock;

use assert_cmd::Command;
use upbench::record::{ConfigResult, RunReport};
use upbench::report::read_run;
use upbench::run::restore;
use upbench::suite::Suite;
use upbench::task::images::ImageTask;

use crate::util::{
    data_dir, models_dir, plugin_dir, plugins, point_plugins_at_models, result, run_suite_file, workspace, Plugin,
    SuiteBuilder,
};

/// The project's Python (the venv `scripts/with-libtorch` makes, with torch, safetensors, numpy).
fn python() -> PathBuf {
    let venv = workspace().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs a Python script of the checkout with `args`, failing the test with its stderr.
fn python_script(script: &str, args: &[&std::ffi::OsStr]) {
    let out = Process::new(python()).arg(workspace().join(script)).args(args).output().unwrap();
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// examples/pytorch's models exported into target/torchscript, where
/// `benchmarks/torchscript.toml` looks for them (once per test binary).
fn torchscript_modules() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = workspace().join("target/torchscript");
        let args = [models_dir().into_os_string(), out.clone().into_os_string()];
        python_script(
            "examples/pytorch/export.py",
            &["--models-dir".as_ref(), args[0].as_os_str(), "--out".as_ref(), args[1].as_os_str()],
        );
        out
    })
}

fn library(name: &str) -> upbench::plugin::LoadedPlugin {
    let path = plugin_dir().join(format!("libupbench_plugin_{name}.so"));
    upbench::plugin::load(&path, &std::env::temp_dir().join("upbench-test-logs")).unwrap()
}

fn model(
    plugin: &upbench::plugin::LoadedPlugin,
    given: &[(&str, toml::Value)],
    spec: &upbench_sdk::TaskSpec,
) -> upbench_sdk::ModelBox {
    let given: Vec<(String, toml::Value)> = given.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
    let configs = upbench::plugin::resolve_params(&plugin.metadata, &given, Path::new("/"), None).unwrap();
    plugin.new_model(&configs[0].params, spec).unwrap_or_else(|e| panic!("{}: {e}", plugin.name()))
}

#[test]
fn each_exported_model_gives_its_rust_ports_outputs_on_set5() {
    let modules = torchscript_modules();
    plugins();
    point_plugins_at_models();
    let suite = Suite::load(&workspace().join("benchmarks/torchscript.toml")).unwrap();
    let torchscript = library("torchscript");
    for (task_name, port, file) in [
        ("set5-x4", "espcn_x4", "espcn_x4.pt"),
        ("set5-x4", "srvgg_x4", "srvgg_x4.pt"),
        ("set5-s25", "dncnn_s25", "dncnn_s25.pt"),
    ] {
        let config = suite.file.image_tasks.iter().find(|t| t.name == task_name).unwrap();
        let task = ImageTask::build(config, &data_dir(), 1).unwrap();
        let spec = task.spec(upbench_sdk::Device::CPU);
        let mut rust = model(&library(port), &[], &spec);
        let module = modules.join(file).to_string_lossy().into_owned();
        let mut scripted = model(&torchscript, &[("module", module.into())], &spec);
        for case in &task.cases {
            let y = case.measurement.unsqueeze(0).contiguous();
            let a = restore(&mut rust, &y, 1, 3, &case.truth.size()).unwrap();
            let b = restore(&mut scripted, &y, 1, 3, &case.truth.size()).unwrap();
            let max = (&a - &b).abs().max().double_value(&[]);
            assert!(max <= 1e-5, "{file} against {port} on {}: max |difference| {max:e}", case.name);
        }
    }
}

/// Whether two estimates' intervals overlap.
fn overlap(a: &upbench::estimate::Estimate, b: &upbench::estimate::Estimate) -> bool {
    a.ci.lower <= b.ci.upper && b.ci.lower <= a.ci.upper
}

/// `a` and `b` give one table row: PSNR-Y (when both have one) to 0.01 dB, and each one's U and
/// P inside the other's intervals.
fn same_row(a: &ConfigResult, b: &ConfigResult) {
    if let (Some(x), Some(y)) = (&a.psnr_y_db, &b.psnr_y_db) {
        assert!(
            (x.point - y.point).abs() <= 0.01,
            "PSNR-Y {} against {} ({} / {})",
            x.point,
            y.point,
            a.label,
            b.label
        );
    }
    let (ja, jb) = (&a.judgement, &b.judgement);
    for (what, x, y) in [("U", &ja.uncertainty, &jb.uncertainty), ("P", &ja.perception_nats, &jb.perception_nats)] {
        let inside = |p: f64, e: &upbench::estimate::Estimate| e.ci.contains(p) || (p == e.point);
        assert!(inside(x.point, y) && inside(y.point, x), "{what}: {x:?} ({}) against {y:?} ({})", a.label, b.label);
    }
}

#[test]
fn the_torchscript_suite_scores_each_export_as_its_rust_port() {
    torchscript_modules();
    let report = run_suite_file(&workspace().join("benchmarks/torchscript.toml"));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    for (task, port) in [("set5-x4/p4", "espcn-x4"), ("set5-x4/p4", "srvgg-x4"), ("set5-s25/p4", "dncnn-s25")] {
        same_row(result(&report, task, port), result(&report, task, &format!("{port} (TorchScript)")));
    }
    // The stochastic export samples: its U carries its noise on top of ESPCN's errors.
    let noisy = result(&report, "set5-x4/p4", "noisy-espcn-x4 (TorchScript)");
    assert!(noisy.stochastic);
    assert!(
        noisy.judgement.uncertainty.point > 2.0 * result(&report, "set5-x4/p4", "espcn-x4").judgement.uncertainty.point
    );
    // `tasks` kept every export on the task it solves.
    assert!(!report.results.iter().any(|r| r.task.starts_with("set5-s25") && r.label.contains("espcn")));
}

fn upbench() -> Command {
    plugins();
    let mut cmd = Command::cargo_bin("upbench").unwrap();
    cmd.env("UPBENCH_DATA_DIR", data_dir()).env("UPBENCH_MODELS_DIR", models_dir());
    cmd
}

/// Runs `upbench args…`, asserting success, and returns the run directory it wrote under `out`.
fn upbench_run(args: &[&std::ffi::OsStr], out: &Path) -> RunReport {
    let output = upbench().args(args).arg("--out").arg(out).args(["--quiet", "--device", "cpu"]).output().unwrap();
    assert!(output.status.success(), "upbench {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let runs: Vec<PathBuf> = std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "one run directory, complete: {runs:?}");
    read_run(&runs[0]).unwrap()
}

/// Example 1 and a Gaussian task: the reference plugins, and the TorchScript posterior mean
/// computed in float64 (whose samples NumPy reproduces bit for bit).
fn exact_suite() -> SuiteBuilder {
    exact_tasks().plugin_entry(shrinkage_f64().params(r#"module = "shrinkage_half.pt", dtype = "float64""#))
}

/// [`exact_suite`] up to its TorchScript entry.
fn exact_tasks() -> SuiteBuilder {
    SuiteBuilder::new(3)
        .name("external")
        .sampling(32, 512)
        .preset("example-1", "example-1")
        .task(
            "ar1-d4",
            r#"dim = 4
            prior = { kind = "ar1", rho = 0.6 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .plugin("posterior-mean")
        .plugin("posterior-sampler")
}

/// [`exact_suite`]'s TorchScript entry, without its parameters.
fn shrinkage_f64() -> Plugin {
    Plugin::named("torchscript").label("shrinkage-f64").tasks(&["example-1"])
}

/// Exports `task` of `suite` into `dir/export`, restores it with NumPy's `model` and judges
/// the samples; returns the judged report.
fn export_restore_judge(suite: &Path, task: &str, model: &str, dir: &Path) -> RunReport {
    let export = dir.join(format!("export-{task}-{model}"));
    let output = upbench()
        .arg("export-task")
        .arg(suite)
        .args(["--task", task, "--device", "cpu", "--out"])
        .arg(&export)
        .output()
        .unwrap();
    assert!(output.status.success(), "export-task: {}", String::from_utf8_lossy(&output.stderr));
    python_script("examples/external/restore.py", &[export.as_os_str(), "--model".as_ref(), model.as_ref()]);
    let judged = dir.join(format!("judged-{task}-{model}"));
    upbench_run(
        &[
            "judge".as_ref(),
            suite.as_os_str(),
            "--task".as_ref(),
            task.as_ref(),
            "--samples".as_ref(),
            export.as_os_str(),
            "--label".as_ref(),
            model.as_ref(),
        ],
        &judged,
    )
}

#[test]
fn numpy_samples_judged_from_an_export_score_as_the_plugins_do() {
    let modules = torchscript_modules();
    let dir = tempfile::tempdir().unwrap();
    let suite = exact_suite().write(dir.path(), "external.toml");
    std::fs::copy(modules.join("shrinkage_half.pt"), dir.path().join("shrinkage_half.pt")).unwrap();
    let run = upbench_run(&["run".as_ref(), suite.as_os_str()], &dir.path().join("run"));
    assert!(run.failures.is_empty(), "{:?}", run.failures);

    // The very same samples: bit for bit the same judgement.
    let mean = export_restore_judge(&suite, "example-1", "posterior-mean", dir.path());
    assert!(mean.failures.is_empty(), "{:?}", mean.failures);
    let judged = result(&mean, "example-1", "posterior-mean");
    assert_eq!(judged.plugin, upbench::engine::GIVEN_SAMPLES);
    assert!(judged.timing.is_none() && !judged.stochastic);
    let json = |r: &ConfigResult| serde_json::to_value(&r.judgement).unwrap();
    assert_eq!(json(judged), json(result(&run, "example-1", "shrinkage-f64")));
    assert_eq!(mean.tasks[0], run.tasks[0], "the judged task is the run's");
    // Other samples of the same model: the plugin's row.
    same_row(judged, result(&run, "example-1", "posterior-mean"));

    // An exact posterior sampler made by NumPy: P ≈ 0 and U at the bound, as the plugin's.
    for task in ["example-1", "ar1-d4"] {
        let sampled = export_restore_judge(&suite, task, "posterior-sampler", dir.path());
        let (numpy, plugin) = (result(&sampled, task, "posterior-sampler"), result(&run, task, "posterior-sampler"));
        assert!(numpy.stochastic && numpy.judgement.validity.is_valid(), "{:?}", numpy.judgement.validity);
        for r in [numpy, plugin] {
            assert!(r.judgement.perception_nats.ci.contains(0.0), "{}: {:?}", task, r.judgement.perception_nats);
            assert!(r.judgement.bound_ratio.ci.contains(1.0), "{}: {:?}", task, r.judgement.bound_ratio);
        }
        assert!(overlap(&numpy.judgement.uncertainty, &plugin.judgement.uncertainty));
        assert!(overlap(&numpy.judgement.perception_nats, &plugin.judgement.perception_nats));
    }
}

const IMAGE_SUITE: &str = r#"
name = "external-images"
seed = 3
[timing]
budget_secs = 0
[[image_task]]
name = "set5-x4"
dataset = "set5"
degradation = { kind = "super-resolution", scale = 4 }
samples_per_image = 4
patches = [4]
[[plugin]]
name = "bicubic"
"#;

#[test]
fn numpy_bicubic_judged_from_an_export_scores_as_the_bicubic_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("images.toml");
    std::fs::write(&suite, IMAGE_SUITE).unwrap();
    let run = upbench_run(
        &["run".as_ref(), suite.as_os_str(), "--data-dir".as_ref(), data_dir().as_os_str()],
        &dir.path().join("run"),
    );
    let judged = export_restore_judge(&suite, "set5-x4", "bicubic", dir.path());
    assert!(judged.failures.is_empty(), "{:?}", judged.failures);
    same_row(result(&judged, "set5-x4/p4", "bicubic"), result(&run, "set5-x4/p4", "bicubic"));
}

#[test]
fn judge_refuses_samples_that_do_not_answer_the_task_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // The TorchScript entry without its module: export and judge never build it.
    let suite = exact_tasks().plugin_entry(shrinkage_f64()).write(dir.path(), "external.toml");
    let export = dir.path().join("export");
    let output = upbench()
        .arg("export-task")
        .arg(&suite)
        .args(["--task", "ar1-d4", "--device", "cpu", "--out"])
        .arg(&export)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let judge = |samples: &Path| {
        let out = upbench()
            .arg("judge")
            .arg(&suite)
            .args(["--task", "ar1-d4", "--device", "cpu", "--samples"])
            .arg(samples)
            .arg("--export")
            .arg(&export)
            .arg("--out")
            .arg(dir.path().join("judged"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let write = |name: &str, t: &tch::Tensor| {
        let path = dir.path().join(name);
        upbench::npy::write(&path, t, false).unwrap();
        path
    };
    let zeros = |shape: &[i64]| tch::Tensor::zeros(shape, (tch::Kind::Double, tch::Device::Cpu));
    let err = judge(&write("short.npy", &zeros(&[32, 100, 4])));
    assert!(err.contains("short.npy: shape [32, 100, 4], but measurements needs [32, 512, 4]"), "{err}");
    let nan = zeros(&[32, 4]);
    let _ = nan.get(7).get(2).fill_(f64::NAN);
    let err = judge(&write("nan.npy", &nan));
    assert!(err.contains("nan.npy: value [7, 2] is NaN"), "{err}");
    // A manifest whose checksum is not the measurements' any more: other measurements.
    let manifest = export.join("task.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let edited = text.replacen("\"values_sha256\": \"", "\"values_sha256\": \"0", 1);
    std::fs::write(&manifest, edited).unwrap();
    let err = judge(&write("ok.npy", &zeros(&[32, 4])));
    assert!(err.contains("task.json") && err.contains("does not match the measurements"), "{err}");
    // Refused samples leave no run directory behind.
    let judged = dir.path().join("judged");
    assert!(!judged.exists() || std::fs::read_dir(&judged).unwrap().next().is_none(), "a refused judgement left files");
    // No manifest at all.
    std::fs::remove_file(&manifest).unwrap();
    let out = upbench()
        .arg("judge")
        .arg(&suite)
        .args(["--task", "ar1-d4", "--samples"])
        .arg(dir.path().join("ok.npy"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --export DIR"));
}

/// Deterministic models on an exact task: a poor shrinkage x̂ = 0.5·y and the posterior mean both
/// have U = N(X|Y) and P = ∞ (the bound is met by construction), and only MSE/MMSE tells them
/// apart; the tables mark them and say so.
#[test]
fn deterministic_models_are_told_apart_by_mse_over_mmse_and_marked() {
    let modules = torchscript_modules();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(modules.join("shrinkage_half.pt"), dir.path().join("shrinkage_half.pt")).unwrap();
    let suite = SuiteBuilder::new(9)
        .name("deterministic")
        .sampling(32, 512)
        .task(
            "ar1-d4",
            r#"dim = 4
            prior = { kind = "ar1", rho = 0.6 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .plugin("posterior-mean")
        .plugin_entry(
            Plugin::named("torchscript")
                .label("shrinkage 0.5·y")
                .params(r#"module = "shrinkage_half.pt", dtype = "float64""#),
        )
        .write(dir.path(), "deterministic.toml");
    let run = upbench_run(&["run".as_ref(), suite.as_os_str()], &dir.path().join("run"));
    let (mean, shrink) = (result(&run, "ar1-d4", "posterior-mean"), result(&run, "ar1-d4", "shrinkage 0.5·y"));
    for r in [mean, shrink] {
        assert!(!r.stochastic && r.judgement.perception_nats.point == f64::INFINITY);
        assert!(
            (r.judgement.uncertainty_ratio.point - 1.0).abs() < 0.03,
            "{}: {:?}",
            r.label,
            r.judgement.uncertainty_ratio
        );
    }
    let (a, b) = (mean.judgement.mse_over_mmse.unwrap(), shrink.judgement.mse_over_mmse.unwrap());
    assert!(a.ci.contains(1.0), "posterior mean: {a:?}");
    assert!(b.ci.lower > 1.1, "shrinkage: {b:?}");
    let table = std::fs::read_to_string(only_run_dir(&dir.path().join("run")).join("table.txt")).unwrap();
    assert!(table.contains("shrinkage 0.5·y †") && table.contains("MSE/MMSE"), "{table}");
    assert!(table.contains("the bound is met by construction"), "{table}");
}

fn only_run_dir(out: &Path) -> PathBuf {
    std::fs::read_dir(out).unwrap().next().unwrap().unwrap().path()
}
