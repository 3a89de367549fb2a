//! Throughput with criterion inside a run: a model of known cost per call is timed within 10 %
//! with an interval that holds its cost, and a slow model is never called beyond the budget.

use upbench::run::TimingSource;

use crate::util::run;

/// Example 1 (16 observations) and the timed fixture: calls of 0.5 × and 1.5 × `millis` in turn.
fn suite(millis: f64, timing: &str, calls_file: &std::path::Path) -> String {
    format!(
        r#"
name = "timing"
seed = 1
[sampling]
observations = 16
samples_per_observation = 64
[timing]
{timing}
[[task]]
name = "example-1"
preset = "example-1"
[[plugin]]
name = "timed"
params = {{ millis = {millis}, calls_file = "{}" }}
"#,
        calls_file.display()
    )
}

fn calls(file: &std::path::Path) -> usize {
    std::fs::read_to_string(file).map_or(0, |text| text.lines().count())
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
    let mean = t.mean_call_secs.expect("a mean");
    assert!((mean.point - 0.010).abs() < 0.001, "mean call {} s, known 0.010 s", mean.point);
    assert!(mean.ci.contains(0.010), "interval {:?} does not hold the known 0.010 s", mean.ci);
    let rate = t.samples_per_sec.point;
    assert!((rate * 0.010 / 16.0 - 1.0).abs() < 0.1, "{rate} samples/s for 16 restorations of 10 ms");
    // The quality run's call, criterion's warm-up and its measured calls: nothing else.
    let made = calls(&file) as u64;
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
