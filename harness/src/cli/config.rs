//! [`RunConfig`]: command-line arguments, the suite file and defaults merged into one resolved
//! plan. Nothing past this module sees clap.

use std::path::PathBuf;

use anyhow::Context;

use super::RunArgs;
use crate::pipeline::{executable_dir, RunPlan};
use crate::suite::Suite;

/// A resolved `upbench run`.
pub struct RunConfig {
    /// What the pipeline runs.
    pub plan: RunPlan,
    /// The run's output directory, `<out>/<run-id>`.
    pub run_dir: PathBuf,
    /// Print only the table.
    pub quiet: bool,
}

impl RunConfig {
    /// Resolves `args`: reads the suite, picks the device, names the run.
    pub fn from_args(args: RunArgs) -> anyhow::Result<RunConfig> {
        let exe_dir = executable_dir();
        let mut suite = match &args.suite {
            Some(path) => Suite::load(path)?,
            None => Suite::embedded_default(std::env::current_dir().context("cannot read the current directory")?)?,
        };
        if let Some(threads) = args.threads {
            suite.file.threads = Some(usize::from(threads));
        }
        let device = args.device.resolve()?;
        let mut plugin_dirs = args.plugin_dirs.clone();
        plugin_dirs.extend(suite.file.plugin_dirs.iter().map(|d| {
            if d.is_absolute() {
                d.clone()
            } else {
                suite.base_dir.join(d)
            }
        }));
        plugin_dirs.extend(exe_dir);
        let run_id = format!("{}-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), sanitize(&suite.name));
        let run_dir = unique_dir(args.out.join(&run_id));
        let log_dir = run_dir.join("logs");
        let run_id = run_dir.file_name().and_then(|s| s.to_str()).unwrap_or(&run_id).to_string();
        let data_dir = crate::task::images::data_dir(args.data_dir.as_deref());
        point_plugins_at_models(args.models_dir, &data_dir);
        Ok(RunConfig {
            plan: RunPlan { suite, device, plugin_dirs, log_dir, run_id, data_dir, figure_dir: Some(run_dir.clone()) },
            run_dir,
            quiet: args.quiet,
        })
    }
}

/// Image plugins read `UPBENCH_DATA_DIR` (training images) and `UPBENCH_MODELS_DIR` (weights;
/// see the `image-kit` crate): the first is set to the run's data directory; the second from
/// `--models-dir`, or, when the environment has none, to the `models` folder beside the data
/// directory if there is one (the layout of `../shared`). Called before any plugin is loaded,
/// while the process has one thread.
pub(crate) fn point_plugins_at_models(explicit: Option<PathBuf>, data_dir: &std::path::Path) {
    const VAR: &str = "UPBENCH_MODELS_DIR";
    std::env::set_var(crate::task::images::registry::DATA_DIR_ENV, data_dir.canonicalize().unwrap_or(data_dir.into()));
    let beside_data = || {
        let parent = data_dir.parent()?;
        let dir = if parent.as_os_str().is_empty() { PathBuf::from("models") } else { parent.join("models") };
        dir.is_dir().then_some(dir)
    };
    let chosen = explicit.or_else(|| std::env::var_os(VAR).is_none().then(beside_data).flatten());
    if let Some(dir) = chosen {
        std::env::set_var(VAR, dir.canonicalize().unwrap_or(dir));
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// `dir`, or `dir-2`, `dir-3`… if it exists (two runs in the same second).
fn unique_dir(dir: PathBuf) -> PathBuf {
    if !dir.exists() {
        return dir;
    }
    (2..).map(|i| PathBuf::from(format!("{}-{i}", dir.display()))).find(|d| !d.exists()).unwrap_or(dir)
}
