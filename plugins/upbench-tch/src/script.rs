//! TorchScript files (`torch.jit.script(m).save(path)`): loaded on a device in eval mode, and
//! libtorch's errors cut to what TorchScript said. One code path for every `.pt` file upbench
//! reads: the `torchscript` plugin's models and a suite's own quality metrics (`[[metric]]`).

use std::path::{Path, PathBuf};

use tch::{CModule, Device};

/// Why a TorchScript file could not be loaded; `Display` is one line naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The file.
    pub path: PathBuf,
    /// Whether the file exists (a missing file is a wrong path; an existing one a wrong file).
    pub missing: bool,
    /// What is wrong: `no such file`, or what libtorch said.
    pub reason: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for ScriptError {}

/// The module in `path`, loaded on `device` and switched to eval mode; a missing file or one
/// that libtorch cannot load as TorchScript is a [`ScriptError`] saying which and why.
pub fn load_module(path: &Path, device: Device) -> Result<CModule, ScriptError> {
    let error = |missing: bool, reason: String| ScriptError { path: path.to_path_buf(), missing, reason };
    if !path.is_file() {
        return Err(error(true, "no such file".into()));
    }
    let mut module = CModule::load_on_device(path, device)
        .map_err(|e| error(false, format!("cannot be loaded as TorchScript: {}", torch_message(&e))))?;
    module.f_set_eval().map_err(|e| error(false, torch_message(&e)))?;
    Ok(module)
}

/// libtorch's message without its C++ backtrace: what TorchScript said (the schema check, or the
/// Python exception raised inside the module).
pub fn torch_message(e: &tch::TchError) -> String {
    let text = e.to_string();
    let text = text.strip_prefix("Internal torch error: ").unwrap_or(&text);
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Exception raised from"))
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    // An exception raised inside the module: the interpreter's traceback ends with its message.
    if let Some(last) = lines.iter().rev().find(|l| l.starts_with("builtins.") || l.contains("Error: ")) {
        if lines.first().is_some_and(|f| f.contains("TorchScript interpreter")) {
            return last.trim().to_string();
        }
    }
    lines.into_iter().take(4).map(str::trim).collect::<Vec<_>>().join(" ")
}
