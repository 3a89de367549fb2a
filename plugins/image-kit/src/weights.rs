//! Pretrained weights in safetensors files, found by name.

use std::path::{Path, PathBuf};

use upbench_sdk::PluginError;
use upbench_tch::tch::nn::VarStore;

/// The environment variable naming the directory of model files.
pub const MODELS_DIR_VAR: &str = "UPBENCH_MODELS_DIR";

/// Where a `weights` parameter points: absolute paths as given, relative ones under
/// `$UPBENCH_MODELS_DIR` (the harness sets it from `--models-dir`), else under `./models`.
pub fn resolve(weights: &str) -> PathBuf {
    let path = Path::new(weights);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let dir = std::env::var_os(MODELS_DIR_VAR).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("models"));
    dir.join(path)
}

/// Loads every variable of `vs` from the safetensors file `weights` names, by tensor name.
/// Errors name the file, and say how to point at the models directory when it is missing.
pub fn load(vs: &mut VarStore, weights: &str) -> Result<PathBuf, PluginError> {
    let path = resolve(weights);
    if !path.is_file() {
        return Err(PluginError::Failed(
            format!(
                "weights file {} not found (give `weights` as an absolute path, or set {MODELS_DIR_VAR} / \
                 `upbench run --models-dir` to the directory holding it)",
                path.display()
            )
            .into(),
        ));
    }
    vs.load(&path)
        .map_err(|e| PluginError::Failed(format!("cannot load weights from {}: {e}", path.display()).into()))?;
    Ok(path)
}
