//! Throughput with criterion inside a run: a model of known cost per call is timed within 10 %
//! with an interval that holds its cost, and a slow model is never called beyond the budget.
//! "Known" is what the model measured of each of its calls: a spin of 10 ms lasts longer on a
//! loaded machine (the tests run in parallel on two cores), the calls' own clock says how much.

use upbench::run::TimingSource;

use crate::util::{run, SuiteBuilder};

/// Example 1 (16 observations) and the timed fixture: calls of 0.5 × and 1.5 × `millis` in turn.
fn suite(millis: f64, timing: &str, calls_file: &std::path::Path) -> String {
    suite_with_setup(millis, 0.0, timing, calls_file)
}

/// The same, its constructor spinning for `setup_millis`.
fn suite_with_setup(millis: f64, setup_millis: f64, timing: &str, calls_file: &std::path::Path) -> String {
    let params = format!("millis = {millis}, setup_millis = {setup_millis}, calls_file = \"{}\"", calls_file.display());
    SuiteBuilder::new(1)
        .name("timing")
        .sampling(16, 64)
        .timing(timing)
        .preset("example-1", "example-1")
        .plugin_with("timed", &params)
        .toml()
}

fn calls(file: &std::path::Path) -> usize {
    call_secs(file).len()
}

/// Each call's length as the model measured it, in call order.
fn call_secs(file: &std::path::Path) -> Vec<f64> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines().map(|line| line.trim_start_matches("call ").parse().expect("call <seconds>")).collect()
}

#[test]
fn a_model_of_known_cost_is_timed_within_ten_percent_by_criterion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calls");
    // One call per criterion sample (measurement time ≪ a call): its samples alternate between
    // 5 and 15 ms, whose mean is the known 10 ms.
    let timing = "budget_secs = 5\nwarm_up_secs = 0.05\nmeasurement_secs = 0.02\nsample_size = 10";
    let report = run(&suite(10.0, timing, &file));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let timed = &report.results[0];
    let t = timed.timing.as_ref().expect("timed");
    let TimingSource::Criterion { samples, calls: timed_calls, .. } = t.source else { panic!("{:?}", t.source) };
    assert_eq!(samples, 10);
    // criterion's measured calls are the last ones; their mean by the model's own clock
    let own = call_secs(&file);
    let measured = &own[own.len() - timed_calls as usize..];
    let known = measured.iter().sum::<f64>() / measured.len() as f64;
    assert!(known >= 0.010, "the spins alone last 10 ms on average, the calls {known} s");
    let mean = t.mean_call_secs.expect("a mean");
    assert!((mean.point / known - 1.0).abs() < 0.1, "mean call {} s, known {known} s", mean.point);
    // 1 % for the harness's side of each call (the tensors in and out)
    assert!(mean.ci.lower <= known * 1.01 && known <= mean.ci.upper * 1.01, "interval {:?} misses {known} s", mean.ci);
    let rate = t.samples_per_sec.point;
    assert!((rate * known / 16.0 - 1.0).abs() < 0.1, "{rate} samples/s for 16 restorations of {known} s");
    // The quality run's call, criterion's warm-up and its measured calls: nothing else.
    let made = own.len() as u64;
    assert!(made > timed_calls && made <= 1 + timed_calls + 10, "{made} calls");
}

#[test]
fn a_slow_model_is_called_no_more_than_the_budget_allows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calls");
    // 150 ms then 450 ms calls: criterion's 10 samples and warm-up (≥ 1.5 s) do not fit 1 s.
    let report = run(&suite(300.0, "budget_secs = 1", &file));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let timed = &report.results[0];
    let t = timed.timing.as_ref().expect("timed from the quality run");
    assert_eq!(t.source, TimingSource::QualityRun { calls: 1 });
    assert!((t.mean_call_secs.unwrap().point - 0.15).abs() < 0.05, "{:?}", t.mean_call_secs);
    assert_eq!(calls(&file), 1, "only the call that made the measured samples");
}

/// The profile's split: the plugin's constructor and its `restore` calls in their own stages,
/// each at least the fixture's own spins and little more, and neither counted as the harness's.
#[test]
fn the_profile_counts_the_plugins_constructor_and_restore_apart_from_the_harness() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("calls");
    let report = run(&suite_with_setup(200.0, 300.0, "budget_secs = 0", &file));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let profile = report.profile.as_ref().expect("a profile");
    assert_eq!(profile.cells.len(), 1);
    let stages = &profile.cells[0].stages;
    let restore_calls: f64 = call_secs(&file).iter().sum();
    assert!(restore_calls >= 0.1, "{restore_calls} s of calls");
    // the harness's side of a call (tensors in and out of the plugin) is small next to 0.1 s
    assert!(
        stages.restore_secs >= restore_calls && stages.restore_secs < restore_calls + 0.1,
        "restore {} s, the calls' own {restore_calls} s",
        stages.restore_secs
    );
    assert!((0.3..0.5).contains(&stages.construct_secs), "constructor {} s for a 0.3 s spin", stages.construct_secs);
    let harness = stages.harness_secs();
    assert!(
        (harness - (stages.total() - stages.restore_secs - stages.construct_secs - stages.timing_secs)).abs() < 1e-12
            && harness < stages.total() - 0.4,
        "{stages:?}"
    );
    let note = upbench::report::scores::time_note(&report).expect("a time note");
    assert!(note.contains("their constructors"), "{note}");
}
