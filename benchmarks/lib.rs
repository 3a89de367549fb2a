//! Shared set-up of the criterion benches in `benches/`: build the release plugins and find them.
//!
//! Speed targets live here, never in timed unit tests:
//! - `plugin_call`: one `restore` through the SDK boundary (a loaded cdylib) against the same
//!   computation called in process; target ≤ 1 µs overhead per call on the CPU.
//! - `default_suite`: wall time of `benchmarks/default.toml`.
//!
//! Run with `scripts/with-libtorch cargo bench -p upbench-benchmarks`.

use std::path::PathBuf;
use std::process::Command;

/// Builds the reference plugins in this profile and returns their directory.
pub fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("no current executable");
    let dir =
        exe.parent().and_then(|d| d.parent()).expect("bench binaries live in target/<profile>/deps").to_path_buf();
    let mut args = vec!["build", "--quiet"];
    if dir.file_name().is_some_and(|n| n == "release") {
        args.push("--release");
    }
    for p in ["posterior-mean", "posterior-sampler", "gamma-optimal", "isotropic-noise", "overdispersed-sampler"] {
        args.extend(["-p", p]);
    }
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let status = Command::new(env!("CARGO")).args(&args).current_dir(workspace).status().expect("cannot run cargo");
    assert!(status.success(), "building the plugins failed");
    dir
}
