//! Loader failures: each gives a clear error naming the file, and the run goes on.

use upbench::plugin::{load, LoadError};
use upbench::record::Stage;

use crate::util::{incompatible_plugin, plugins, result, run, Plugin, SuiteBuilder};

#[test]
fn a_non_plugin_library_is_named_and_refused() {
    let path = plugins().join("libfixture_not_a_plugin.so");
    let err = load(&path, &std::env::temp_dir()).unwrap_err();
    assert!(matches!(err, LoadError::NotAPlugin { .. }), "{err}");
    assert!(err.to_string().starts_with(&path.display().to_string()));
    assert!(err.to_string().contains("not an upbench plugin"));
}

#[test]
fn a_missing_file_is_named() {
    let err = load(std::path::Path::new("/nonexistent/libx.so"), &std::env::temp_dir()).unwrap_err();
    assert_eq!(err.to_string(), "/nonexistent/libx.so: no such file");
}

#[test]
fn an_incompatible_sdk_gives_a_one_line_summary_and_a_full_log() {
    let logs = tempfile::tempdir().unwrap();
    let err = load(incompatible_plugin(), logs.path()).unwrap_err();
    let LoadError::IncompatibleLayout { summary, log, .. } = &err else { panic!("unexpected error: {err}") };
    assert_eq!(err.to_string().lines().count(), 1);
    assert!(summary.starts_with("mismatched type: expected `RResult`, found `u64`"), "{summary}");
    let full = std::fs::read_to_string(log).unwrap();
    assert!(full.lines().count() > 100, "the full layout report goes to the log");
}

#[test]
fn failing_plugins_are_recorded_and_the_run_continues() {
    let suite = SuiteBuilder::new(3)
        .preset("ex1", "example-1")
        .plugin("panicking")
        .plugin_with("panicking", "panic_in_constructor = true")
        .plugin_entry(Plugin::at(incompatible_plugin()))
        .plugin_entry(Plugin::at(plugins().join("libfixture_not_a_plugin.so")))
        .plugin_entry(Plugin::at("/nonexistent/libnothing.so"))
        .plugin("no-such-plugin")
        .plugin_with("gamma-optimal", "gamma = 0.5, gama = 1")
        .plugin_with("gamma-optimal", "gamma = 2.0")
        .plugin("posterior-sampler")
        .toml();
    // The line of the misspelt parameter; its value is at column 32 of `params = { … }`.
    let gama_line = suite.lines().position(|l| l.contains("gama = 1")).unwrap() + 1;
    let report = run(&suite);
    // The good plugin still ran.
    assert!(result(&report, "ex1", "posterior-sampler").judgement.validity.is_valid());
    let msgs: Vec<String> =
        report.failures.iter().map(|f| format!("{:?} {} {}", f.stage, f.subject, f.message)).collect();
    let has = |stage: Stage, needle: &str| {
        report.failures.iter().any(|f| f.stage == stage && format!("{} {}", f.subject, f.message).contains(needle))
    };
    assert!(has(Stage::Run, "plugin panicked: fixture panic in restore"), "{msgs:#?}");
    assert!(has(Stage::Configure, "plugin panicked: fixture panic in new_model"), "{msgs:#?}");
    assert!(has(Stage::Load, "mismatched type"), "{msgs:#?}");
    assert!(has(Stage::Load, "not an upbench plugin"), "{msgs:#?}");
    assert!(has(Stage::Load, "/nonexistent/libnothing.so: no such file"), "{msgs:#?}");
    assert!(has(Stage::Load, "no plugin named 'no-such-plugin'"), "{msgs:#?}");
    let gama = format!("test.toml:{gama_line}:32: plugin 'gamma-optimal' has no parameter 'gama'");
    assert!(has(Stage::Configure, &gama), "{msgs:#?}");
    assert!(has(Stage::Configure, "invalid parameter 'gamma': 2 is outside [0, 1]"), "{msgs:#?}");
    // Failures name the plugin's file.
    assert!(report
        .failures
        .iter()
        .filter(|f| f.stage == Stage::Run)
        .all(|f| f.subject.contains("libfixture_panicking_plugin")));
    assert_eq!(report.failures.len(), 8, "{msgs:#?}");
}

#[test]
fn views_that_lie_about_their_layout_are_refused_before_any_read() {
    let suite = SuiteBuilder::new(5)
        .sampling(8, 64)
        .task(
            "den4",
            r#"dim = 4
            prior = { kind = "identity" }
            operator = { kind = "denoising", noise_std = 0.5 }"#,
        )
        .plugin_with(
            "lying",
            r#"lie = ["none", "double-strides", "huge-strides", "negative-strides", "overflowing-strides", "short-buffer", "unknown-dtype"]"#,
        )
        .toml();
    let report = run(&suite);
    // The honest view is read and scored.
    assert!(result(&report, "den4", "lying(lie=\"none\")").judgement.uncertainty.point.is_finite());
    let msgs: Vec<String> = report.failures.iter().map(|f| format!("{} {}", f.subject, f.message)).collect();
    for (lie, needle) in [
        ("double-strides", "reaches 32760 bytes past its data pointer, but its owner holds only 16384"),
        ("huge-strides", "but its owner holds only 16384"),
        ("negative-strides", "negative stride -4"),
        ("overflowing-strides", "overflows the address range"),
        ("short-buffer", "but its owner holds only 8192"),
        ("unknown-dtype", "unknown dtype code 9"),
    ] {
        let label = format!("lying(lie=\"{lie}\")");
        assert!(
            report.failures.iter().any(|f| f.stage == Stage::Run
                && f.subject.contains(&label)
                && f.subject.contains("libfixture_lying_plugin")
                && f.message.starts_with("plugin output is malformed: ")
                && f.message.contains(needle)),
            "{lie}: {msgs:#?}"
        );
        assert!(report.results.iter().all(|r| r.label != label), "{lie} must not be scored");
    }
    assert_eq!(report.failures.len(), 6, "{msgs:#?}");
}
