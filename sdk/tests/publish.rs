//! The SDK is ready to publish on its own: `cargo package` accepts it (metadata, readme,
//! license, a build from the packaged sources) and its documentation builds without a warning.

use std::path::Path;
use std::process::Command;

fn cargo(args: &[&str], envs: &[(&str, &str)]) -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
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
fn cargo_package_accepts_the_sdk() {
    let log = cargo(&["package", "-p", "upbench-sdk", "--allow-dirty"], &[]);
    assert!(!log.contains("warning:"), "cargo package warns:\n{log}");
}

#[test]
fn the_sdk_documents_without_warnings() {
    cargo(&["doc", "-p", "upbench-sdk", "--no-deps"], &[("RUSTDOCFLAGS", "-D warnings")]);
}
