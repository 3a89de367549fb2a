//! Loading plugin libraries with abi_stable.
//!
//! `RootModule::load_from_file` caches one library per root-module type per process, so a second
//! plugin would silently alias the first; each library is therefore opened with
//! `lib_header_from_path(..).init_root_module()` (`stack-notes.md`). Libraries are never
//! unloaded.

use std::fmt;
use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use sha2::{Digest, Sha256};
use upbench_sdk::{ModelBox, Params, PluginError, PluginMetadata, PluginModuleRef, TaskSpec};

/// A plugin library that loaded and described itself.
pub struct LoadedPlugin {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Its self-description.
    pub metadata: PluginMetadata,
    /// SHA-256 of the library file, hex, for the run manifest.
    pub sha256: String,
    /// The upbench-sdk version the plugin was built against.
    pub sdk_version: String,
    module: PluginModuleRef,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin").field("path", &self.path).field("name", &self.metadata.name).finish()
    }
}

impl LoadedPlugin {
    /// The plugin's name.
    pub fn name(&self) -> &str {
        self.metadata.name.as_str()
    }

    /// Whether `model`'s configuration samples: the model says so after construction, and a
    /// plugin whose metadata says deterministic is never believed to sample.
    pub fn samples(&self, model: &ModelBox) -> bool {
        self.metadata.stochastic && model.stochastic()
    }

    /// The root module, for the SDK's conformance checks (`upbench check-plugin`).
    pub fn module(&self) -> PluginModuleRef {
        self.module
    }

    /// Builds a model for `task`; panics inside the plugin come back as errors.
    pub fn new_model(&self, params: &Params, task: &TaskSpec) -> Result<ModelBox, PluginError> {
        (self.module.new_model())(params, task).into_result().map_err(PluginError::from)
    }
}

/// Why a library could not be used as a plugin. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No such file.
    #[error("{path}: no such file")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The dynamic loader refused it.
    #[error("{path}: cannot be opened as a library: {reason}")]
    Open {
        /// The path.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// A library, but without the upbench root module.
    #[error("{path}: not an upbench plugin (it exports no abi_stable root module)")]
    NotAPlugin {
        /// The path.
        path: PathBuf,
    },
    /// Built against an SDK whose version is incompatible.
    #[error("{path}: built against upbench-sdk {found}, this harness needs a version compatible with {expected}; rebuild the plugin against the current SDK")]
    IncompatibleVersion {
        /// The path.
        path: PathBuf,
        /// The harness's SDK version.
        expected: String,
        /// The plugin's.
        found: String,
    },
    /// A compatible version number, but a layout that differs.
    #[error("{path}: built against upbench-sdk {found}, whose layout this harness (upbench-sdk {expected}) cannot use: {summary} (full layout report: {log})")]
    IncompatibleLayout {
        /// The path.
        path: PathBuf,
        /// The harness's SDK version.
        expected: String,
        /// The plugin's.
        found: String,
        /// The mismatching item, in one line.
        summary: String,
        /// Where the full abi_stable report was written.
        log: String,
    },
    /// The plugin's `metadata` entry point failed.
    #[error("{path}: its metadata could not be read: {cause}")]
    Metadata {
        /// The path.
        path: PathBuf,
        /// The plugin's error (in the message, so not also a `source`).
        cause: PluginError,
    },
    /// Any other abi_stable failure.
    #[error("{path}: {reason}")]
    Other {
        /// The path.
        path: PathBuf,
        /// abi_stable's message.
        reason: String,
    },
}

/// Whether `path` has the platform's shared-library extension.
pub fn is_library(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("so" | "dylib" | "dll"))
}

/// Loads the plugin library at `path`. A layout mismatch's full report goes to a file in
/// `log_dir` (created if needed).
pub fn load(path: &Path, log_dir: &Path) -> Result<LoadedPlugin, LoadError> {
    let path = path.to_path_buf();
    if !path.is_file() {
        return Err(LoadError::Missing { path });
    }
    let bytes = std::fs::read(&path).map_err(|e| LoadError::Open { path: path.clone(), reason: e.to_string() })?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    let header = lib_header_from_path(&path).map_err(|e| classify(path.clone(), e, "unknown", log_dir))?;
    let sdk_version = header.version_strings().to_string();
    let module =
        header.init_root_module::<PluginModuleRef>().map_err(|e| classify(path.clone(), e, &sdk_version, log_dir))?;
    let metadata = (module.metadata())()
        .into_result()
        .map_err(|cause| LoadError::Metadata { path: path.clone(), cause: cause.into() })?;
    Ok(LoadedPlugin { path, metadata, sha256, sdk_version, module })
}

/// The harness's own SDK version, as abi_stable compares it.
pub fn harness_sdk_version() -> String {
    <PluginModuleRef as RootModule>::VERSION_STRINGS.to_string()
}

/// `plugin_sdk` is the version the library says it was built against.
fn classify(path: PathBuf, err: LibraryError, plugin_sdk: &str, log_dir: &Path) -> LoadError {
    match err {
        LibraryError::OpenError { err, .. } => LoadError::Open { path, reason: err.to_string() },
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin { path },
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => {
            LoadError::IncompatibleVersion {
                path,
                expected: expected_version.to_string(),
                found: actual_version.to_string(),
            }
        }
        LibraryError::AbiInstability(report) => {
            let report = report.to_string();
            let summary = summarize_layout_report(&report);
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
            let log = log_dir.join(format!("{stem}.layout-error.log"));
            let log = match std::fs::create_dir_all(log_dir).and_then(|_| std::fs::write(&log, &report)) {
                Ok(()) => log.display().to_string(),
                Err(e) => format!("not written: {e}"),
            };
            LoadError::IncompatibleLayout {
                path,
                expected: harness_sdk_version(),
                found: plugin_sdk.to_string(),
                summary,
                log,
            }
        }
        other => LoadError::Other { path, reason: other.to_string() },
    }
}

/// One line out of abi_stable's layout report (hundreds of lines): its first "Error:" with the
/// expected and found items, and how many more mismatches follow.
pub(crate) fn summarize_layout_report(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let errors: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("Error:")).collect();
    let Some(&first) = errors.first() else {
        return "layout mismatch".into();
    };
    let value_after = |label: &str| {
        lines[first..]
            .iter()
            .position(|l| *l == label)
            .and_then(|p| lines[first + p + 1..].iter().find(|l| !l.is_empty()))
            .map(|l| l.to_string())
    };
    let mut summary = lines[first].trim_start_matches("Error:").trim().to_string();
    if let (Some(expected), Some(found)) = (value_after("Expected:"), value_after("Found:")) {
        summary.push_str(&format!(": expected `{expected}`, found `{found}`"));
    }
    if errors.len() > 1 {
        summary.push_str(&format!(" (and {} more mismatches)", errors.len() - 1));
    }
    summary
}

/// Loads every library in `dir` (not recursing): the plugins, and for each other library the
/// reason it is not one.
pub fn scan(dir: &Path, log_dir: &Path) -> std::io::Result<(Vec<LoadedPlugin>, Vec<LoadError>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_library(p))
        .collect();
    paths.sort();
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for path in paths {
        match load(&path, log_dir) {
            Ok(p) => ok.push(p),
            Err(e) => failed.push(e),
        }
    }
    Ok((ok, failed))
}

#[cfg(test)]
mod tests {
    use super::summarize_layout_report;

    #[test]
    fn layout_report_becomes_one_line() {
        let report = "Layout of expected type:\n  lots\n\nError:mismatched type\nExpected:\n    RResult\nFound:\n    u64\n4 error(s)inside:\n\nError:too many fields\nExpected:\n    3\nFound:\n    2\n";
        assert_eq!(
            summarize_layout_report(report),
            "mismatched type: expected `RResult`, found `u64` (and 1 more mismatches)"
        );
    }
}
