//! One `restore` call through the SDK boundary against the same computation in process.
//!
//! Both sides run `posterior-mean` on one measurement of a 1-D task, so the difference between
//! the two timings is the boundary's cost: the vtable call, `catch_unwind`, the tensor view and
//! its owner. Target: at most 1 µs per call on the CPU.

use criterion::{criterion_group, criterion_main, Criterion};
use tch::{Device, Kind, Tensor};
use upbench::run::view_of;
use upbench::task::{ExactTask, TaskConfig};
use upbench_plugin_posterior_mean::PosteriorMean;
use upbench_sdk::{Params, Plugin, RestoreModel};

fn boundary(c: &mut Criterion) {
    let dir = upbench_benchmarks::plugin_dir();
    let plugin = upbench::plugin::load(&dir.join("libupbench_plugin_posterior_mean.so"), &std::env::temp_dir())
        .expect("load posterior-mean");
    let cfg: TaskConfig = toml::from_str("name = 'ex1'\npreset = 'example-1'").expect("task");
    let task = ExactTask::build(&cfg, 0).expect("task");
    let spec = task.spec(upbench_sdk::Device::CPU);
    let y = Tensor::from_slice(&[0.3f64]).reshape([1, 1]).to_kind(Kind::Double).to_device(Device::Cpu);
    let view = view_of(&y).expect("view");

    let mut through_sdk = plugin.new_model(&Params::default(), &spec).expect("model");
    let mut in_process = PosteriorMean::new_model(&Params::default(), &spec).expect("model");

    let mut group = c.benchmark_group("restore, d = 1, one measurement");
    group.bench_function("through the SDK (loaded cdylib)", |b| {
        b.iter(|| through_sdk.restore(&view, 1, 0).into_result().expect("restore"))
    });
    group.bench_function("in process (same crate as rlib)", |b| {
        b.iter(|| in_process.restore(&view, 1, 0).expect("restore"))
    });
    group.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);
