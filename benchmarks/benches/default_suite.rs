//! Wall time of the default suite (`benchmarks/default.toml`) on the CPU, end to end: tasks,
//! every reference plugin, estimation, bootstrap and throughput timing.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use upbench::pipeline::{run_suite, Silent};
use upbench::setup::RunPlan;
use upbench::suite::Suite;

fn default_suite(c: &mut Criterion) {
    let dir = upbench_benchmarks::plugin_dir();
    let suite = Suite::embedded_default(dir.clone()).expect("default suite");
    let plan = RunPlan {
        suite,
        device: tch::Device::Cpu,
        plugin_dirs: vec![dir],
        log_dir: std::env::temp_dir(),
        run_id: "bench".into(),
        data_dir: std::env::temp_dir(),
        models_dir: None,
        figure_dir: None,
    };
    let mut group = c.benchmark_group("default suite");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(60));
    group.bench_function("cpu", |b| {
        b.iter(|| {
            let report = run_suite(&plan, &mut Silent);
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            report
        })
    });
    group.finish();
}

criterion_group!(benches, default_suite);
criterion_main!(benches);
