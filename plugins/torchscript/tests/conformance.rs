//! The SDK's conformance checks (output shape, layout, device, finite values, seeding, batch
//! independence) on the TorchScript modules `examples/pytorch/export.py` writes, deterministic and
//! stochastic, on exact and image tasks; and the error every wrong module gets, naming its file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use upbench_plugin_torchscript::TorchScript;
use upbench_sdk::{testing, ParamValue, Plugin, TaskKind, TaskSpec};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The exported example modules (exported once per test binary, with the project's venv Python).
fn exported() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("torchscript-examples");
        let venv = workspace().join(".venv/bin/python");
        let python = if venv.exists() { venv } else { PathBuf::from("python3") };
        let models = std::env::var_os("UPBENCH_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("../shared/models"));
        let status = std::process::Command::new(&python)
            .arg(workspace().join("examples/pytorch/export.py"))
            .arg("--models-dir")
            .arg(&models)
            .arg("--out")
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
        assert!(status.success(), "examples/pytorch/export.py failed");
        out
    })
}

fn module(name: &str) -> ParamValue {
    ParamValue::Text(exported().join(name).to_string_lossy().as_ref().into())
}

fn check(name: &str, stochastic: bool, task: &TaskSpec) -> testing::ConformanceReport {
    let params =
        testing::params_with::<TorchScript>(&[("module", module(name)), ("stochastic", ParamValue::Bool(stochastic))]);
    testing::check_plugin(testing::module::<TorchScript>(), &params, task)
}

#[test]
fn exported_models_conform_on_exact_and_image_tasks() {
    for (name, stochastic, kind) in [
        ("shrinkage_half.pt", false, TaskKind::Denoising),
        ("shrinkage_half.pt", false, TaskKind::Inpainting),
        ("example1_posterior_sampler.pt", true, TaskKind::Denoising),
        ("espcn_x4.pt", false, TaskKind::ImageSuperResolution),
        ("noisy_espcn_x4.pt", true, TaskKind::ImageSuperResolution),
        ("dncnn_s25.pt", false, TaskKind::ImageDenoising),
    ] {
        let report = check(name, stochastic, &testing::standard_task(kind));
        report.assert_passed();
        assert_eq!(report.stochastic, Some(stochastic), "{name}: {report}");
    }
}

/// The error of building `name` with `stochastic` on `task`.
fn refusal(name: &str, stochastic: bool, task: &TaskSpec) -> String {
    let params =
        testing::params_with::<TorchScript>(&[("module", module(name)), ("stochastic", ParamValue::Bool(stochastic))]);
    match TorchScript::new_model(&params, task) {
        Ok(_) => panic!("{name} (stochastic = {stochastic}) was accepted on {}", task.kind),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_wrong_module_is_refused_naming_its_file_and_what_was_expected() {
    let exact = testing::standard_task(TaskKind::Denoising);
    // A sampler called as a deterministic model: the signature.
    let err = refusal("example1_posterior_sampler.pt", false, &exact);
    assert!(err.contains("example1_posterior_sampler.pt") && err.contains("forward(y) -> x̂"), "{err}");
    assert!(err.contains("n_samples"), "the module's own complaint is quoted: {err}");
    // A deterministic model called as a sampler: its draws do not differ.
    let err = refusal("shrinkage_half.pt", true, &exact);
    assert!(err.contains("shrinkage_half.pt") && err.contains("identical"), "{err}");
    // The wrong output shape: a 4-dimensional answer where d = 8.
    let mut wider = exact.clone();
    wider.signal_dim = 8;
    let err = refusal("shrinkage_half.pt", false, &wider);
    assert!(err.contains("returned shape [2, 4], expected [2, 8]"), "{err}");
    // An ×4 network on a ×1 task.
    let err = refusal("espcn_x4.pt", false, &testing::standard_task(TaskKind::ImageDenoising));
    assert!(err.contains("espcn_x4.pt") && err.contains("expected [2, 3, 12, 10]"), "{err}");
    // No file, and no module at all.
    let err = refusal("nothing-here.pt", false, &exact);
    assert!(err.contains("nothing-here.pt: no such file"), "{err}");
    let params = testing::params_with::<TorchScript>(&[]);
    let err = TorchScript::new_model(&params, &exact).err().expect("no module").to_string();
    assert!(err.contains("'module'") && err.contains("torch.jit.script"), "{err}");
}

#[test]
fn a_module_that_is_not_torchscript_is_named() {
    let junk = Path::new(env!("CARGO_TARGET_TMPDIR")).join("not-torchscript.pt");
    std::fs::write(&junk, b"not a zip archive").unwrap();
    let params =
        testing::params_with::<TorchScript>(&[("module", ParamValue::Text(junk.to_string_lossy().as_ref().into()))]);
    let err = TorchScript::new_model(&params, &testing::standard_task(TaskKind::Denoising)).err().expect("junk");
    let err = err.to_string();
    assert!(err.contains("not-torchscript.pt: cannot be loaded as TorchScript"), "{err}");
}
