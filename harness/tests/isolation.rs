//! Runs that survive any plugin: cells in worker processes, the durable run log, `report` on an
//! interrupted run, `--resume`, the run lock, and a closed stdout.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;

use crate::util::{assert_valid_results, plugins, SuiteBuilder};

fn upbench() -> Command {
    plugins();
    Command::cargo_bin("upbench").unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two small denoising tasks (d = 1 and d = 4), so that a configuration can fail on one only.
fn tasks() -> SuiteBuilder {
    SuiteBuilder::new(3)
        .name("isolation")
        .sampling(16, 64)
        .preset("den1", "example-1")
        .task(
            "den4",
            r#"dim = 4
            prior = { kind = "identity", variance = 1.0 }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .plugin("posterior-mean")
}

/// The only run directory under `out`.
fn the_run(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// results.json without what legitimately differs between two runs of one suite: timings (and
/// the time profile), the run's name and when it ran.
fn comparable(run: &Path) -> serde_json::Value {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("profile");
    for field in ["wall_secs", "started_at", "run_id"] {
        json["manifest"].as_object_mut().unwrap().remove(field);
    }
    for result in json["results"].as_array_mut().unwrap() {
        result.as_object_mut().unwrap().remove("timing");
    }
    json
}

#[test]
fn every_hostile_plugin_fails_alone_and_is_named_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("hostile.toml");
    let behaviours = [
        ("segfault", "SIGSEGV"),
        ("abort", "SIGABRT"),
        ("stack-overflow", "overflowed its stack"),
        ("endless-loop", "cell timeout of 8 s"),
        ("huge-allocation", "memory allocation of 214748364800 bytes failed"),
        ("nan", "NaN"),
        ("wrong-shape", "plugin output is malformed: expected shape [16, 1, "),
        ("wrong-device", "samples on Device { kind: Cuda, index: 7 }"),
    ];
    let swept: Vec<String> = ["well", "chatty", "refuse-large"]
        .iter()
        .chain(behaviours.iter().map(|(b, _)| b))
        .map(|b| format!("{b:?}"))
        .collect();
    let hostile = tasks()
        .plugin_with("hostile", &format!("behaviour = [{}]", swept.join(", ")))
        .plugin("panicking")
        .plugin_with("lying", r#"lie = ["none", "double-strides"]"#);
    std::fs::write(&suite, hostile.toml()).unwrap();
    let out = dir.path().join("out");
    let run = upbench()
        .arg("run")
        .arg(&suite)
        .args(["--device", "cpu", "--quiet", "--cell-timeout", "8", "--worker-memory", "8G", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(1), "{stdout}{stderr}");
    let run_dir = the_run(&out);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("results.json")).unwrap()).unwrap();
    assert_valid_results(&json);

    // The well-behaved configurations are complete on both tasks.
    let scored = |label: &str, task: &str| {
        json["results"].as_array().unwrap().iter().any(|r| r["label"] == label && r["task"] == task)
    };
    for label in
        ["posterior-mean", "hostile(behaviour=\"well\")", "hostile(behaviour=\"chatty\")", "lying(lie=\"none\")"]
    {
        assert!(scored(label, "den1") && scored(label, "den4"), "{label} missing:\n{stdout}");
    }
    assert!(scored("hostile(behaviour=\"refuse-large\")", "den1"));
    assert_eq!(json["results"].as_array().unwrap().len(), 9, "{stdout}");

    // Every misbehaviour is one named failure per task, saying what happened.
    let failures = json["failures"].as_array().unwrap();
    let failure = |label: &str, task: &str| {
        failures
            .iter()
            .find(|f| f["task"] == task && f["subject"].as_str().unwrap().starts_with(label))
            .unwrap_or_else(|| panic!("no failure of {label} on {task}:\n{stdout}"))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let report_md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    let page = std::fs::read_to_string(run_dir.join("index.html")).unwrap();
    let table = std::fs::read_to_string(run_dir.join("table.txt")).unwrap();
    for task in ["den1", "den4"] {
        for (behaviour, says) in behaviours {
            let label = format!("hostile(behaviour=\"{behaviour}\")");
            let message = failure(&label, task);
            assert!(message.contains(says), "{label} on {task}: {message}");
            for (name, output) in [("table", &table), ("report.md", &report_md)] {
                assert!(
                    output.contains(&format!("failed: {label}")) || output.contains(&format!("**failed:** {label}")),
                    "{label} not in {name}"
                );
            }
            let escaped = label.replace('"', "&quot;");
            assert!(page.contains(&format!("failed: {escaped}")), "{label} not in the page");
        }
        assert!(failure("panicking", task).contains("fixture panic in restore"));
        assert!(failure("lying(lie=\"double-strides\")", task).contains("owner holds only"));
    }
    assert!(failure("hostile(behaviour=\"refuse-large\")", "den4").contains("refuses d = 4"));
    assert_eq!(failures.len(), 2 * behaviours.len() + 2 + 2 + 1, "{stdout}");
    // Each failure's typed cause, which scripts read instead of the message.
    let cause = |label: &str| {
        let found = failures.iter().find(|f| f["task"] == "den1" && f["subject"].as_str().unwrap().starts_with(label));
        found.unwrap_or_else(|| panic!("no failure of {label}:\n{stdout}"))["cause"].clone()
    };
    let worker = |ending: serde_json::Value| serde_json::json!({"kind": "worker", "ending": ending});
    let killed = |signal: i32| worker(serde_json::json!({"how": "killed", "signal": signal}));
    assert_eq!(cause("hostile(behaviour=\"segfault\")"), killed(libc::SIGSEGV));
    assert_eq!(cause("hostile(behaviour=\"abort\")"), killed(libc::SIGABRT));
    assert_eq!(
        cause("hostile(behaviour=\"endless-loop\")"),
        worker(serde_json::json!({"how": "timed-out", "limit_s": 8}))
    );
    for (label, kind) in [
        ("hostile(behaviour=\"nan\")", "non-finite-output"),
        ("hostile(behaviour=\"wrong-shape\")", "malformed-output"),
        ("panicking", "model-error"),
        ("lying(lie=\"double-strides\")", "malformed-output"),
    ] {
        assert_eq!(cause(label), serde_json::json!({ "kind": kind }), "{label}");
    }
    // A crash quotes the worker's stderr, which the plugin's prints went to: the protocol on
    // stdout survived them.
    assert!(failure("hostile(behaviour=\"stack-overflow\")", "den1").contains("its stderr ("), "{stdout}");
    let logs = std::fs::read_dir(run_dir.join("logs")).unwrap().filter_map(|e| e.ok()).count();
    assert!(logs >= 2 * 5, "a fresh worker after each of the five crashes per task ({logs} logs)");
}

#[test]
fn an_interrupted_run_reports_what_it_has_and_resumes_to_the_uninterrupted_results() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("slow.toml");
    let slow = tasks().plugin_with("hostile", r#"behaviour = ["well", "slow"]"#);
    let suite_text = slow.toml();
    std::fs::write(&suite, &suite_text).unwrap();

    // Killed (SIGKILL: no chance to clean up) once its log holds den1's slow cell.
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("upbench"))
        .arg("run")
        .arg(&suite)
        .args(["--device", "cpu", "--quiet", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    plugins();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let run_dir = loop {
        assert!(std::time::Instant::now() < deadline, "the run never logged its third cell");
        let logged = std::fs::read_dir(&out).ok().and_then(|mut d| d.next()).and_then(|e| e.ok()).map(|e| e.path());
        if let Some(run_dir) = logged {
            let log = std::fs::read_to_string(run_dir.join("run.jsonl")).unwrap_or_default();
            if log.contains("\"index\":2,") {
                break run_dir;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(!run_dir.join("results.json").exists());

    // `report` builds everything from the log and says what is missing.
    let report = upbench().arg("report").arg(&run_dir).output().unwrap();
    assert!(report.status.success(), "{}", text(&report.stderr));
    let table = text(&report.stdout);
    assert!(table.contains("INCOMPLETE RUN:") && table.contains("of 6 cells did not complete"), "{table}");
    assert!(table.contains("hostile(behaviour=\"slow\")"), "{table}");
    assert!(std::fs::read_to_string(run_dir.join("report.md")).unwrap().contains("INCOMPLETE RUN"));

    // A run directory another process writes into is refused.
    let lock = upbench::journal::RunLock::take(&run_dir).unwrap();
    let locked = upbench().args(["run", "--resume"]).arg(&run_dir).output().unwrap();
    assert_eq!(locked.status.code(), Some(2));
    assert!(
        text(&locked.stderr).contains("another upbench process is writing into this run directory"),
        "{}",
        text(&locked.stderr)
    );
    drop(lock);

    // A changed suite is refused with what changed.
    std::fs::write(&suite, slow.seed(4).toml()).unwrap();
    let changed = upbench().args(["run", "--resume"]).arg(&run_dir).output().unwrap();
    assert_eq!(changed.status.code(), Some(2));
    let why = text(&changed.stderr);
    assert!(
        why.contains("changed since the run started") && why.contains("- seed = 3") && why.contains("+ seed = 4"),
        "{why}"
    );
    std::fs::write(&suite, &suite_text).unwrap();

    let resumed = upbench().args(["run", "--resume"]).arg(&run_dir).output().unwrap();
    assert!(resumed.status.success(), "{}{}", text(&resumed.stdout), text(&resumed.stderr));
    assert!(!text(&resumed.stdout).contains("INCOMPLETE"));

    // Bit for bit what one uninterrupted run gives (in-process here: isolation changes nothing).
    let whole = dir.path().join("whole");
    let uninterrupted = upbench()
        .arg("run")
        .arg(&suite)
        .args(["--device", "cpu", "--quiet", "--isolation", "none", "--out"])
        .arg(&whole)
        .output()
        .unwrap();
    assert!(uninterrupted.status.success(), "{}", text(&uninterrupted.stderr));
    let resumed_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("results.json")).unwrap()).unwrap();
    assert_valid_results(&resumed_json);
    let (resumed, whole) = (comparable(&run_dir), comparable(&the_run(&whole)));
    assert_eq!(resumed["results"].as_array().unwrap().len(), 6);
    assert_eq!(resumed, whole);
}

#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let plugin_dir = plugins().display().to_string();
    for args in [vec!["theory", "--example1"], vec!["plugins", &plugin_dir]] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("upbench"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
}
