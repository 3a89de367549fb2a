//! Links libtorch: rpath and `libtorch_cuda` (see `upbench_tch::build`).

fn main() {
    upbench_tch::build::link_libtorch();
}
