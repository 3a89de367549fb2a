//! Links libtorch (rpath and `libtorch_cuda`, see `upbench_tch::build`) and records provenance
//! for run manifests: the git commit being built and the libtorch version linked.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    upbench_tch::build::link_libtorch();
    for p in ["../.git/HEAD", "../.git/index", "../.git/refs/heads"] {
        println!("cargo:rerun-if-changed={p}");
    }
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(c) if git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()) => {
            format!("{c}-dirty")
        }
        Some(c) => c,
        None => "unknown".into(),
    };
    println!("cargo:rustc-env=UPBENCH_GIT_COMMIT={commit}");

    // torch/lib/../version.py holds `__version__ = '2.11.0+cu130'` and `cuda = '13.0'`.
    let version_py = upbench_tch::build::libtorch_lib_dir()
        .and_then(|lib| std::fs::read_to_string(lib.join("../version.py")).ok())
        .unwrap_or_default();
    let field = |key: &str| {
        version_py
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split('\'').nth(1))
            .unwrap_or("unknown")
            .to_string()
    };
    println!("cargo:rustc-env=UPBENCH_LIBTORCH_VERSION={}", field("__version__"));
    println!("cargo:rustc-env=UPBENCH_LIBTORCH_CUDA={}", field("cuda"));
}
