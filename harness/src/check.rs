//! Stage 0: the whole suite checked before any model runs (`upbench run --check`, and the start
//! of every run). Every `[[plugin]]` located and loaded; every parameter resolved for every
//! sweep value; every configuration constructed once on the first task it fits (a missing
//! weights file or a value the plugin refuses shows here, not hours in); every plugin fitting
//! some task; every image task's settings, set and training set present and intact. All
//! problems at once, each located in the suite file where it can be.

use std::path::PathBuf;

use upbench_sdk::{TaskKind, TaskSpec};

use crate::device::sdk_device;
use crate::estimate::quality::{QualityError, ScriptedMetric};
use crate::plugin::{self, LoadedPlugin, PluginConfig};
use crate::record::{Cause, Failure, Stage};
use crate::seed::derive_seed;
use crate::setup::RunPlan;
use crate::suite::{MetricsChoice, PluginEntry};
use crate::task::ExactTask;

/// A `[[plugin]]` entry that loaded and whose parameters resolved.
pub struct CheckedEntry<'a> {
    /// The suite's entry.
    pub entry: &'a PluginEntry,
    /// Its index among the suite's `[[plugin]]` entries.
    pub index: usize,
    /// Index into [`CheckedSuite::libraries`].
    pub library: usize,
    /// Its configurations, one per point of the sweep.
    pub configs: Vec<PluginConfig>,
}

/// What the checks found: the loaded plugins, the entries ready to run, and every problem.
pub struct CheckedSuite<'a> {
    /// Every library opened, by path (a library is loaded once however often it is named).
    pub libraries: Vec<(PathBuf, LoadedPlugin)>,
    /// The entries that can run, in suite order.
    pub entries: Vec<CheckedEntry<'a>>,
    /// Tasks that cannot be built (their problems are in `problems`), by name.
    pub broken_tasks: Vec<String>,
    /// Every problem, in suite order.
    pub problems: Vec<Failure>,
}

impl CheckedSuite<'_> {
    /// Whether the task named `name` can be built.
    pub fn runnable(&self, name: &str) -> bool {
        !self.broken_tasks.iter().any(|b| b == name)
    }

    /// The problems, one per line, for the command line: where and what, then whom.
    pub fn describe_problems(&self) -> String {
        let lines: Vec<String> = self.problems.iter().map(|f| format!("  {} [{}]", f.message, f.subject)).collect();
        lines.join("\n")
    }
}

/// The task kinds of the suite's tasks, in suite order, each with the spec plugins are told
/// (exact tasks are cheap to build; image specs need no images); the tasks that cannot be built
/// go to `broken`, their problems to `problems`.
fn task_specs(plan: &RunPlan, problems: &mut Vec<Failure>, broken: &mut Vec<String>) -> Vec<(TaskKind, TaskSpec)> {
    let file = &plan.suite.file;
    let device = sdk_device(plan.device);
    let mut specs = Vec::new();
    for config in &file.tasks {
        match ExactTask::build(config, derive_seed(file.seed, &["task", &config.name])) {
            Ok(task) => specs.push((task.kind, plan.plugin_spec(task.spec(device)))),
            Err(e) => {
                problems.push(task_problem(plan, &config.name, e.to_string()));
                broken.push(config.name.clone());
            }
        }
    }
    for config in &file.image_tasks {
        // Its spec needs no data: configurations are checked against it even when data is missing.
        specs.push((config.degradation.kind(), plan.plugin_spec(config.spec(device))));
        let found = config.problems(&plan.data_dir);
        if found.is_empty() {
            continue;
        }
        for message in found {
            problems.push(task_problem(plan, &config.name, format!("image task '{}': {message}", config.name)));
        }
        broken.push(config.name.clone());
    }
    specs
}

fn task_problem(plan: &RunPlan, task: &str, message: String) -> Failure {
    let at = plan.suite.offset_of(&format!("\"{task}\""));
    Failure {
        stage: Stage::Task,
        cause: Cause::Task,
        subject: task.to_string(),
        task: Some(task.to_string()),
        message: plan.suite.error_at(at, message).to_string(),
    }
}

/// Runs every check; never stops at the first problem. Holds [`crate::seed::torch_rng_lock`]:
/// constructing a model may draw from libtorch's generator (a layer's initial weights), which
/// must not happen in the middle of another run in the same process.
pub fn check(plan: &RunPlan) -> CheckedSuite<'_> {
    let _rng = crate::seed::torch_rng_lock();
    let suite = &plan.suite;
    let mut problems = Vec::new();
    let mut broken_tasks = Vec::new();
    let specs = task_specs(plan, &mut problems, &mut broken_tasks);
    check_metrics(plan, &mut problems);
    let task_names: Vec<&str> = suite
        .file
        .tasks
        .iter()
        .map(|t| t.name.as_str())
        .chain(suite.file.image_tasks.iter().map(|t| t.name.as_str()))
        .collect();
    let mut libraries: Vec<(PathBuf, LoadedPlugin)> = Vec::new();
    let mut entries = Vec::new();
    for (index, entry) in suite.file.plugins.iter().enumerate() {
        let checked = check_entry(plan, (index, entry), &specs, &task_names, &mut libraries, &mut problems);
        entries.extend(checked);
    }
    CheckedSuite { libraries, entries, broken_tasks, problems }
}

/// The quality metrics: each built-in named in `[metrics] measures` has its parameter file in
/// the models directory (a default metric without its file is only skipped, with the reason in
/// the footnote), and each `[[metric]]` file exists, has the pinned SHA-256, loads as
/// TorchScript on the run's device and, called once on a seeded `[1, 3, 32, 32]` input by its
/// convention, returns one finite number. Problems go to `problems`, located in the suite.
fn check_metrics(plan: &RunPlan, problems: &mut Vec<Failure>) {
    let suite = &plan.suite;
    let problem = |subject: String, at: usize, message: String| Failure {
        stage: Stage::Configure,
        cause: Cause::Suite,
        subject,
        task: None,
        message: suite.error_at(at, message).to_string(),
    };
    if let (Ok(MetricsChoice::Chosen(chosen)), Some(measures)) =
        (suite.file.metrics.choice(), &suite.file.metrics.measures)
    {
        let dir = plan.metrics_models_dir();
        for metric in chosen.into_iter().filter(|m| !dir.join(m.file()).is_file()) {
            let path = dir.join(metric.file());
            let message = format!(
                "metric '{}' is chosen in [metrics] measures, but its parameter file {} is missing (set --models-dir, or leave the metric out)",
                metric.suite_name(),
                path.display()
            );
            problems.push(problem(metric.name().into(), measures.span().start, message));
        }
    }
    for entry in &suite.file.user_metrics {
        let spec = entry.spec(&suite.base_dir);
        let found = ScriptedMetric::load(&spec, plan.device).and_then(|metric| metric.probe());
        if let Err(e) = found {
            let at = match e {
                QualityError::Checksum { .. } => entry.sha256.span().start,
                _ => entry.torchscript.span().start,
            };
            let message = format!("metric '{}': {e}", spec.name);
            problems.push(problem(format!("{} ({})", spec.name, spec.path.display()), at, message));
        }
    }
}

/// One `[[plugin]]` entry checked: its library located and loaded (into `libraries`, shared by
/// the entries), its parameters resolved, its `tasks` known, some task it solves, and each
/// configuration constructed once on the first such task. Problems go to `problems`; `None`
/// when no configuration of the entry can run.
fn check_entry<'a>(
    plan: &'a RunPlan,
    (index, entry): (usize, &'a PluginEntry),
    specs: &[(TaskKind, TaskSpec)],
    task_names: &[&str],
    libraries: &mut Vec<(PathBuf, LoadedPlugin)>,
    problems: &mut Vec<Failure>,
) -> Option<CheckedEntry<'a>> {
    let suite = &plan.suite;
    let entry_at = suite.plugin_entry_offset(index);
    let located = |message: String, at: usize| suite.error_at(at, message).to_string();
    let library = match locate(entry, plan, libraries) {
        Ok(i) => i,
        Err(message) => {
            problems.push(Failure {
                stage: Stage::Load,
                cause: Cause::PluginLoad,
                subject: entry.reference(),
                task: None,
                message: located(message, entry_at),
            });
            return None;
        }
    };
    let loaded = &libraries[library].1;
    let subject = format!("{} ({})", loaded.name(), loaded.path.display());
    let configs = match configurations(plan, loaded, entry) {
        Ok(c) => c,
        Err(e) => {
            let at = entry.params.get(e.param_name()).map_or(entry_at, |v| v.span().start);
            problems.push(Failure {
                stage: Stage::Configure,
                cause: Cause::Parameter { name: e.param_name().to_string() },
                subject,
                task: None,
                message: located(e.to_string(), at),
            });
            return None;
        }
    };
    if let Some(unknown) = entry.tasks.iter().flatten().find(|t| !task_names.contains(&t.as_str())) {
        let quoted = format!("\"{unknown}\"");
        let at = suite.text[entry_at..].find(&quoted).map_or(entry_at, |i| entry_at + i);
        let message =
            format!("`tasks` names '{unknown}', which this suite does not have (it has: {})", task_names.join(", "));
        let message = located(message, at);
        problems.push(Failure { stage: Stage::Configure, cause: Cause::Suite, subject, task: None, message });
        return None;
    }
    // The specs of the tasks this entry runs on and the plugin solves, in suite order.
    let fitting: Vec<&TaskSpec> = specs
        .iter()
        .filter(|(kind, spec)| loaded.metadata.supports(*kind) && entry.runs_on(spec.name.as_str()))
        .map(|(_, spec)| spec)
        .collect();
    if fitting.is_empty() {
        let declared: Vec<&str> = loaded.metadata.task_kinds.iter().map(|k| k.as_str()).collect();
        let whose = if entry.tasks.is_some() { "the tasks it is given" } else { "this suite's tasks" };
        let message = format!("solves none of {whose} (it declares: {})", declared.join(", "));
        let message = located(message, entry_at);
        problems.push(Failure { stage: Stage::Configure, cause: Cause::Unsupported, subject, task: None, message });
        return None;
    }
    let configs = constructible(loaded, configs, fitting.first(), &|message| located(message, entry_at), problems);
    (!configs.is_empty()).then_some(CheckedEntry { entry, index, library, configs })
}

/// The configurations that construct on `spec` (the first task the entry solves): constructing
/// each once finds refused values and missing weights before any model runs; the others are
/// recorded in `problems` with `located` (the entry's place in the suite) and left out.
fn constructible(
    loaded: &LoadedPlugin,
    mut configs: Vec<PluginConfig>,
    spec: Option<&&TaskSpec>,
    located: &dyn Fn(String) -> String,
    problems: &mut Vec<Failure>,
) -> Vec<PluginConfig> {
    if let Some(spec) = spec {
        configs.retain(|config| match loaded.new_model(&config.params, spec) {
            Ok(_) => true,
            Err(e) => {
                problems.push(Failure {
                    stage: Stage::Configure,
                    cause: Cause::Refused,
                    subject: format!("{} ({})", config.label, loaded.path.display()),
                    task: Some(spec.name.to_string()),
                    message: located(e.to_string()),
                });
                false
            }
        });
    }
    configs
}

/// Finds the library for a `[[plugin]]` entry.
fn locate(entry: &PluginEntry, plan: &RunPlan, found: &mut Vec<(PathBuf, LoadedPlugin)>) -> Result<usize, String> {
    if let Some(path) = &entry.path {
        let path = if path.is_absolute() { path.clone() } else { plan.suite.base_dir.join(path) };
        if let Some(i) = found.iter().position(|(p, _)| *p == path) {
            return Ok(i);
        }
        let loaded = plugin::load(&path, &plan.log_dir).map_err(|e| e.to_string())?;
        found.push((path, loaded));
        return Ok(found.len() - 1);
    }
    let name = entry.name.as_deref().unwrap_or_default();
    if let Some(i) = found.iter().position(|(_, p)| p.name() == name) {
        return Ok(i);
    }
    let wanted = name.replace('-', "_");
    let mut tried = Vec::new();
    for dir in &plan.plugin_dirs {
        let Ok(listing) = std::fs::read_dir(dir) else { continue };
        let mut paths: Vec<PathBuf> =
            listing.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| plugin::is_library(p)).collect();
        // Libraries whose file name mentions the plugin first: loading is permanent, so the
        // others are opened only when no such file holds it.
        let mentions =
            |p: &PathBuf| p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.replace('-', "_").contains(&wanted));
        paths.sort_by_key(|p| (!mentions(p), p.clone()));
        for path in paths {
            if found.iter().any(|(p, _)| *p == path) {
                continue;
            }
            match plugin::load(&path, &plan.log_dir) {
                Ok(p) if p.name() == name => {
                    found.push((path, p));
                    return Ok(found.len() - 1);
                }
                Ok(p) => found.push((path, p)),
                Err(e) if mentions(&path) => tried.push(e.to_string()),
                Err(_) => {}
            }
        }
    }
    let dirs: Vec<String> = plan.plugin_dirs.iter().map(|d| d.display().to_string()).collect();
    let mut msg = format!("no plugin named '{name}' in {}", dirs.join(", "));
    if !tried.is_empty() {
        msg.push_str(&format!("; matching files failed to load: {}", tried.join("; ")));
    }
    Err(msg)
}

/// The configurations of a `[[plugin]]` entry: its parameters resolved against the plugin's
/// declarations (relative paths read from the suite's folder), labelled.
pub(crate) fn configurations(
    plan: &RunPlan,
    plugin: &LoadedPlugin,
    entry: &PluginEntry,
) -> Result<Vec<plugin::PluginConfig>, plugin::ParamError> {
    let given: Vec<(String, toml::Value)> =
        entry.params.iter().map(|(k, v)| (k.clone(), v.get_ref().clone())).collect();
    plugin::resolve_params(&plugin.metadata, &given, &plan.suite.base_dir, entry.label.as_deref())
}
