//! The command line: clap [`Args`] only parse; [`config::RunConfig`] resolves them with the
//! suite and defaults; the commands live one per file.

/// `println!` that returns a write error (a closed stdout: `upbench theory | head -1`) from the
/// enclosing function instead of panicking; `main` ends quietly on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

/// `print!` as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)?
    }};
}

mod check_plugin_cmd;
mod cluster_cmd;
mod compare_cmd;
pub mod config;
mod data_cmd;
mod estimate_cmd;
mod external_cmd;
mod new_plugin_cmd;
mod plugins_cmd;
mod report_cmd;
mod run_cmd;
mod study_cmd;
mod theory_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::device::DeviceChoice;

/// upbench: how much do restoration models hallucinate, measured against the
/// uncertainty–perception bound?
#[derive(Debug, Parser)]
#[command(name = "upbench", version, about, long_about = None)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a benchmark suite and print the score table (the embedded default suite without a file).
    Run(RunArgs),
    /// List the plugins in directories: what loads, with metadata and parameters, and why the rest does not.
    Plugins(PluginsArgs),
    /// Tabulate η(P; d) and the bound η(P; d)·N(X|Y).
    Theory(TheoryArgs),
    /// Run the estimators on your own samples stored as .npy files.
    Estimate(EstimateArgs),
    /// Measure the estimators' accuracy against exact values and write it as Markdown (docs/estimators.md).
    Study(StudyArgs),
    /// Compare two runs: per configuration, the changes of U, P, U/bound and MSE and whether they exceed the intervals.
    Compare(CompareArgs),
    /// Rebuild a run's tables, plots, index.html and report.md from its results.json.
    Report(ReportArgs),
    /// Check a built plugin library against the SDK's contract (what every run relies on), without running a suite.
    CheckPlugin(CheckPluginArgs),
    /// Scaffold a plugin crate outside the workspace: a working model, its conformance test, a suite that scores it.
    NewPlugin(NewPluginArgs),
    /// List the registered image sets, fetch them (--fetch) and check a data directory against their SHA-256 checksums.
    Data(DataArgs),
    /// Write what a model needs to solve a suite's task as .npy files with a manifest (task.json), for models run outside upbench.
    ExportTask(ExportTaskArgs),
    /// Judge samples made outside upbench (.npy, for a task `export-task` wrote) exactly as a plugin's: table, verdict, report.
    Judge(JudgeArgs),
    /// Join the run directories of a suite's shards (`run --shard I/N`) into the run a single machine would have made.
    Merge(MergeArgs),
    /// Run a suite on a Slurm cluster: a job array of shards and a merge job that waits for them.
    Slurm(SlurmArgs),
    /// Serve cells to `upbench run` (started by it, one process at a time; not for people).
    #[command(hide = true)]
    Worker,
}

/// `upbench data`.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Sets to check (all when omitted): set5, set14, bsd100, kodak24.
    pub sets: Vec<String>,
    /// The data directory (else UPBENCH_DATA_DIR, else ./datasets).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Download what is missing or corrupt first, checking every checksum.
    #[arg(long)]
    pub fetch: bool,
    /// A mirror to fetch from instead of each set's public source: a directory or URL holding
    /// `<set>/<file>` under the source's file names (see benchmarks/datasets.toml).
    #[arg(long, requires = "fetch")]
    pub from: Option<String>,
}

/// `upbench export-task`.
#[derive(Debug, clap::Args)]
pub struct ExportTaskArgs {
    /// Suite file (TOML); the embedded default suite when omitted.
    pub suite: Option<PathBuf>,
    /// The task to export (every task when omitted: one folder per task under --out).
    #[arg(long)]
    pub task: Option<String>,
    /// The directory to write into.
    #[arg(long)]
    pub out: PathBuf,
    /// The device the task's data is drawn on, as for `run` (judge on the same one).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Where image tasks find their sets (else UPBENCH_DATA_DIR, else ./datasets).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// As for `run`.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
}

/// `upbench judge`.
#[derive(Debug, clap::Args)]
pub struct JudgeArgs {
    /// Suite file (TOML); the embedded default suite when omitted.
    pub suite: Option<PathBuf>,
    /// The task the samples answer.
    #[arg(long)]
    pub task: String,
    /// The samples: one .npy file (exact tasks: [n, K, d] or [n, d]; image tasks of one image
    /// size: [n, K, C, H, W] or [n, C, H, W]), or a directory holding each input's samples file
    /// as task.json names it (image tasks: one [K, C, H, W] or [C, H, W] file per image).
    #[arg(long)]
    pub samples: PathBuf,
    /// The directory `export-task` wrote (default: the nearest one holding task.json at or
    /// above the samples).
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// The table's name for the samples (default: the samples' file or folder name).
    #[arg(long)]
    pub label: Option<String>,
    /// Directory under which the judgement's `<run-id>/` folder is written.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// The device, as for `run` and `export-task`.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Where image tasks find their sets (else UPBENCH_DATA_DIR, else ./datasets).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// As for `run`.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Print only the table.
    #[arg(long, short)]
    pub quiet: bool,
    /// How the table is printed (`--wide`).
    #[command(flatten)]
    pub table: TableArgs,
    /// Print the results (results.json's content) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `upbench report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run directory (or its results.json).
    pub run_dir: PathBuf,
    /// Do not print the score table.
    #[arg(long, short)]
    pub quiet: bool,
    /// How the table is printed (`--wide`).
    #[command(flatten)]
    pub table: TableArgs,
}

/// How a command prints its score table on standard output.
#[derive(Debug, Clone, Copy, Default, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct TableArgs {
    /// Print the table with every column and whole intervals, however wide (default: the
    /// narrow table, fitted to the terminal, or to 120 columns when stdout is not one;
    /// table.txt always has every column).
    #[arg(long)]
    #[serde(default)]
    pub wide: bool,
}

impl TableArgs {
    /// The table's layout on standard output.
    pub fn layout(self) -> crate::report::TableLayout {
        crate::report::TableLayout::for_stdout(self.wide)
    }
}

/// `upbench compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The first (baseline) run directory or results.json.
    pub before: PathBuf,
    /// The second run directory or results.json.
    pub after: PathBuf,
    /// Print Markdown (for a pull request) instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when any configuration changed beyond its intervals, region or verdict,
    /// or is missing from the second run.
    #[arg(long)]
    pub fail_on_change: bool,
}

/// `upbench study`.
#[derive(Debug, clap::Args)]
pub struct StudyArgs {
    /// Output file (stdout when omitted), e.g. docs/estimators.md.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A small grid (d ≤ 16, n ≤ 4000, one repetition) for a quick look.
    #[arg(long)]
    pub quick: bool,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Seed of every sample.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// A speed table to include (docs/knn-speed-cpu.md, docs/knn-speed-cuda.md: written by
    /// scripts/bench-knn and scripts/gpu-check, which measure where the study cannot).
    #[arg(long = "speed", value_name = "FILE")]
    pub speed_tables: Vec<PathBuf>,
}

/// `upbench run`. Serialisable: the run log keeps it for `--resume`.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct RunArgs {
    /// Suite file (TOML); the embedded default suite when omitted.
    pub suite: Option<PathBuf>,
    /// Finish an interrupted run in its directory: checks that the suite and the plugin
    /// libraries still match, skips the cells it completed and runs the rest with its settings.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["suite", "check"])]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Where cells (a task × a plugin configuration) run: in worker processes, so that a plugin
    /// that crashes, aborts, hangs or exhausts memory costs only its own cell, or in this
    /// process (`none`).
    #[arg(long, value_enum, default_value_t = IsolationChoice::Process)]
    pub isolation: IsolationChoice,
    /// Seconds a cell may run before its worker is killed and the cell recorded as failed (else
    /// the suite's `cell_timeout`, else six hours).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub cell_timeout: Option<u64>,
    /// Address-space limit of each worker, e.g. `16G` (CPU runs): a cell that allocates more
    /// fails alone.
    #[arg(long, value_name = "SIZE")]
    pub worker_memory: Option<String>,
    /// Compute device.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Directory under which the run's `<run-id>/` folder is written.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// More directories to search for plugins (before the executable's own).
    #[arg(long = "plugin-dir")]
    pub plugin_dirs: Vec<PathBuf>,
    /// Where image tasks find their sets (else UPBENCH_DATA_DIR, else ./datasets).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where model plugins find their weights (else UPBENCH_MODELS_DIR, else a `models` folder
    /// beside the data directory).
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// No progress on stderr; print only the table.
    #[arg(long, short)]
    pub quiet: bool,
    /// How the table is printed (`--wide`).
    #[command(flatten)]
    #[serde(flatten)]
    pub table: TableArgs,
    /// Print the results (results.json's content) on stdout instead of the table, for scripts.
    #[arg(long)]
    pub json: bool,
    /// libtorch CPU threads (overrides the suite's `threads`; default 1, at which results are
    /// reproducible bit for bit).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// After the table, print where the run's time went, by stage (results.json's `profile`).
    #[arg(long)]
    #[serde(default)]
    pub profile: bool,
    /// Run shard I of N (e.g. `2/3`): a deterministic, cost-balanced part of the suite's cells,
    /// written to `shard-I-of-N` under --out; `upbench merge` joins the shards' run directories.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, conflicts_with = "check")]
    pub shard: Option<ShardArg>,
    /// Only check the suite (plugins, parameters, configurations, tasks, data) and run nothing:
    /// exit 0 when it is ready, 2 with every problem listed when it is not. Every run makes the
    /// same checks first.
    #[arg(long, conflicts_with = "json")]
    pub check: bool,
}

/// `run --shard I/N`: shard I (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardArg {
    /// I, from 1.
    pub index: usize,
    /// N.
    pub count: usize,
}

fn parse_shard(text: &str) -> Result<ShardArg, String> {
    let bad = || format!("'{text}' is not a shard I/N with 1 ≤ I ≤ N (e.g. 2/3)");
    let (index, count) = text.split_once('/').ok_or_else(bad)?;
    let (index, count): (usize, usize) =
        (index.trim().parse().map_err(|_| bad())?, count.trim().parse().map_err(|_| bad())?);
    if index == 0 || index > count {
        return Err(bad());
    }
    Ok(ShardArg { index, count })
}

/// `upbench merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' run directories (made by `upbench run --shard I/N`).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Directory under which the merged run's `<run-id>/` folder is written.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Print only the table.
    #[arg(long, short)]
    pub quiet: bool,
    /// How the table is printed (`--wide`).
    #[command(flatten)]
    pub table: TableArgs,
    /// Print the results (results.json's content) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `upbench slurm`.
#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    /// Suite file (TOML); the embedded default suite when omitted.
    pub suite: Option<PathBuf>,
    /// Shards: the job array's size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,
    /// The partition to submit to (the cluster's default when omitted).
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per shard (`--gres=gpu:G`); the shards then run on CUDA.
    #[arg(long, value_name = "G")]
    pub gpus_per_shard: Option<u32>,
    /// Time limit of each shard and of the merge, in a form sbatch takes (e.g. `4:00:00`).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// A directory every node sees, under which the run's `<run-id>-slurm/` folder is written.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Where image tasks find their sets, on every node (else UPBENCH_DATA_DIR, else ./datasets).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where model plugins find their weights, on every node.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// More directories to search for plugins.
    #[arg(long = "plugin-dir")]
    pub plugin_dirs: Vec<PathBuf>,
    /// Write the sbatch scripts and print the commands, but submit nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `run --isolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationChoice {
    /// Each cell in a worker process (`upbench worker`); a fresh worker after a crash.
    Process,
    /// Every cell in the `upbench run` process itself.
    None,
}

/// `upbench check-plugin`.
#[derive(Debug, clap::Args)]
pub struct CheckPluginArgs {
    /// The plugin library (`lib….so`).
    pub library: PathBuf,
    /// Task kinds to check on (repeatable; every kind the plugin declares by default).
    #[arg(long = "task", value_name = "KIND")]
    pub tasks: Vec<String>,
    /// A parameter as NAME=VALUE with a TOML value (repeatable; an array checks every value).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Signal dimension d of exact tasks (default 4).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Colour channels of image tasks (default 3).
    #[arg(long)]
    pub channels: Option<u32>,
    /// Super-resolution factor (default 4).
    #[arg(long)]
    pub scale: Option<u32>,
    /// Noise σ (exact tasks: default 0.5; image denoising: 25/255; otherwise 0).
    #[arg(long)]
    pub noise_std: Option<f64>,
    /// Where the plugin finds training images (UPBENCH_DATA_DIR), as for `run`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where the plugin finds its weights (UPBENCH_MODELS_DIR), as for `run`.
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
}

/// `upbench new-plugin`.
#[derive(Debug, clap::Args)]
pub struct NewPluginArgs {
    /// The plugin's name: lower-case letters, digits and '-' (the crate and the name suites use).
    pub name: String,
    /// The tasks its model solves.
    #[arg(long, value_enum, default_value_t = ScaffoldKind::Exact)]
    pub kind: ScaffoldKind,
    /// Write the model with tch (libtorch) through the `upbench-tch` kit instead of plain Rust.
    #[arg(long)]
    pub tch: bool,
    /// Directory the crate's folder is created in.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// `new-plugin --kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaffoldKind {
    /// Exact tasks (denoising, inpainting, super-resolution of vectors with a known prior).
    Exact,
    /// Image tasks (super-resolution, denoising, inpainting of photographs).
    Image,
}

/// `upbench plugins`.
#[derive(Debug, clap::Args)]
pub struct PluginsArgs {
    /// Directories (or library files) to inspect; the executable's directory by default.
    pub dirs: Vec<PathBuf>,
}

/// `upbench theory`.
#[derive(Debug, clap::Args)]
pub struct TheoryArgs {
    /// Dimensions d.
    #[arg(long = "dim", short, num_args = 1.., default_values_t = vec![1usize, 16, 64, 243, 2048])]
    pub dims: Vec<usize>,
    /// Perception indices P (nats).
    #[arg(long = "perception", short, num_args = 1.., default_values_t = vec![0.0, 0.1, 1.0, 2.0, 10.0, 100.0])]
    pub perceptions: Vec<f64>,
    /// N(X|Y): when given, the table shows the bound η·N(X|Y) instead of η.
    #[arg(long)]
    pub inherent: Option<f64>,
    /// Also tabulate the paper's Example 1 curves (symmetric KL, both conventions).
    #[arg(long)]
    pub example1: bool,
}

/// `upbench estimate`.
#[derive(Debug, clap::Args)]
pub struct EstimateArgs {
    /// Errors x̂ − x, shape [n, K, d] (float32 or float64): the uncertainty U = N(X̂ − X | Y).
    #[arg(long)]
    pub errors: Option<PathBuf>,
    /// Model samples, shape [n, K, d]: with --reference, the perception index P.
    #[arg(long, requires = "reference")]
    pub samples: Option<PathBuf>,
    /// Posterior samples, shape [n, K', d].
    #[arg(long, requires = "samples")]
    pub reference: Option<PathBuf>,
    /// The estimator.
    #[arg(long, value_enum, default_value_t = EstimatorChoice::Gaussian)]
    pub estimator: EstimatorChoice,
    /// k of the k-NN estimators.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Order α of the k-NN Rényi divergence, in (0, 1).
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// Correct the k-NN entropy's bias (whitening and a Gaussian reference of the same n, d, k).
    #[arg(long)]
    pub knn_bias_correction: bool,
    /// Add uniform noise of this width to every value first (quantised data: one grey level),
    /// which removes ties for the k-NN estimators.
    #[arg(long)]
    pub dequantize: Option<f64>,
    /// Confidence level of the bootstrap intervals (over the n observations).
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Seed of the bootstrap and of the dequantisation noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `--estimator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EstimatorChoice {
    /// Fitted Gaussians and closed forms.
    Gaussian,
    /// Kozachenko–Leonenko entropy and Póczos–Schneider Rényi divergence (plus Wang–Kulkarni–Verdú KL).
    Knn,
}

/// Runs a parsed command line; `Ok(false)` means it ran but something failed along the way.
pub fn run(args: Args) -> anyhow::Result<bool> {
    match args.command {
        Command::Run(a) => run_cmd::run(a),
        Command::Plugins(a) => plugins_cmd::run(a),
        Command::Theory(a) => theory_cmd::run(a),
        Command::Estimate(a) => estimate_cmd::run(a),
        Command::Study(a) => study_cmd::run(a),
        Command::Data(a) => data_cmd::run(a),
        Command::CheckPlugin(a) => check_plugin_cmd::run(a),
        Command::NewPlugin(a) => new_plugin_cmd::run(a),
        Command::Report(a) => report_cmd::run(a),
        Command::Compare(a) => compare_cmd::run(a),
        Command::ExportTask(a) => external_cmd::export(a),
        Command::Merge(a) => cluster_cmd::merge(a),
        Command::Slurm(a) => cluster_cmd::slurm(a),
        Command::Judge(a) => external_cmd::judge(a),
        Command::Worker => crate::worker::serve().map(|()| true),
    }
}
