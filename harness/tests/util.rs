//! Test helpers: build the plugin libraries once, locate them, run suites in-process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use upbench::pipeline::{run_suite, Progress, Silent};
use upbench::record::RunReport;
use upbench::setup::RunPlan;
use upbench::suite::Suite;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

/// Where the plugins of this profile live.
pub fn plugin_dir() -> PathBuf {
    // tests/… binaries live in target/<profile>/deps
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| target_dir().join("debug"))
}

fn cargo(args: &[&str]) {
    let status = Command::new(env!("CARGO")).args(args).current_dir(workspace()).status().expect("cannot run cargo");
    assert!(status.success(), "cargo {args:?} failed");
}

/// Builds the reference plugins and the fixtures (once per test binary).
pub fn plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let profile = plugin_dir().file_name().unwrap().to_string_lossy().into_owned();
        let mut args = vec!["build", "--quiet"];
        if profile == "release" {
            args.push("--release");
        }
        for p in [
            "posterior-mean",
            "posterior-sampler",
            "gamma-optimal",
            "isotropic-noise",
            "overdispersed-sampler",
            "bicubic",
            "gaussian-prior",
            "noisy-fill",
            "espcn-x4",
            "srvgg-x4",
            "dncnn-s25",
            "srresnet-x4",
            "carn-m-x4",
            "rfdn-x4",
            "rrdb-x4",
            "torchscript",
            "fixture-panicking-plugin",
            "fixture-lying-plugin",
            "fixture-hostile-plugin",
            "fixture-timed-plugin",
            "fixture-not-a-plugin",
        ] {
            args.extend(["-p", p]);
        }
        cargo(&args);
        plugin_dir()
    })
}

/// Builds the incompatible-SDK fixture (outside the workspace) and returns its library.
pub fn incompatible_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        build_fixture(&workspace().join("harness/tests/fixtures/incompatible-plugin"), "fixture_incompatible_plugin")
    })
}

/// Builds the crate at `dir` (a fixture outside the workspace, with its own `[workspace]`) into
/// target/fixtures and returns its `lib{lib_name}.so`.
pub fn build_fixture(dir: &Path, lib_name: &str) -> PathBuf {
    let fixtures = target_dir().join("fixtures");
    let manifest = dir.join("Cargo.toml");
    cargo(&[
        "build",
        "--quiet",
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--target-dir",
        fixtures.to_str().unwrap(),
    ]);
    fixtures.join(format!("debug/lib{lib_name}.so"))
}

/// A scratch folder under target/fixtures, emptied.
pub fn fixture_scratch(name: &str) -> PathBuf {
    let dir = target_dir().join("fixtures/generated").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs suite text in-process on the CPU with the built plugins.
pub fn run(suite_text: &str) -> RunReport {
    run_with(suite_text, &mut Silent)
}

/// Runs the suite file at `path` in-process on the CPU with the built plugins.
pub fn run_suite_file(path: &Path) -> RunReport {
    run_parsed(Suite::load(path).unwrap_or_else(|e| panic!("{e}")), &mut Silent)
}

/// [`run`], reporting progress to `progress`.
pub fn run_with(suite_text: &str, progress: &mut dyn Progress) -> RunReport {
    run_parsed(Suite::parse(suite_text, "test.toml", workspace(), "test").unwrap_or_else(|e| panic!("{e}")), progress)
}

fn run_parsed(suite: Suite, progress: &mut dyn Progress) -> RunReport {
    let dir = plugins().to_path_buf();
    let log_dir = tempfile::tempdir().unwrap().keep();
    let plan = RunPlan {
        suite,
        device: tch::Device::Cpu,
        plugin_dirs: vec![dir],
        log_dir,
        run_id: "test".into(),
        data_dir: data_dir(),
        models_dir: None,
        figure_dir: None,
    };
    point_plugins_at_models();
    let report = run_suite(&plan, progress);
    assert_report_valid(&report);
    report
}

/// `../shared/datasets` beside the checkout, or `UPBENCH_DATA_DIR`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("UPBENCH_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("../shared/datasets"))
}

/// `../shared/models` beside the checkout, or `UPBENCH_MODELS_DIR`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("UPBENCH_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("../shared/models"))
}

/// Sets `UPBENCH_MODELS_DIR` and `UPBENCH_DATA_DIR` for in-process plugins, once.
pub fn point_plugins_at_models() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        std::env::set_var("UPBENCH_MODELS_DIR", models_dir());
        std::env::set_var("UPBENCH_DATA_DIR", data_dir());
    });
}

/// The result labelled `label` on task `task`.
pub fn result<'a>(report: &'a RunReport, task: &str, label: &str) -> &'a upbench::record::ConfigResult {
    report
        .results
        .iter()
        .find(|r| r.task == task && r.label == label)
        .unwrap_or_else(|| panic!("no result {label} on {task}; failures: {:?}", report.failures))
}

/// Checks a results file's JSON against the shipped JSON Schema (`harness/schema/`), with every
/// violation in the panic message.
pub fn assert_valid_results(json: &serde_json::Value) {
    static SCHEMA: OnceLock<(boon::Schemas, boon::SchemaIndex)> = OnceLock::new();
    let (schemas, index) = SCHEMA.get_or_init(|| {
        let url = "https://upbench.dev/schema/results-v4.schema.json";
        let schema: serde_json::Value = serde_json::from_str(upbench::record::SCHEMA).expect("the schema is JSON");
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.add_resource(url, schema).expect("schema resource");
        let index = compiler.compile(url, &mut schemas).unwrap_or_else(|e| panic!("the schema does not compile: {e}"));
        (schemas, index)
    });
    if let Err(e) = schemas.validate(json, *index) {
        panic!("results do not validate against the schema: {e:#}");
    }
}

/// [`assert_valid_results`] on a report as `results.json` holds it.
pub fn assert_report_valid(report: &RunReport) {
    use upbench::report::{Exporter, JsonExporter};
    let bytes = JsonExporter.serialize(report).expect("serialises");
    assert_valid_results(&serde_json::from_slice(&bytes).expect("results.json is JSON"));
}
