//! The `upbench` binary end to end, on the CPU with the oracle plugins.

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;
use upbench::judge::bound::eta;

use crate::util::{plugins, SuiteBuilder};

fn upbench() -> Command {
    plugins();
    Command::cargo_bin("upbench").unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One exact task, a γ sweep and the posterior mean: three configurations.
fn small_suite() -> SuiteBuilder {
    SuiteBuilder::new(5)
        .name("small")
        .sampling(16, 512)
        .task(
            "ar1-d8",
            r#"dim = 8
            prior = { kind = "ar1", rho = 0.7 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .plugin_with("gamma-optimal", "gamma = [0.5, 1.0]")
        .plugin("posterior-mean")
}

#[test]
fn theory_prints_eta() {
    let out = upbench().args(["theory", "--dim", "64", "2048", "--perception", "0", "2"]).output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains(&format!("{:.6}", eta(2.0, 64))), "{text}");
    assert!(text.contains(&format!("{:.6}", eta(2.0, 2048))), "{text}");
    assert!(text.contains("2.000000"));
}

#[test]
fn run_writes_table_json_csv_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let suite = small_suite().write(dir.path(), "small.toml");
    let out = upbench()
        .args(["run", suite.to_str().unwrap(), "--device", "cpu", "--out"])
        .arg(dir.path().join("reports"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Task ar1-d8"), "{text}");
    assert!(text.contains("gamma-optimal(gamma=0.5)"));
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("reports")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(run.file_name().unwrap().to_str().unwrap().ends_with("-small"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap();
    crate::util::assert_valid_results(&json);
    assert_eq!(json["schema_version"], 4);
    assert_eq!(json["manifest"]["seed"], 5);
    assert_eq!(json["manifest"]["device"], "cpu");
    assert_eq!(json["manifest"]["plugins"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(json["results"].as_array().unwrap().len(), 3);
    let csv = std::fs::read_to_string(run.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.lines().next().unwrap().starts_with("task,plugin,label,rank"));
    assert!(run.join("manifest.json").is_file() && run.join("table.txt").is_file());
}

#[test]
fn run_json_prints_the_results_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let suite = small_suite().write(dir.path(), "small.toml");
    let out = upbench()
        .args(["run", suite.to_str().unwrap(), "--device", "cpu", "--json", "--quiet", "--out"])
        .arg(dir.path().join("reports"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "--quiet printed: {}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::util::assert_valid_results(&printed);
    let run = std::fs::read_dir(dir.path().join("reports")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(out.stdout, std::fs::read(run.join("results.json")).unwrap());
}

#[test]
fn a_bad_suite_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("bad.toml");
    // A misspelt key, which no builder writes: edited into the text.
    let text = small_suite().toml().replace("observations = 16", "observations = 16\nobservatons = 3");
    let typo_line = text.lines().position(|l| l == "observatons = 3").unwrap() + 1;
    std::fs::write(&suite, text).unwrap();
    let out = upbench().args(["run", suite.to_str().unwrap(), "--out"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("bad.toml: TOML parse error at line {typo_line}, column 1")), "{err}");
    assert!(err.contains("unknown field `observatons`"), "{err}");
}

/// [`small_suite`] with every mistake a suite can hold that only a plugin or the data can
/// reveal, at once.
fn suite_with_every_mistake() -> SuiteBuilder {
    small_suite()
        .image_task(
            "set5-x4",
            r#"dataset = "set5"
            degradation = { kind = "super-resolution", scale = 4 }
            patches = [4]"#,
        )
        .plugin("no-such-plugin")
        .plugin_with("gamma-optimal", "gama = 0.5")
        .plugin_with("gamma-optimal", r#"gamma = [0.5, "half"]"#)
        .plugin_with("gamma-optimal", "gamma = [0.5, 2.0]")
        .plugin("dncnn-s25")
        .plugin("espcn-x4")
}

#[test]
fn run_check_lists_every_problem_at_once_with_its_place_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite_with_every_mistake().write(dir.path(), "s.toml");
    let line_of = |needle: &str| {
        let text = std::fs::read_to_string(&suite).unwrap();
        text[..text.find(needle).unwrap()].matches('\n').count() + 1
    };
    let out = dir.path().join("out");
    for check_only in [true, false] {
        let mut command = upbench();
        command.args(["run", suite.to_str().unwrap(), "--device", "cpu", "--out"]).arg(&out);
        command.args(["--data-dir", "/nonexistent-data", "--models-dir", "/nonexistent-models"]);
        if check_only {
            command.arg("--check");
        }
        let result = command.output().unwrap();
        assert_eq!(result.status.code(), Some(2), "--check {check_only}");
        let err = stderr(&result);
        let s = suite.display();
        for expected in [
            "8 problems found before any model ran; nothing was run".to_string(),
            format!("{s}:{}:8: image task 'set5-x4': dataset set5: none of its", line_of("name = \"set5-x4\"")),
            "fetch it with `upbench data set5 --fetch`".into(),
            "N(X|Y) model's training set kodak24: none of its 24 files".into(),
            format!("{s}:{}:1: no plugin named 'no-such-plugin'", line_of("name = \"no-such-plugin\"") - 1),
            format!("{s}:{}:19: plugin 'gamma-optimal' has no parameter 'gama'", line_of("gama")),
            "parameter 'gamma' of plugin 'gamma-optimal' must be of type float, got string `\"half\"`".into(),
            "gamma-optimal(gamma=2)".into(),
            "invalid parameter 'gamma': 2 is outside [0, 1]".into(),
            "solves none of this suite's tasks (it declares: image-denoising)".into(),
            "espcn-x4".into(),
            "/nonexistent-models".into(),
        ] {
            assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
        }
        assert!(!out.exists(), "nothing is written before the checks pass");
    }
    // The suite without its mistakes is ready, and --check still runs nothing.
    small_suite().write(dir.path(), "s.toml");
    let result = upbench().args(["run", suite.to_str().unwrap(), "--check", "--out"]).arg(&out).output().unwrap();
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(stdout(&result).contains("ready — 2 plugin entries (3 configurations) on 1 task; nothing was run"));
    assert!(!out.exists());
}

#[test]
fn a_failing_plugin_exits_non_zero_but_keeps_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let suite = small_suite().plugin("panicking").write(dir.path(), "s.toml");
    let out = upbench()
        .args(["run", suite.to_str().unwrap(), "--device", "cpu", "--quiet", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("failed: panicking"), "{}", stdout(&out));
    let run = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap();
    crate::util::assert_valid_results(&json);
    assert_eq!(json["results"].as_array().unwrap().len(), 3);
    assert_eq!(json["failures"][0]["stage"], "run");
}

#[test]
fn check_plugin_passes_a_conforming_library_and_names_each_breach_of_another() {
    let library = |name: &str| plugins().join(format!("lib{name}.so"));
    let good = upbench()
        .args(["check-plugin", "--param", "gamma=[0.0, 0.5]"])
        .arg(library("upbench_plugin_gamma_optimal"))
        .output()
        .unwrap();
    let table = stdout(&good);
    assert_eq!(good.status.code(), Some(0), "{table}{}", stderr(&good));
    // Three exact kinds × two configurations, γ = 0 judged deterministic.
    assert_eq!(table.matches("5/5").count(), 6, "{table}");
    assert!(table.contains("deterministic") && table.contains("Every check passed"), "{table}");

    let lying = upbench()
        .args(["check-plugin", "--param", r#"lie=["none", "short-buffer"]"#])
        .arg(library("fixture_lying_plugin"))
        .output()
        .unwrap();
    let table = stdout(&lying);
    assert_eq!(lying.status.code(), Some(1), "{table}{}", stderr(&lying));
    // It returns the measurements whatever the seed, although it says it samples.
    assert!(table.contains("FAILED seeding"), "{table}");
    assert!(table.contains("owner holds only"), "{table}");

    let missing = upbench().args(["check-plugin", "no/such/libplugin.so"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no/such/libplugin.so: no such file"), "{}", stderr(&missing));
    let unknown = upbench()
        .args(["check-plugin", "--param", "beta=1"])
        .arg(library("upbench_plugin_gamma_optimal"))
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no parameter 'beta'"), "{}", stderr(&unknown));
}

#[test]
fn plugins_lists_what_loads_and_why_the_rest_does_not() {
    let out = upbench().arg("plugins").arg(plugins()).output().unwrap();
    let text = stdout(&out);
    for name in [
        "posterior-mean",
        "posterior-sampler",
        "gamma-optimal",
        "isotropic-noise",
        "overdispersed-sampler",
        "panicking",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert!(text.contains("gamma: float = 0.5"));
    assert!(text.contains("libfixture_not_a_plugin.so: not an upbench plugin"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn cuda_request_without_a_gpu_is_a_clear_error() {
    if tch::Cuda::is_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = upbench().args(["run", "--device", "cuda", "--out"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--device cuda: libtorch sees no CUDA device"), "{}", stderr(&out));
}

/// Writes a little-endian float64 C-order `.npy` file.
fn write_npy(path: &Path, shape: &[usize], data: &[f64]) {
    let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}", dims.join(", "));
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    for v in data {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
}

#[test]
fn estimate_recovers_the_entropy_power_of_gaussian_errors() {
    // Errors N(0, diag(v)) with v = (0.5, 1, 2, 4): U = (0.5·1·2·4)^(1/4) = 2^(1/2).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("errors.npy");
    gaussian_npy(&path, 9, (32, 2000, 4), &[0.5f64.sqrt(), 1.0, 2f64.sqrt(), 2.0]);
    let out = upbench().args(["estimate", "--errors"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let u = estimate_value(&stdout(&out), "U = N");
    assert!((u / 2f64.sqrt() - 1.0).abs() < 0.01, "U = {u}");
}

/// Writes `[n, K, d]` independent normal values, coordinate j with standard deviation stds[j].
fn gaussian_npy(path: &Path, seed: u64, (n, k, d): (usize, usize, usize), stds: &[f64]) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let data: Vec<f64> = (0..n * k * d)
        .map(|i| {
            let (u1, u2): (f64, f64) = (rng.random(), rng.random());
            (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * stds[i % d]
        })
        .collect();
    write_npy(path, &[n, k, d], &data);
}

fn estimate_value(text: &str, row: &str) -> f64 {
    let line = text.lines().find(|l| l.contains(row)).unwrap_or_else(|| panic!("no row {row} in\n{text}"));
    line.split('┆').nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn estimate_measures_the_divergence_between_two_sample_sets() {
    // D½(N(0, I) ‖ N(0, 4·I)) in d = 2: d·[ln((1 + 4)/2) − ½·ln 4] = 2·ln(5/4).
    let dir = tempfile::tempdir().unwrap();
    let (reference, samples) = (dir.path().join("ref.npy"), dir.path().join("s.npy"));
    gaussian_npy(&reference, 1, (16, 4000, 2), &[1.0, 1.0]);
    gaussian_npy(&samples, 2, (16, 4000, 2), &[2.0, 2.0]);
    let out =
        upbench().args(["estimate", "--samples"]).arg(&samples).arg("--reference").arg(&reference).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let p = estimate_value(&stdout(&out), "P = E_y");
    let exact = 2.0 * 1.25f64.ln();
    assert!((p / exact - 1.0).abs() < 0.05, "P = {p}, exact {exact}");
}

#[test]
fn estimate_with_knn_recovers_entropy_power_and_divergences() {
    let dir = tempfile::tempdir().unwrap();
    let (errors, reference, samples) = (dir.path().join("e.npy"), dir.path().join("r.npy"), dir.path().join("s.npy"));
    gaussian_npy(&errors, 9, (8, 4000, 4), &[0.5f64.sqrt(), 1.0, 2f64.sqrt(), 2.0]);
    gaussian_npy(&reference, 1, (8, 4000, 2), &[1.0, 1.0]);
    gaussian_npy(&samples, 2, (8, 4000, 2), &[2.0, 2.0]);
    let out = upbench()
        .args(["estimate", "--estimator", "knn", "--errors"])
        .arg(&errors)
        .arg("--samples")
        .arg(&samples)
        .arg("--reference")
        .arg(&reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let u = estimate_value(&text, "U = N");
    assert!((u / 2f64.sqrt() - 1.0).abs() < 0.03, "U = {u}\n{text}");
    // Póczos–Schneider at n = 4000, k = 5 overestimates this pair by about 0.06 nats
    // (docs/estimators.md): 15 % of the exact 0.446.
    let p = estimate_value(&text, "P = E_y D_0.5");
    assert!((p / (2.0 * 1.25f64.ln()) - 1.0).abs() < 0.15, "P = {p}\n{text}");
    // KL(N(0, I) ‖ N(0, 4I)) in d = 2: ½·[tr(Σ₂⁻¹Σ₁) − d + ln(|Σ₂|/|Σ₁|)] = ½·[½ − 2 + ln 16]
    let kl = estimate_value(&text, "KL(reference");
    let kl_exact = 0.5 * (0.5 - 2.0 + 16f64.ln());
    assert!((kl - kl_exact).abs() < 0.03, "KL = {kl} vs {kl_exact}\n{text}");
}

#[test]
fn knn_on_quantised_data_asks_for_dequantisation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.npy");
    let data: Vec<f64> = (0..2 * 500).map(|i| ((i * 7919) % 13) as f64).collect();
    write_npy(&path, &[2, 500, 1], &data);
    let out = upbench().args(["estimate", "--estimator", "knn", "--errors"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("q.npy: the entropy is not finite") && stderr(&out).contains("--dequantize"),
        "{}",
        stderr(&out)
    );
    let out = upbench()
        .args(["estimate", "--estimator", "knn", "--dequantize", "1", "--errors"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Uniform on 13 integers, dequantised by one step: uniform on [−0.5, 12.5), h = ln 13,
    // N = 13²/(2πe).
    let u = estimate_value(&stdout(&out), "U = N");
    let exact = 169.0 / (2.0 * std::f64::consts::PI * std::f64::consts::E);
    assert!((u / exact - 1.0).abs() < 0.05, "U = {u} vs {exact}");
}

#[test]
fn study_writes_the_accuracy_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("docs/estimators.md");
    let speed = dir.path().join("knn-speed-cuda.md");
    std::fs::write(
        &speed,
        "# k-NN entropy speed (cuda)\n\nGenerated by a bench.\n\n| n | speed-up |\n|---:|---:|\n| 65536 | 812.5 |\n",
    )
    .unwrap();
    let out = upbench()
        .args(["study", "--quick", "--device", "cpu", "--out"])
        .arg(&out_path)
        .arg("--speed")
        .arg(&speed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let md = std::fs::read_to_string(&out_path).unwrap();
    assert!(md.contains("\n## k-NN entropy speed (cuda)\n"), "speed heading not one level down");
    assert!(md.contains(&format!("From `{}`. Generated by a bench.", speed.display())));
    assert!(md.trim_end().ends_with("| 65536 | 812.5 |"));
    for heading in [
        "### Gaussian N(0, 1)",
        "### Student-t (ν = 5)",
        "### Rényi-½ (Póczos–Schneider), scale",
        "### KL (Wang–Kulkarni–Verdú), shift",
    ] {
        assert!(md.contains(heading), "{heading} missing");
    }
    assert!(md.contains("| 16 | 4000 |"));
}

#[test]
fn study_refuses_a_speed_table_it_cannot_read_before_measuring() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("knn-speed-gpu.md");
    let out = upbench().args(["study", "--quick", "--device", "cpu", "--speed"]).arg(&missing).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("knn-speed-gpu.md"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "the study ran before the bad input was found");
}

#[test]
fn an_unreadable_file_is_named_once_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-run");
    for args in [vec!["run"], vec!["compare"], vec!["report"]] {
        let mut command = upbench();
        command.args(&args).arg(&missing);
        if args == ["compare"] {
            command.arg(&missing);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success());
        let text = stderr(&out);
        assert!(text.contains("no-such-run"), "{args:?}: {text}");
        assert_eq!(text.matches("No such file or directory").count(), 1, "{args:?}: {text}");
    }
}

#[test]
fn theory_shows_both_example1_curves_labelled() {
    let out = upbench().args(["theory", "--dim", "1", "--perception", "1", "--example1"]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("as printed in the paper") && text.contains("Jeffreys"), "{text}");
    assert!(text.contains("1.071797") && text.contains("1.267949"), "{text}");
}

#[test]
fn estimate_rejects_a_wrong_rank_file_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flat.npy");
    write_npy(&path, &[6], &[0.0; 6]);
    let out = upbench().args(["estimate", "--errors"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("flat.npy: expected shape [n, K, d], got [6]"), "{}", stderr(&out));
}

#[test]
fn estimate_says_invalid_where_a_suite_would() {
    let dir = tempfile::tempdir().unwrap();
    // K = 4 ≤ d = 4: a number comes out (Ledoit–Wolf), but it cannot be trusted; K/2 = 2 gives none.
    let few = dir.path().join("few.npy");
    gaussian_npy(&few, 3, (32, 4, 4), &[1.0; 4]);
    let out = upbench().args(["estimate", "--errors"]).arg(&few).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("U = N")).unwrap();
    assert!(line.contains("INVALID: 4 samples per observation for d = 4"), "{text}");
    assert!(line.contains("— (K/2 = 2 too few)"), "{text}");
    // Enough samples: valid, and the K/2 column is a number.
    let enough = dir.path().join("enough.npy");
    gaussian_npy(&enough, 4, (32, 200, 4), &[1.0; 4]);
    let text = stdout(&upbench().args(["estimate", "--errors"]).arg(&enough).output().unwrap());
    let line = text.lines().find(|l| l.contains("U = N")).unwrap();
    assert!(line.contains("valid") && !line.contains("INVALID"), "{text}");
    assert!(line.split('┆').nth(2).unwrap().trim().parse::<f64>().is_ok(), "{text}");
    // Too few observations for an interval.
    let three = dir.path().join("three.npy");
    gaussian_npy(&three, 5, (3, 200, 4), &[1.0; 4]);
    let text = stdout(&upbench().args(["estimate", "--errors"]).arg(&three).output().unwrap());
    assert!(text.contains("INVALID: only 3 observations"), "{text}");
}

#[test]
fn estimate_refuses_empty_input_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.npy");
    write_npy(&empty, &[0, 8, 4], &[]);
    let out = upbench().args(["estimate", "--errors"]).arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("empty.npy: no observations (n = 0 in [n, K, d])"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn plugins_find_their_weights_through_the_task_not_the_environment() {
    // A process whose environment names no models directory: only `--models-dir`, which reaches
    // the plugin in its task spec (SDK 1.3 extension `models_dir`), says where ESPCN's weights
    // are; without it the plugin refuses, naming the file it looked for.
    let library = plugins().join("libupbench_plugin_espcn_x4.so");
    let check = |models: Option<&Path>| {
        let mut command = upbench();
        command.env_remove("UPBENCH_MODELS_DIR").env_remove("UPBENCH_DATA_DIR");
        command.args(["check-plugin", "--task", "image-super-resolution", "--data-dir", "/nonexistent-data"]);
        if let Some(models) = models {
            command.arg("--models-dir").arg(models);
        }
        command.arg(&library).output().unwrap()
    };
    let found = check(Some(&crate::util::models_dir()));
    assert_eq!(found.status.code(), Some(0), "{}{}", stdout(&found), stderr(&found));
    let lost = check(None);
    let said = format!("{}{}", stdout(&lost), stderr(&lost));
    assert_ne!(lost.status.code(), Some(0), "{said}");
    assert!(said.contains("espcn_x4.safetensors") && said.contains("not found"), "{said}");
}
