//! A run's setup, resolved: the suite with the device, the directories and the run's id
//! ([`RunPlan`]), as the CLI's configuration layer (`cli::RunConfig`) hands it to every stage
//! above this one. Nothing here parses arguments.

use std::path::{Path, PathBuf};

use crate::suite::Suite;

/// Everything a run needs, resolved (see `cli::RunConfig`).
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The suite.
    pub suite: Suite,
    /// The device to run on.
    pub device: tch::Device,
    /// Directories to look for plugins named in the suite, in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// Where layout reports and other logs go.
    pub log_dir: PathBuf,
    /// The run's id.
    pub run_id: String,
    /// Where image tasks find their sets.
    pub data_dir: PathBuf,
    /// Where pretrained weights and metric parameter files are (`--models-dir`, else
    /// `$UPBENCH_MODELS_DIR`, else a `models` folder beside the data directory); `None`: none.
    pub models_dir: Option<PathBuf>,
    /// The run directory, where image tasks write their sample grids (`None`: no grids).
    pub figure_dir: Option<PathBuf>,
}

/// The default plugin directory: where the running executable lives (cargo puts plugin
/// libraries beside the `upbench` binary).
pub fn executable_dir() -> Option<PathBuf> {
    std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf))
}

impl RunPlan {
    /// Where the quality metrics' parameter files are: the run's models directory
    /// (`--models-dir`, else `UPBENCH_MODELS_DIR`, else the `models` folder beside the data
    /// directory, as the command line resolved it), else that folder.
    pub fn metrics_models_dir(&self) -> PathBuf {
        self.models_dir
            .clone()
            .or_else(|| models_dir(None, &self.data_dir))
            .unwrap_or_else(|| beside_data(&self.data_dir))
    }

    /// `spec` as plugins receive it in this run: with the run's models and data directories.
    pub fn plugin_spec(&self, spec: upbench_sdk::TaskSpec) -> upbench_sdk::TaskSpec {
        with_directories(spec, self.models_dir.as_deref(), &self.data_dir)
    }
}

/// The run's models directory, which plugins receive in their task spec (SDK 1.3) and the
/// metrics read: `explicit` (`--models-dir`), else `$UPBENCH_MODELS_DIR`, else the `models`
/// folder beside the data directory if there is one (the layout of `../shared`); made absolute.
pub fn models_dir(explicit: Option<PathBuf>, data_dir: &Path) -> Option<PathBuf> {
    let beside = || Some(beside_data(data_dir)).filter(|dir| dir.is_dir());
    let chosen = explicit.or_else(|| std::env::var_os("UPBENCH_MODELS_DIR").map(PathBuf::from)).or_else(beside)?;
    Some(chosen.canonicalize().unwrap_or(chosen))
}

/// The `models` folder beside `data_dir` (`../shared/models` for `../shared/datasets`).
fn beside_data(data_dir: &Path) -> PathBuf {
    match data_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("models"),
        _ => PathBuf::from("models"),
    }
}

/// `spec` with a models and a data directory as SDK 1.3 task extensions, so that plugins find
/// their files through the task and the process environment is never written (a run, and
/// `upbench check-plugin`, which tells a plugin what a run would).
pub fn with_directories(
    spec: upbench_sdk::TaskSpec,
    models_dir: Option<&Path>,
    data_dir: &Path,
) -> upbench_sdk::TaskSpec {
    let text = |dir: &Path| dir.to_string_lossy().into_owned();
    spec.with_directories(models_dir.map(text).as_deref(), Some(&text(data_dir)))
}
