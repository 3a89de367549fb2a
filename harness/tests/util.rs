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

/// A suite's TOML, built from defaults so that a test states only what it cares about:
/// `[sampling]` with 16 observations of 256 samples and `[timing] budget_secs = 0` (no criterion
/// calls) unless set, then the tasks and plugin entries in the order added. Multi-line fields are
/// written one per line, trimmed, so a test may indent them; nothing else is added, so the line
/// and column of a field are those of a hand-written suite of the same entries.
#[derive(Debug, Clone)]
pub struct SuiteBuilder {
    name: Option<String>,
    seed: u64,
    threads: Option<usize>,
    observations: usize,
    samples_per_observation: usize,
    /// Other tables (`[statistics]`, `[estimator]`), with their fields.
    sections: Vec<(String, String)>,
    timing: String,
    /// `[[task]]`, `[[image_task]]` and `[[plugin]]` entries, rendered.
    entries: Vec<String>,
}

/// The lines of `fields`, trimmed, without empty ones.
fn field_lines(fields: &str) -> impl Iterator<Item = &str> {
    fields.lines().map(str::trim).filter(|l| !l.is_empty())
}

impl SuiteBuilder {
    /// A suite with master seed `seed` and no name (the run names it after its file).
    pub fn new(seed: u64) -> SuiteBuilder {
        SuiteBuilder {
            name: None,
            seed,
            threads: None,
            observations: 16,
            samples_per_observation: 256,
            sections: Vec::new(),
            timing: "budget_secs = 0".into(),
            entries: Vec::new(),
        }
    }

    /// The master seed, in place of the one given to [`SuiteBuilder::new`].
    pub fn seed(mut self, seed: u64) -> SuiteBuilder {
        self.seed = seed;
        self
    }

    /// The suite's `name`.
    pub fn name(mut self, name: &str) -> SuiteBuilder {
        self.name = Some(name.into());
        self
    }

    /// `threads`.
    pub fn threads(mut self, threads: usize) -> SuiteBuilder {
        self.threads = Some(threads);
        self
    }

    /// `[sampling]`: observations per task and samples per observation.
    pub fn sampling(mut self, observations: usize, samples_per_observation: usize) -> SuiteBuilder {
        self.observations = observations;
        self.samples_per_observation = samples_per_observation;
        self
    }

    /// Another table, e.g. `section("statistics", "confidence_level = 0.995")`.
    pub fn section(mut self, table: &str, fields: &str) -> SuiteBuilder {
        self.sections.push((table.into(), fields.into()));
        self
    }

    /// `[timing]`'s fields, in place of `budget_secs = 0`.
    pub fn timing(mut self, fields: &str) -> SuiteBuilder {
        self.timing = fields.into();
        self
    }

    /// An exact task: `[[task]]` named `name` with `fields` (dim, prior, operator, …).
    pub fn task(self, name: &str, fields: &str) -> SuiteBuilder {
        self.entry("task", name, fields)
    }

    /// An exact task from a preset (`preset = "example-1"`).
    pub fn preset(self, name: &str, preset: &str) -> SuiteBuilder {
        self.entry("task", name, &format!("preset = \"{preset}\""))
    }

    /// An image task: `[[image_task]]` named `name` with `fields` (dataset, degradation, …).
    pub fn image_task(self, name: &str, fields: &str) -> SuiteBuilder {
        self.entry("image_task", name, fields)
    }

    /// The plugin named `name`, with its default parameters.
    pub fn plugin(self, name: &str) -> SuiteBuilder {
        self.plugin_entry(Plugin::named(name))
    }

    /// The plugin named `name` with `params`, the inline table's inside (`gamma = [0.5, 1.0]`).
    pub fn plugin_with(self, name: &str, params: &str) -> SuiteBuilder {
        self.plugin_entry(Plugin::named(name).params(params))
    }

    /// Any `[[plugin]]` entry (a path, a label, the tasks it is limited to).
    pub fn plugin_entry(mut self, plugin: Plugin) -> SuiteBuilder {
        self.entries.push(format!("[[plugin]]\n{}", plugin.lines.join("\n")));
        self
    }

    fn entry(mut self, table: &str, name: &str, fields: &str) -> SuiteBuilder {
        let mut text = format!("[[{table}]]\nname = \"{name}\"");
        for line in field_lines(fields) {
            text.push('\n');
            text.push_str(line);
        }
        self.entries.push(text);
        self
    }

    /// The suite's text.
    pub fn toml(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        if let Some(name) = &self.name {
            lines.push(format!("name = \"{name}\""));
        }
        lines.push(format!("seed = {}", self.seed));
        if let Some(threads) = self.threads {
            lines.push(format!("threads = {threads}"));
        }
        lines.push("[sampling]".into());
        lines.push(format!("observations = {}", self.observations));
        lines.push(format!("samples_per_observation = {}", self.samples_per_observation));
        for (table, fields) in &self.sections {
            lines.push(format!("[{table}]"));
            lines.extend(field_lines(fields).map(str::to_string));
        }
        lines.push("[timing]".into());
        lines.extend(field_lines(&self.timing).map(str::to_string));
        lines.extend(self.entries.iter().cloned());
        lines.join("\n") + "\n"
    }

    /// Writes the suite to `dir/file` and returns that path.
    pub fn write(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.toml()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

/// One `[[plugin]]` entry for [`SuiteBuilder::plugin_entry`], its fields in the order given.
#[derive(Debug, Clone)]
pub struct Plugin {
    lines: Vec<String>,
}

impl Plugin {
    /// The plugin named `name` (found in the plugin directories).
    pub fn named(name: &str) -> Plugin {
        Plugin { lines: vec![format!("name = \"{name}\"")] }
    }

    /// The plugin library at `path`.
    pub fn at(path: impl AsRef<Path>) -> Plugin {
        Plugin { lines: vec![format!("path = \"{}\"", path.as_ref().display())] }
    }

    /// Its configurations' label.
    pub fn label(mut self, label: &str) -> Plugin {
        self.lines.push(format!("label = \"{label}\""));
        self
    }

    /// The tasks it runs on (else every task it declares).
    pub fn tasks(mut self, tasks: &[&str]) -> Plugin {
        let quoted: Vec<String> = tasks.iter().map(|t| format!("\"{t}\"")).collect();
        self.lines.push(format!("tasks = [{}]", quoted.join(", ")));
        self
    }

    /// `params = { … }` with `params` inside the braces.
    pub fn params(mut self, params: &str) -> Plugin {
        self.lines.push(format!("params = {{ {params} }}"));
        self
    }
}
