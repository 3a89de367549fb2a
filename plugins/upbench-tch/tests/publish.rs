//! The tch kit is ready to publish beside the SDK: `cargo package` accepts both together
//! (metadata, readme, license, and a build of the packaged sources, with the packaged SDK standing
//! in for crates.io's), and its documentation builds without a warning.

use std::path::Path;
use std::process::Command;

fn cargo(args: &[&str], envs: &[(&str, &str)]) -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new(env!("CARGO"))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace)
        .output()
        .expect("cannot run cargo");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "cargo {args:?} failed:\n{log}");
    log
}

#[test]
fn cargo_package_accepts_the_kit_with_the_sdk() {
    let log = cargo(&["package", "-p", "upbench-sdk", "-p", "upbench-tch", "--allow-dirty"], &[]);
    assert!(!log.contains("warning:"), "cargo package warns:\n{log}");
}

#[test]
fn the_kit_documents_without_warnings() {
    cargo(&["doc", "-p", "upbench-tch", "--no-deps"], &[("RUSTDOCFLAGS", "-D warnings")]);
}
