//! The ABI promise of SDK 1.x, tested: a plugin built against the frozen SDK 1.0.0 sources loads
//! and scores; plugins built against a generated next-minor SDK load when it only appends and are
//! refused, naming both versions, when it changes a layout or the major version.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use upbench::plugin::{harness_sdk_version, load, LoadError};
use upbench_sdk::{testing, ParamValue, TaskKind};

use crate::util::{build_fixture, fixture_scratch, result, run, workspace, Plugin, SuiteBuilder};

const FROZEN_SDK: &str = "harness/tests/fixtures/sdk-1.0.0";
const FROZEN_PLUGIN: &str = "harness/tests/fixtures/sdk-1.0.0-plugin";
const FROZEN_LIB: &str = "fixture_sdk_1_0_0_plugin";

/// SHA-256 over the frozen SDK's files (relative path and bytes, in path order). The copy is never
/// edited: an intended break is a new major version with a frozen copy of its own.
const FROZEN_SDK_SHA256: &str = "6d32f54c10f26405003c6b9b6717c6d0f4d7e3676bbbbf7d60057737aa0244db";

fn frozen_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_fixture(&workspace().join(FROZEN_PLUGIN), FROZEN_LIB))
}

fn tree_sha256(root: &Path) -> String {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.strip_prefix(root).unwrap().to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(&file).unwrap());
        hash.update([0]);
    }
    format!("{:x}", hash.finalize())
}

#[test]
fn the_frozen_sdk_1_0_0_copy_is_unedited() {
    assert_eq!(tree_sha256(&workspace().join(FROZEN_SDK)), FROZEN_SDK_SHA256, "{FROZEN_SDK} was edited");
}

#[test]
fn a_plugin_built_against_sdk_1_0_0_loads_and_is_scored() {
    let plugin = load(frozen_plugin(), &std::env::temp_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plugin.sdk_version, "1.0.0");
    let suite = SuiteBuilder::new(5)
        .sampling(32, 256)
        .preset("ex1", "example-1")
        .plugin_entry(Plugin::at(frozen_plugin()).params("gamma = [0.0, 0.25, 1.0]"));
    let report = run(&suite.toml());
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    for (gamma, stochastic) in [("0", false), ("0.25", true), ("1", true)] {
        let r = result(&report, "ex1", &format!("frozen-sdk-1.0.0(gamma={gamma})"));
        let j = &r.judgement;
        assert!(j.validity.is_valid(), "γ = {gamma}: {:?}", j.validity);
        // The model says after construction whether it samples: γ = 0 is the posterior mean.
        assert_eq!(r.stochastic, stochastic, "γ = {gamma}");
        // The γ family's uncertainty is (1 + γ)·N(X|Y), exactly.
        let expected = 1.0 + gamma.parse::<f64>().unwrap();
        let u = &j.uncertainty_ratio;
        assert!(u.ci.contains(expected), "γ = {gamma}: U/N {} {:?}, exact {expected}", u.point, u.ci);
    }
}

/// The next minor version after the harness's own SDK, e.g. 1.1.0 for 1.0.x.
fn next_minor() -> String {
    let version = harness_sdk_version();
    let parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
    format!("{}.{}.0", parts[0], parts[1] + 1)
}

/// Builds the frozen fixture plugin against a copy of the current SDK sources with `version` and
/// the given text edits (file, old, new; each must match exactly once) and returns its library.
fn plugin_against_generated_sdk(name: &str, version: &str, edits: &[(&str, &str, &str)]) -> PathBuf {
    frozen_plugin(); // its build writes the Cargo.lock the copies reuse
    let root = fixture_scratch(name);
    let sdk = root.join("sdk");
    std::fs::create_dir_all(sdk.join("src")).unwrap();
    for entry in std::fs::read_dir(workspace().join("sdk/src")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, sdk.join("src").join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(workspace().join("sdk/README.md"), sdk.join("README.md")).unwrap();
    std::fs::write(
        sdk.join("Cargo.toml"),
        format!(
            "[package]\nname = \"upbench-sdk\"\nversion = \"{version}\"\nedition = \"2021\"\n\n\
             [dependencies]\nabi_stable = \"=0.11.3\"\n"
        ),
    )
    .unwrap();
    for (file, old, new) in edits {
        let path = sdk.join("src").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(old).count(), 1, "{file}: the edit's anchor {old:?} must occur once");
        std::fs::write(&path, text.replace(old, new)).unwrap();
    }
    let plugin = root.join("plugin");
    std::fs::create_dir_all(plugin.join("src")).unwrap();
    let frozen = workspace().join(FROZEN_PLUGIN);
    std::fs::copy(frozen.join("src/lib.rs"), plugin.join("src/lib.rs")).unwrap();
    std::fs::copy(frozen.join("Cargo.lock"), plugin.join("Cargo.lock")).unwrap();
    let manifest = std::fs::read_to_string(frozen.join("Cargo.toml")).unwrap();
    let manifest = manifest
        .replace("path = \"../sdk-1.0.0\"", "path = \"../sdk\"")
        .replace(&format!("name = \"{}\"", "fixture_sdk_1_0_0_plugin"), &format!("name = \"{}\"", lib_name(name)));
    std::fs::write(plugin.join("Cargo.toml"), manifest).unwrap();
    build_fixture(&plugin, &lib_name(name))
}

fn lib_name(name: &str) -> String {
    format!("fixture_generated_{}", name.replace('-', "_"))
}

#[test]
fn a_plugin_built_against_a_newer_minor_sdk_that_only_appends_loads_and_restores() {
    let next = next_minor();
    let library = plugin_against_generated_sdk(
        "appending-minor",
        &next,
        &[
            // A new entry point in the root module, after the last prefix field.
            (
                "module.rs",
                "    pub new_model: extern \"C\" fn(params: &Params, task: &TaskSpec) -> RResult<ModelBox, PluginError_NE>,\n",
                "    pub new_model: extern \"C\" fn(params: &Params, task: &TaskSpec) -> RResult<ModelBox, PluginError_NE>,\n    /// Generated next minor: a new entry point.\n    pub added_in_next_minor: u64,\n",
            ),
            (
                "export.rs",
                "new_model: new_model_entry::<P> }",
                "new_model: new_model_entry::<P>, added_in_next_minor: 11 }",
            ),
            // A new model method with a default body, after the last prefix method.
            (
                "model.rs",
                "    fn stochastic(&self) -> bool;\n",
                "    fn stochastic(&self) -> bool;\n\n    /// Generated next minor.\n    fn added_in_next_minor(&self) -> u32 {\n        11\n    }\n",
            ),
            // A new metadata field, through the extension point.
            ("metadata.rs", "            extensions: Extensions::new(),\n", "            extensions: Extensions::new().with(\"added_in_next_minor\", crate::ParamValue::Int(11)),\n"),
        ],
    );
    let plugin = load(&library, &std::env::temp_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plugin.sdk_version, next);
    assert_eq!(plugin.metadata.extensions.get("added_in_next_minor"), Some(&ParamValue::Int(11)));
    let params = upbench_sdk::Params { entries: vec![upbench_sdk::Param::new("gamma", ParamValue::Float(1.0))].into() };
    let task = testing::exact_task(TaskKind::Denoising, 2, 0.5);
    let mut model = plugin.new_model(&params, &task).unwrap_or_else(|e| panic!("{e}"));
    assert!(plugin.samples(&model));
    let y = upbench_sdk::OwnedTensor::from_f64_vec(vec![0.5, -0.5, 1.0, 2.0], &[2, 2]).unwrap();
    let samples = testing::restore_checked(&mut model, y.view(), 3, 7, &[2]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(samples.len(), 2 * 3 * 2);
}

#[test]
fn a_plugin_built_against_a_newer_minor_sdk_that_changes_a_layout_is_refused_naming_both_versions() {
    let next = next_minor();
    let library = plugin_against_generated_sdk(
        "layout-changing-minor",
        &next,
        &[
            // A field added to a struct that is frozen for 1.x: a layout change.
            (
                "tensor.rs",
                "    pub index: i32,\n}",
                "    pub index: i32,\n    /// Generated next minor, wrongly.\n    pub stream: u64,\n}",
            ),
            (
                "tensor.rs",
                "Device { kind: DeviceKind::CPU, index: 0 }",
                "Device { kind: DeviceKind::CPU, index: 0, stream: 0 }",
            ),
            (
                "tensor.rs",
                "Device { kind: DeviceKind::CUDA, index }",
                "Device { kind: DeviceKind::CUDA, index, stream: 0 }",
            ),
        ],
    );
    let err = load(&library, &std::env::temp_dir()).unwrap_err();
    assert!(matches!(err, LoadError::IncompatibleLayout { .. }), "{err}");
    let message = err.to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains(&format!("upbench-sdk {next}")), "{message}");
    assert!(message.contains(&format!("upbench-sdk {}", harness_sdk_version())), "{message}");
}

#[test]
fn a_plugin_built_against_the_next_major_sdk_is_refused_naming_both_versions() {
    let major: u64 = harness_sdk_version().split('.').next().unwrap().parse().unwrap();
    let next = format!("{}.0.0", major + 1);
    let library = plugin_against_generated_sdk("next-major", &next, &[]);
    let err = load(&library, &std::env::temp_dir()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, LoadError::IncompatibleVersion { .. }), "{message}");
    assert_eq!(message.lines().count(), 1);
    assert!(message.contains(&next) && message.contains(&harness_sdk_version()), "{message}");
}
