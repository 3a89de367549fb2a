//! Models that run outside upbench: a task's inputs written as `.npy` files with a manifest
//! ([`export_task`], `upbench export-task`), and samples made by any framework judged on the very
//! path a plugin's samples take ([`judge_samples`], `upbench judge`): the same task, the same
//! estimators, the same judge and report.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cell::{evaluate, prepare, NamedTask};
use super::task::{CellError, Subject, Task, TaskInput};
use crate::assemble::{self, RunRecords};
use crate::check::CheckedSuite;
use crate::plan::TaskType;
use crate::provenance;
use crate::record::{Cause, Failure, RunReport, Stage, TaskSummary};
use crate::run::{Expected, GivenError, GivenSamples};
use crate::setup::RunPlan;

/// The manifest's file name in an export directory.
pub const MANIFEST: &str = "task.json";

/// This manifest format's version.
pub const FORMAT: u32 = 1;

/// What `export-task` writes beside the inputs: what the task is, what a model must return, and
/// checksums that tie samples to these very measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The suite's name.
    pub suite: String,
    /// SHA-256 of the suite file's text.
    pub suite_sha256: String,
    /// The task's name in the suite.
    pub task: String,
    /// Its kind (`denoising`, `image-super-resolution`, …).
    pub kind: String,
    /// The suite's seed (it decides the measurements).
    pub seed: u64,
    /// The upbench that wrote it.
    pub upbench_version: String,
    /// K: samples per observation a stochastic model returns (a deterministic one returns 1).
    pub samples_per_observation: usize,
    /// What to return, in words.
    pub returns: String,
    /// The inputs, in task order.
    pub inputs: Vec<ExportedInput>,
    /// Exact tasks: the operator A (m × d rows), σ and the prior, for models that use them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<ExactDefinition>,
}

/// One input file and the samples file that answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedInput {
    /// `measurements`, or the image's file name.
    pub name: String,
    /// The `.npy` file, relative to the export directory: `[b, …]` as plugins receive it.
    pub file: String,
    /// Its shape.
    pub shape: Vec<i64>,
    /// SHA-256 of its values as little-endian float64, whatever the file's dtype.
    pub values_sha256: String,
    /// The observations it holds, `[start, end)` in task order.
    pub observations: [usize; 2],
    /// One sample's shape: `[d]`, or `[C, H, W]`.
    pub sample_shape: Vec<i64>,
    /// Where `judge` reads its samples when given the export directory, relative to it.
    pub samples_file: String,
}

/// An exact task's definition as plugins get it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactDefinition {
    /// A, m rows of d.
    pub operator: Vec<Vec<f64>>,
    /// σ.
    pub noise_std: f64,
    /// The prior's mixture weights (one for a Gaussian prior).
    pub prior_weights: Vec<f64>,
    /// Each component's mean (d).
    pub prior_means: Vec<Vec<f64>>,
    /// Each component's covariance (d × d rows).
    pub prior_covariances: Vec<Vec<Vec<f64>>>,
}

/// Why a task could not be exported or samples not judged; each names the file or the task.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// No such task in the suite.
    #[error("{suite}: no task named '{task}' (it has: {known})")]
    NoTask {
        /// The suite.
        suite: String,
        /// The name asked for.
        task: String,
        /// The suite's task names.
        known: String,
    },
    /// The task could not be built.
    #[error("task '{task}': {source}")]
    Task {
        /// The task.
        task: String,
        /// Why.
        source: Box<CellError>,
    },
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The manifest is not one `export-task` wrote for this task.
    #[error("{path}: {reason}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// The samples cannot be used.
    #[error(transparent)]
    Samples(#[from] GivenError),
    /// An `.npy` input could not be written.
    #[error(transparent)]
    Npy(#[from] crate::npy::NpyError),
}

/// A task built outside a run: the task, its summaries (N(X|Y) stated) and what it lacks.
struct Built {
    task: Box<dyn Task>,
    summaries: Vec<TaskSummary>,
    problems: Vec<Failure>,
}

/// Builds task `name` of `plan`'s suite and states its N(X|Y).
fn build(plan: &RunPlan, name: &str) -> Result<Built, ExternalError> {
    let file = &plan.suite.file;
    let task_type = if file.tasks.iter().any(|t| t.name == name) {
        TaskType::Exact
    } else if file.image_tasks.iter().any(|t| t.name == name) {
        TaskType::Image
    } else {
        let known: Vec<&str> = file
            .tasks
            .iter()
            .map(|t| t.name.as_str())
            .chain(file.image_tasks.iter().map(|t| t.name.as_str()))
            .collect();
        return Err(ExternalError::NoTask {
            suite: plan.suite.origin.clone(),
            task: name.into(),
            known: known.join(", "),
        });
    };
    let failed = |source: CellError| ExternalError::Task { task: name.into(), source: Box::new(source) };
    let task = prepare(plan, name, task_type).map_err(failed)?;
    let (summaries, lacking) = task.summaries(plan).map_err(|e| failed(e.into()))?;
    let problems = lacking
        .into_iter()
        .map(|e| Failure {
            stage: Stage::Task,
            cause: Cause::Task,
            subject: name.into(),
            task: Some(name.into()),
            message: e.to_string(),
        })
        .collect();
    Ok(Built { task, summaries, problems })
}

/// SHA-256 of a tensor's values as little-endian float64.
fn values_sha256(t: &tch::Tensor) -> String {
    let flat = t.to_device(tch::Device::Cpu).to_kind(tch::Kind::Double).flatten(0, -1);
    let values = Vec::<f64>::try_from(&flat).unwrap_or_default();
    let mut hasher = Sha256::new();
    values.iter().for_each(|v| hasher.update(v.to_le_bytes()));
    format!("{:x}", hasher.finalize())
}

/// A file name for an input: its name with the extension replaced, path separators replaced.
fn stem(name: &str) -> String {
    let stem = Path::new(name).with_extension("");
    stem.to_string_lossy().chars().map(|c| if c == '/' || c == '\\' { '_' } else { c }).collect()
}

/// The manifest of task `name` and its inputs, as [`export_task`] writes them.
fn manifest_of(plan: &RunPlan, name: &str, task: &dyn Task, inputs: &[TaskInput]) -> ExportManifest {
    let spec = task.spec(upbench_sdk::Device::CPU);
    let k = task.samples_per_observation();
    let image = spec.image.is_some();
    let exact = (!image).then(|| {
        let (m, d) = (spec.measurement_dim as usize, spec.signal_dim as usize);
        let rows = |values: &[f64], cols: usize| values.chunks(cols.max(1)).map(<[f64]>::to_vec).collect();
        let prior = spec.prior.as_ref().into_option();
        ExactDefinition {
            operator: rows(&spec.operator[..m * d], d),
            noise_std: spec.noise_std,
            prior_weights: prior.map(|p| p.weights.to_vec()).unwrap_or_default(),
            prior_means: prior.map(|p| p.components.iter().map(|c| c.mean.to_vec()).collect()).unwrap_or_default(),
            prior_covariances: prior
                .map(|p| p.components.iter().map(|c| rows(&c.covariance, d)).collect())
                .unwrap_or_default(),
        }
    });
    let returns = if image {
        format!("per image, samples [K, C, H, W] with K = {k} (a stochastic model) or [C, H, W] (a deterministic one), float32 or float64, in [0, 1]")
    } else {
        format!(
            "samples [n, K, d] with K = {k} (a stochastic model) or [n, d] (a deterministic one), float32 or float64"
        )
    };
    let inputs = inputs
        .iter()
        .map(|input| {
            let stem = stem(&input.name);
            ExportedInput {
                name: input.name.clone(),
                file: if image { format!("inputs/{stem}.npy") } else { format!("{stem}.npy") },
                shape: input.measurements.size(),
                values_sha256: values_sha256(&input.measurements),
                observations: [input.observations.start, input.observations.end],
                sample_shape: input.sample_shape.clone(),
                samples_file: if image { format!("samples/{stem}.npy") } else { "samples.npy".into() },
            }
        })
        .collect();
    ExportManifest {
        format: FORMAT,
        suite: plan.suite.name.clone(),
        suite_sha256: format!("{:x}", Sha256::digest(plan.suite.text.as_bytes())),
        task: name.into(),
        kind: spec.kind.to_string(),
        seed: plan.suite.file.seed,
        upbench_version: env!("CARGO_PKG_VERSION").into(),
        samples_per_observation: k,
        returns,
        inputs,
        exact,
    }
}

/// Writes what a model needs to solve task `name` into `dir`: its inputs as `.npy` (float64 for
/// exact tasks, float32 images as plugins receive them, `[b, …]`) and [`MANIFEST`].
pub fn export_task(plan: &RunPlan, name: &str, dir: &Path) -> Result<ExportManifest, ExternalError> {
    let task = build(plan, name)?.task;
    let inputs = task.inputs();
    let manifest = manifest_of(plan, name, task.as_ref(), &inputs);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| ExternalError::Io { path, cause }
    };
    for (input, exported) in inputs.iter().zip(&manifest.inputs) {
        let path = dir.join(&exported.file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let float32 = input.measurements.kind() == tch::Kind::Float;
        crate::npy::write(&path, &input.measurements, float32)?;
    }
    let path = dir.join(MANIFEST);
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| ExternalError::Io { path: path.clone(), cause: e.into() })?;
    std::fs::write(&path, json).map_err(io(&path))?;
    Ok(manifest)
}

/// Where the samples to judge are.
#[derive(Debug, Clone)]
pub enum SamplesAt {
    /// One `.npy` file for all inputs (stacked in task order).
    File(PathBuf),
    /// A directory holding each input's `samples_file` (an export directory, or its `samples/`).
    Directory(PathBuf),
}

/// Judges samples made outside upbench for task `name`: checks them against the manifest
/// `export-task` wrote (the task, the suite and the measurements' checksums) and the task
/// (shapes; `.npy` dtype and finiteness), then evaluates them as a cell and returns the report
/// a run of that one cell gives.
pub fn judge_samples(
    plan: &RunPlan,
    name: &str,
    manifest_path: &Path,
    samples: &SamplesAt,
    label: &str,
) -> Result<RunReport, ExternalError> {
    let Built { task, summaries, problems: mut failures } = build(plan, name)?;
    let inputs = task.inputs();
    let now = manifest_of(plan, name, task.as_ref(), &inputs);
    check_export(manifest_path, &now)?;
    let files = sample_files(samples, &now);
    let expected: Vec<Expected> = inputs
        .iter()
        .map(|i| Expected {
            name: i.name.clone(),
            observations: i.observations.clone(),
            sample_shape: i.sample_shape.clone(),
        })
        .collect();
    let given = GivenSamples::read(&files, &expected, task.samples_per_observation() as i64)?;
    let origin = match samples {
        SamplesAt::File(p) | SamplesAt::Directory(p) => p.display().to_string(),
    };
    let subject = Subject::Given { samples: &given, label, origin: &origin };
    let mut results = Vec::new();
    match evaluate(plan, &subject, NamedTask { name, task: task.as_ref() }, &summaries) {
        Ok((found, notes, _)) => {
            results = found;
            failures.extend(notes.iter().map(|e| given_failure(name, label, e)));
        }
        Err(e) => failures.push(given_failure(name, label, &e)),
    }
    let checked =
        CheckedSuite { libraries: Vec::new(), entries: Vec::new(), broken_tasks: Vec::new(), problems: Vec::new() };
    let manifest = provenance::manifest(plan, &checked, provenance::now());
    Ok(assemble::run_report(RunRecords {
        manifest,
        tasks: summaries,
        results,
        failures,
        incomplete: None,
        profile: None,
    }))
}

/// Checks that the export manifest at `manifest_path` describes the task as the suite gives it
/// `now`: the same task, seed, inputs and measurements (by checksum).
fn check_export(manifest_path: &Path, now: &ExportManifest) -> Result<(), ExternalError> {
    let bytes =
        std::fs::read(manifest_path).map_err(|cause| ExternalError::Io { path: manifest_path.into(), cause })?;
    let mismatch = |reason: String| ExternalError::Manifest { path: manifest_path.into(), reason };
    let exported: ExportManifest =
        serde_json::from_slice(&bytes).map_err(|e| mismatch(format!("not a manifest of upbench export-task: {e}")))?;
    if exported.task != now.task {
        return Err(mismatch(format!("it describes task '{}', not '{}'", exported.task, now.task)));
    }
    if exported.seed != now.seed || exported.inputs.len() != now.inputs.len() {
        return Err(mismatch(format!(
            "it was written for seed {} with {} inputs; the suite now gives seed {} and {} inputs: export the task again",
            exported.seed,
            exported.inputs.len(),
            now.seed,
            now.inputs.len()
        )));
    }
    for (then, now) in exported.inputs.iter().zip(&now.inputs) {
        if then.values_sha256 != now.values_sha256 || then.name != now.name {
            return Err(mismatch(format!(
                "input '{}' does not match the measurements the suite gives now (checksum {} then, {} now): the samples answer other measurements; export the task again",
                then.name,
                &then.values_sha256[..12.min(then.values_sha256.len())],
                &now.values_sha256[..12],
            )));
        }
    }
    Ok(())
}

/// The samples' files: the one given, or each input's file in the directory given (under its
/// exported path, or by file name directly inside).
fn sample_files(samples: &SamplesAt, now: &ExportManifest) -> Vec<PathBuf> {
    match samples {
        SamplesAt::File(path) => vec![path.clone()],
        SamplesAt::Directory(dir) => now
            .inputs
            .iter()
            .map(|input| {
                let direct = dir.join(&input.samples_file);
                let inside = dir.join(Path::new(&input.samples_file).file_name().unwrap_or_default());
                if direct.exists() || !inside.exists() {
                    direct
                } else {
                    inside
                }
            })
            .collect(),
    }
}

fn given_failure(task: &str, label: &str, e: &CellError) -> Failure {
    Failure {
        stage: e.stage(),
        cause: e.cause(),
        subject: label.to_string(),
        task: Some(task.into()),
        message: e.to_string(),
    }
}
