//! Pretrained weights in safetensors files, found by name in the run's models directory (the
//! task's, SDK 1.3): [`load`] copies a file into a
//! `VarStore` by tensor name; [`load_checked`] (= [`read_checked`] + [`assign`]) first checks that
//! the file holds exactly the model's tensors, with their shapes and finite values, so that a
//! checkpoint of another layout is a named error before any model runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use upbench_sdk::{PluginError, TaskSpec};
use upbench_tch::tch::nn::VarStore;
use upbench_tch::tch::Tensor;

/// The environment variable a user may set to name the directory of model files, read when the
/// harness sends none (SDK < 1.3, or a plugin run outside the harness).
pub const MODELS_DIR_VAR: &str = "UPBENCH_MODELS_DIR";

/// The directory relative weight names are looked up in: the run's models directory as the task
/// states it (SDK 1.3, `upbench run --models-dir`), else `$UPBENCH_MODELS_DIR`, else `./models`.
pub fn models_dir(task: &TaskSpec) -> PathBuf {
    task.models_dir()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os(MODELS_DIR_VAR).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("models"))
}

/// Where a `weights` parameter points: absolute paths as given, relative ones under
/// [`models_dir`].
pub fn resolve(task: &TaskSpec, weights: &str) -> PathBuf {
    let path = Path::new(weights);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    models_dir(task).join(path)
}

/// The file `weights` names ([`resolve`]), when it exists; else an error that says how to point
/// at the models directory.
fn existing(task: &TaskSpec, weights: &str) -> Result<PathBuf, PluginError> {
    let path = resolve(task, weights);
    if !path.is_file() {
        return Err(PluginError::Failed(
            format!(
                "weights file {} not found (give `weights` as an absolute path, or point `upbench run \
                 --models-dir` (or {MODELS_DIR_VAR}) at the directory holding it)",
                path.display()
            )
            .into(),
        ));
    }
    Ok(path)
}

/// Loads every variable of `vs` from the safetensors file `weights` names, by tensor name.
/// Errors name the file, and say how to point at the models directory when it is missing.
pub fn load(vs: &mut VarStore, task: &TaskSpec, weights: &str) -> Result<PathBuf, PluginError> {
    let path = existing(task, weights)?;
    vs.load(&path)
        .map_err(|e| PluginError::Failed(format!("cannot load weights from {}: {e}", path.display()).into()))?;
    Ok(path)
}

/// The tensors of the safetensors file `weights` names, checked against `vs`'s variables before
/// anything is copied: every variable present under its name with the same shape, nothing else
/// in the file, floating-point values (converted to the variable's kind) that are all finite.
/// Each mismatch is a named error listing the offending tensors, so a checkpoint of another
/// architecture or layout is refused before any model runs.
pub fn read_checked(
    vs: &VarStore,
    task: &TaskSpec,
    weights: &str,
) -> Result<(PathBuf, HashMap<String, Tensor>), PluginError> {
    let path = existing(task, weights)?;
    let fail = |what: String| PluginError::Failed(format!("weights file {}: {what}", path.display()).into());
    let stored = Tensor::read_safetensors(&path).map_err(|e| fail(format!("not a readable safetensors file: {e}")))?;
    let mut stored: HashMap<String, Tensor> = stored.into_iter().collect();
    let variables = vs.variables();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    let missing: Vec<&str> = names.iter().filter(|n| !stored.contains_key(n.as_str())).map(|n| n.as_str()).collect();
    let mut unexpected: Vec<&str> =
        stored.keys().filter(|n| !variables.contains_key(n.as_str())).map(|n| n.as_str()).collect();
    unexpected.sort();
    if !missing.is_empty() || !unexpected.is_empty() {
        return Err(fail(format!(
            "its tensor names do not match the model: {} missing ({}), {} unexpected ({})",
            missing.len(),
            abbreviate(&missing),
            unexpected.len(),
            abbreviate(&unexpected)
        )));
    }
    let mut checked = HashMap::with_capacity(names.len());
    for name in names {
        let (var, src) = (&variables[name], &stored[name.as_str()]);
        if src.size() != var.size() {
            return Err(fail(format!("tensor '{name}' has shape {:?}, the model needs {:?}", src.size(), var.size())));
        }
        if !src.is_floating_point() {
            return Err(fail(format!("tensor '{name}' holds {:?}, not floating-point values", src.kind())));
        }
        let value = src.to_kind(var.kind()).to_device(var.device());
        let finite = value.isfinite().all().int64_value(&[]) == 1;
        if !finite {
            return Err(fail(format!("tensor '{name}' holds NaN or infinite values")));
        }
        checked.insert(name.clone(), value);
    }
    stored.clear();
    Ok((path, checked))
}

/// Copies `tensors` (as [`read_checked`] returns them, or values computed from them) into the
/// variables of `vs` by name; a variable without a tensor is an error.
pub fn assign(vs: &mut VarStore, tensors: &HashMap<String, Tensor>) -> Result<(), PluginError> {
    let _no_grad = upbench_tch::tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        let value = tensors
            .get(&name)
            .ok_or_else(|| PluginError::Failed(format!("no value for the model's tensor '{name}'").into()))?;
        var.f_copy_(value).map_err(|e| PluginError::Failed(format!("cannot set tensor '{name}': {e}").into()))?;
    }
    Ok(())
}

/// [`read_checked`] then [`assign`]: the strict counterpart of [`load`], for models whose
/// checkpoints come in several layouts (a wrong one must be refused, not half-loaded).
pub fn load_checked(vs: &mut VarStore, task: &TaskSpec, weights: &str) -> Result<PathBuf, PluginError> {
    let (path, tensors) = read_checked(vs, task, weights)?;
    assign(vs, &tensors)?;
    Ok(path)
}

/// The first few names of a list, for error messages.
fn abbreviate(names: &[&str]) -> String {
    const SHOWN: usize = 4;
    let mut text = names.iter().take(SHOWN).map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        text.push_str(", …");
    }
    if text.is_empty() {
        text.push_str("none");
    }
    text
}
