//! [`RunConfig`]: command-line arguments, the suite file and defaults merged into one resolved
//! plan. Nothing past this module sees clap.

use std::path::PathBuf;

use anyhow::Context;

use super::{IsolationChoice, RunArgs};
use crate::pipeline::Isolation;
use crate::setup::{executable_dir, models_dir, RunPlan};
use crate::suite::Suite;
use crate::worker::WorkerLimits;

/// A resolved `upbench run`.
pub struct RunConfig {
    /// What the pipeline runs.
    pub plan: RunPlan,
    /// The run's output directory, `<out>/<run-id>` (made by [`RunConfig::claim_run_dir`]).
    pub run_dir: PathBuf,
    /// Print only the table.
    pub quiet: bool,
    /// Where cells run.
    pub isolation: Isolation,
    /// The arguments with every path absolute and the data and models directories filled in:
    /// what `--resume` runs the rest with, from any directory.
    pub invocation: RunArgs,
    /// Whether [`RunConfig::claim_run_dir`] created `--out` itself.
    created_out: bool,
}

/// A worker's cell timeout when neither the suite (`cell_timeout`) nor `--cell-timeout` says.
pub const DEFAULT_CELL_TIMEOUT_SECS: u64 = 6 * 3600;

impl RunConfig {
    /// Resolves `args`: reads the suite, picks the device, names the run.
    pub fn from_args(mut args: RunArgs) -> anyhow::Result<RunConfig> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let absolute = |p: &PathBuf| if p.is_absolute() { p.clone() } else { cwd.join(p) };
        args.suite = args.suite.as_ref().map(absolute);
        args.out = absolute(&args.out);
        args.plugin_dirs = args.plugin_dirs.iter().map(absolute).collect();
        args.data_dir = args.data_dir.as_ref().map(absolute);
        args.models_dir = args.models_dir.as_ref().map(absolute);
        let exe_dir = executable_dir();
        let mut suite = match &args.suite {
            Some(path) => Suite::load(path)?,
            None => Suite::embedded_default(cwd.clone())?,
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
        let run_id = match args.shard {
            Some(shard) => format!("shard-{}-of-{}", shard.index, shard.count),
            None => format!("{}-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), sanitize(&suite.name)),
        };
        let run_dir = args.out.join(&run_id);
        let data_dir = absolute(&crate::task::images::data_dir(args.data_dir.as_deref()));
        let models_dir = models_dir(args.models_dir.clone(), &data_dir);
        args.data_dir = Some(data_dir.clone());
        args.models_dir = models_dir.clone();
        let isolation = isolation(&args, &suite, device)?;
        Ok(RunConfig {
            plan: RunPlan {
                suite,
                device,
                plugin_dirs,
                log_dir: run_dir.join("logs"),
                run_id,
                data_dir,
                models_dir,
                figure_dir: Some(run_dir.clone()),
            },
            run_dir,
            quiet: args.quiet,
            isolation,
            invocation: args,
            created_out: false,
        })
    }

    /// The configuration of a command other than `run` that needs a suite's tasks (`judge`,
    /// `export-task`): the suite (or the embedded default), device, data and models directories
    /// and output directory resolved as `run` resolves them; in this process.
    pub fn for_suite(
        suite: Option<PathBuf>,
        device: crate::device::DeviceChoice,
        data_dir: Option<PathBuf>,
        models_dir: Option<PathBuf>,
        out: PathBuf,
        quiet: bool,
    ) -> anyhow::Result<RunConfig> {
        RunConfig::from_args(RunArgs {
            suite,
            resume: None,
            isolation: IsolationChoice::None,
            cell_timeout: None,
            worker_memory: None,
            device,
            out,
            plugin_dirs: Vec::new(),
            data_dir,
            models_dir,
            quiet,
            table: Default::default(),
            json: false,
            threads: None,
            profile: false,
            shard: None,
            check: false,
        })
    }

    /// Creates the run directory under `--out` (`<run-id>`, or `<run-id>-2`… when another run
    /// took that name first) and points the plan at it.
    pub fn claim_run_dir(&mut self) -> anyhow::Result<()> {
        let out = &self.invocation.out;
        self.created_out = !out.exists();
        if self.invocation.shard.is_some() {
            // A shard's directory has a fixed name, so that its siblings and a rerun find it.
            let dir = out.join(&self.plan.run_id);
            std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
                    "{} exists: a shard's run directory is made once; finish it with `upbench run --resume {}`",
                    dir.display(),
                    dir.display()
                ),
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
            }
            self.use_run_dir(dir);
            return Ok(());
        }
        let dir = crate::journal::create_unique_dir(out, &self.plan.run_id)
            .with_context(|| format!("cannot create the run directory under {}", out.display()))?;
        self.use_run_dir(dir);
        Ok(())
    }

    /// Removes the run directory [`RunConfig::claim_run_dir`] made (and `--out` when it made
    /// that too), for a run refused before it started.
    pub fn release_run_dir(&self) {
        let _ = std::fs::remove_dir_all(&self.run_dir);
        if self.created_out {
            let _ = std::fs::remove_dir(&self.invocation.out);
        }
    }

    /// Points the plan at an existing run directory (resume).
    pub fn use_run_dir(&mut self, dir: PathBuf) {
        if let Some(name) = dir.file_name().and_then(|s| s.to_str()) {
            self.plan.run_id = name.to_string();
        }
        self.plan.log_dir = dir.join("logs");
        self.plan.figure_dir = Some(dir.clone());
        self.run_dir = dir;
    }
}

/// Where cells run, from `--isolation`, `--cell-timeout` (else the suite's `cell_timeout`) and
/// `--worker-memory`.
fn isolation(args: &RunArgs, suite: &Suite, device: tch::Device) -> anyhow::Result<Isolation> {
    match args.isolation {
        IsolationChoice::None => {
            if args.cell_timeout.is_some() || args.worker_memory.is_some() {
                anyhow::bail!(
                    "--cell-timeout and --worker-memory limit worker processes: they need --isolation process"
                );
            }
            Ok(Isolation::InProcess)
        }
        IsolationChoice::Process => {
            let memory_bytes = match &args.worker_memory {
                Some(_) if device != tch::Device::Cpu => anyhow::bail!(
                    "--worker-memory limits address space, which CUDA reserves far beyond what it uses: it applies to --device cpu runs only"
                ),
                Some(text) => Some(crate::worker::parse_size(text).map_err(|e| anyhow::anyhow!("--worker-memory {e}"))?),
                None => None,
            };
            let seconds = args.cell_timeout.or(suite.file.cell_timeout).unwrap_or(DEFAULT_CELL_TIMEOUT_SECS);
            let executable = std::env::current_exe().context("cannot find the upbench executable for its workers")?;
            Ok(Isolation::Process {
                executable,
                limits: WorkerLimits { cell_timeout: std::time::Duration::from_secs(seconds), memory_bytes },
            })
        }
    }
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}
