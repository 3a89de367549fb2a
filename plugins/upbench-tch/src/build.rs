//! The libtorch link recipe, for build scripts.
//!
//! torch-sys adds no rpath, so a plugin or test binary linked against libtorch fails to start
//! with `libtorch_cpu.so: cannot open shared object file`; and the linker's `--as-needed` drops
//! `libtorch_cuda.so` because nothing references it directly, which silently turns CUDA off
//! (`tch::Cuda::is_available()` is false on a GPU). A crate that links libtorch fixes both with
//! a two-line build script:
//!
//! ```toml
//! [build-dependencies]
//! upbench-tch = { version = "0.1", default-features = false }
//! ```
//! ```no_run
//! // build.rs
//! fn main() {
//!     upbench_tch::build::link_libtorch();
//! }
//! ```

// The example is a whole build script, so its `fn main` is the point.
#![allow(clippy::needless_doctest_main)]

use std::path::PathBuf;

/// libtorch's library directory, as cargo tells the build script of a crate that depends on
/// upbench-tch (`DEP_UPBENCH_TCH_LIBTORCH_LIB`) or on torch-sys (`DEP_TCH_LIBTORCH_LIB`)
/// directly; `None` outside a build script or when neither is a dependency.
pub fn libtorch_lib_dir() -> Option<PathBuf> {
    ["DEP_UPBENCH_TCH_LIBTORCH_LIB", "DEP_TCH_LIBTORCH_LIB"].into_iter().find_map(|var| {
        println!("cargo::rerun-if-env-changed={var}");
        std::env::var_os(var).map(PathBuf::from)
    })
}

/// Adds an rpath to libtorch's directory and links `libtorch_cuda` unconditionally when the
/// libtorch build has it. Call it from the build script of every crate whose binaries link
/// libtorch (plugins, their tests, hosts); without a libtorch directory it does nothing.
pub fn link_libtorch() {
    let Some(lib_dir) = libtorch_lib_dir() else {
        return;
    };
    println!("cargo::rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    if lib_dir.join("libtorch_cuda.so").exists() {
        println!("cargo::rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
