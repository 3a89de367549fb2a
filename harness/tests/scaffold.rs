//! `upbench new-plugin` end to end: every flavour scaffolded into a scratch folder builds, passes
//! its own conformance test, loads in `upbench plugins`, passes `upbench check-plugin` and is
//! scored by `upbench run` on its own suite — with no edits to what was generated.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;

use crate::util::{fixture_scratch, plugins, workspace};

fn upbench() -> Command {
    plugins();
    Command::cargo_bin("upbench").unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs cargo on the scaffold. It shares the workspace's target folder and starts from the
/// workspace's lock file, so that it reuses the compiled libtorch bindings (a fresh resolution
/// may pick other build-dependency versions and compile torch-sys's C++ again: minutes); the
/// commands are otherwise the README's. Debug builds, for the same reason.
fn cargo(crate_dir: &Path, args: &[&str]) {
    let out = Process::new(env!("CARGO"))
        .args(args)
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", workspace().join("target"))
        .output()
        .expect("cannot run cargo");
    assert!(out.status.success(), "cargo {args:?} in {} failed:\n{}", crate_dir.display(), text(&out.stderr));
}

#[test]
fn every_scaffold_flavour_builds_conforms_loads_and_is_scored_without_edits() {
    let scratch = fixture_scratch("scaffolds");
    let flavours = [
        ("exact-rust", "exact", false),
        ("image-tch", "image", true),
        ("image-rust", "image", false),
        ("exact-tch", "exact", true),
    ];
    for (name, kind, tch) in flavours {
        let mut args = vec!["new-plugin", name, "--kind", kind, "--dir", scratch.to_str().unwrap()];
        if tch {
            args.push("--tch");
        }
        let out = upbench().args(&args).output().unwrap();
        assert!(out.status.success(), "new-plugin {args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("cargo build --release"), "{}", text(&out.stdout));
        let crate_dir = scratch.join(name);
        std::fs::copy(workspace().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
        cargo(&crate_dir, &["build", "--quiet"]);
        cargo(&crate_dir, &["test", "--quiet"]);

        let library = workspace().join(format!("target/debug/libupbench_plugin_{}.so", name.replace('-', "_")));
        let listed = upbench().arg("plugins").arg(&library).output().unwrap();
        assert!(listed.status.success() && text(&listed.stdout).contains(name), "{}", text(&listed.stdout));
        let checked = upbench().arg("check-plugin").arg(&library).output().unwrap();
        let report = text(&checked.stdout);
        assert!(checked.status.success() && report.contains("Every check passed"), "{report}{}", text(&checked.stderr));

        let run_dir = scratch.join(format!("{name}-runs"));
        let run = upbench()
            .args(["run", "suite.toml", "--device", "cpu", "--quiet", "--out", run_dir.to_str().unwrap()])
            .current_dir(&crate_dir)
            .output()
            .unwrap();
        let table = text(&run.stdout);
        assert!(run.status.success(), "{name}: run failed:\n{table}{}", text(&run.stderr));
        for label in [format!("{name}(noise=0)"), format!("{name}(noise=0.")] {
            assert!(table.contains(&label), "{name}: no row {label} in\n{table}");
        }
    }
}

#[test]
fn new_plugin_refuses_bad_names_and_existing_folders_before_writing() {
    let scratch = fixture_scratch("scaffold-refusals");
    let bad = upbench().args(["new-plugin", "My_Model", "--dir", scratch.to_str().unwrap()]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("not a plugin name"), "{}", text(&bad.stderr));
    std::fs::create_dir_all(scratch.join("taken")).unwrap();
    let taken = upbench().args(["new-plugin", "taken", "--dir", scratch.to_str().unwrap()]).output().unwrap();
    assert_eq!(taken.status.code(), Some(2));
    assert!(text(&taken.stderr).contains("already exists"), "{}", text(&taken.stderr));
    assert_eq!(std::fs::read_dir(scratch.join("taken")).unwrap().count(), 0);
}
