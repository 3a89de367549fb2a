//! Past one machine: `upbench merge` joins the run directories of a suite's shards
//! (`upbench run --shard I/N`) into the run one machine would have made, and `upbench slurm`
//! writes and submits a Slurm job array of shards with a merge job that waits for them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::config::RunConfig;
use super::{MergeArgs, SlurmArgs};
use crate::journal::{create_unique_dir, merge as merge_logs, Journal, MergeError, RunLock};
use crate::report::{read_run, write_run, Exporter, JsonExporter, Outputs, TableExporter};

/// `upbench merge`: exit 1 with the missing cells listed (nothing written) when some shard did
/// not complete; 2 for shards that do not belong together.
pub fn merge(args: MergeArgs) -> anyhow::Result<bool> {
    let parts = args
        .shards
        .iter()
        .map(|dir| Journal::read(dir).map(|journal| (dir.clone(), journal)))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = match merge_logs(&parts) {
        Ok(merged) => merged,
        Err(missing @ MergeError::Missing { .. }) => {
            eprintln!("upbench: {missing}");
            eprintln!("upbench: finish each shard with `upbench run --resume SHARD_DIR` and merge again");
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(header) = merged.header().cloned() else { unreachable!("a merged log has its header") };
    let run_id = format!("{}-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), header.manifest.suite);
    let dir = create_unique_dir(&args.out, &run_id)
        .with_context(|| format!("cannot create a run directory under {}", args.out.display()))?;
    let _lock = RunLock::take(&dir)?;
    let mut journal = Journal::create(&dir, header.clone())?;
    for record in merged.records() {
        journal.append(record)?;
    }
    let mut manifest = header.manifest.clone();
    manifest.run_id = dir.file_name().map_or(run_id, |n| n.to_string_lossy().into_owned());
    // The shards' wall times, summed: the machine time the run took.
    manifest.wall_secs = args.shards.iter().filter_map(|d| read_run(d).ok()).map(|r| r.manifest.wall_secs).sum();
    let report = journal.assemble(manifest);
    let written = write_run(&report, &dir, Outputs::All)?;
    if args.json {
        outln!("{}", String::from_utf8_lossy(&JsonExporter.serialize(&report)?).trim_end());
    } else {
        out!("{}", TableExporter { layout: args.table.layout() }.render(&report));
        if !args.quiet {
            outln!("Merged {} shards: wrote {} files in {}", parts.len(), written.len(), dir.display());
        }
    }
    Ok(report.failures.is_empty())
}

/// `upbench slurm`: the suite checked here first (a bad suite fails before anything is
/// submitted), then `shard.sbatch` and `merge.sbatch` written into a run folder and submitted.
pub fn slurm(args: SlurmArgs) -> anyhow::Result<bool> {
    let device = if args.gpus_per_shard.is_some() {
        crate::device::DeviceChoice::Cuda
    } else {
        crate::device::DeviceChoice::Cpu
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let absolute = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
    let suite = args.suite.as_deref().map(absolute);
    // Checked on this machine's CPU: the shards check again where they run.
    let config = RunConfig::for_suite(
        suite.clone(),
        crate::device::DeviceChoice::Cpu,
        args.data_dir.clone(),
        args.models_dir.clone(),
        args.out.clone(),
        true,
    )?;
    let checked = crate::check::check(&config.plan);
    if !checked.problems.is_empty() {
        anyhow::bail!(
            "{}: problems found before anything was submitted; nothing was submitted:\n{}",
            config.plan.suite.origin,
            checked.describe_problems()
        );
    }
    drop(checked);
    let upbench = std::env::current_exe().context("cannot find the upbench executable")?;
    let dir = create_unique_dir(&absolute(&args.out), &format!("{}-slurm", config.plan.run_id))
        .with_context(|| format!("cannot create a run directory under {}", args.out.display()))?;
    std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("cannot write into {}", dir.display()))?;
    let jobs = SlurmJobs {
        upbench,
        suite,
        dir: dir.clone(),
        shards: args.shards,
        device: match device {
            crate::device::DeviceChoice::Cuda => "cuda",
            _ => "cpu",
        },
        data_dir: config.plan.data_dir.clone(),
        models_dir: args.models_dir.as_deref().map(absolute),
        plugin_dirs: args.plugin_dirs.iter().map(|d| absolute(d)).collect(),
        name: config.plan.suite.name.clone(),
        directives: directives(&args),
    };
    let (shard_script, merge_script) = (dir.join("shard.sbatch"), dir.join("merge.sbatch"));
    write_script(&shard_script, &jobs.shard_script())?;
    write_script(&merge_script, &jobs.merge_script())?;
    if args.dry_run {
        outln!("Wrote {} and {}; submit them with:", shard_script.display(), merge_script.display());
        outln!("  array=$(sbatch --parsable {})", shard_script.display());
        outln!("  sbatch --dependency=afterany:${{array%%;*}} {}", merge_script.display());
        return Ok(true);
    }
    let array = sbatch(&[shard_script.as_os_str()])?;
    let dependency = format!("--dependency=afterany:{array}");
    let merge = sbatch(&[dependency.as_ref(), merge_script.as_os_str()])?;
    std::fs::write(
        dir.join("jobs.json"),
        serde_json::to_vec_pretty(&serde_json::json!({ "array": array, "merge": merge }))?,
    )?;
    outln!("Submitted job array {array} ({} shards) and merge job {merge} (after every shard ends).", args.shards);
    outln!("  watch:   squeue --jobs={array},{merge}");
    outln!("  logs:    {}/logs/", dir.display());
    outln!(
        "  shards:  {}/shards/shard-I-of-{}/ (a stopped shard: sbatch --array=I {})",
        dir.display(),
        args.shards,
        shard_script.display()
    );
    outln!("  results: {}/merged/ once job {merge} ends", dir.display());
    Ok(true)
}

/// What the generated scripts need.
struct SlurmJobs {
    upbench: PathBuf,
    suite: Option<PathBuf>,
    dir: PathBuf,
    shards: u32,
    device: &'static str,
    data_dir: PathBuf,
    models_dir: Option<PathBuf>,
    plugin_dirs: Vec<PathBuf>,
    name: String,
    directives: Vec<String>,
}

/// `#SBATCH` lines for `--partition`, `--gres` and `--time`.
fn directives(args: &SlurmArgs) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(partition) = &args.partition {
        lines.push(format!("#SBATCH --partition={partition}"));
    }
    if let Some(gpus) = args.gpus_per_shard {
        lines.push(format!("#SBATCH --gres=gpu:{gpus}"));
    }
    if let Some(time) = &args.time {
        lines.push(format!("#SBATCH --time={time}"));
    }
    lines
}

/// A word for a shell script, single-quoted.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

impl SlurmJobs {
    /// The `#SBATCH` lines and the variables both scripts start with.
    fn preamble(&self, job: &str, output: &str, directives: &[&String]) -> String {
        let mut lines = vec![
            "#!/usr/bin/env bash".to_string(),
            format!("#SBATCH --job-name={job}"),
            // sbatch reads directives itself, without a shell: no quoting here.
            format!("#SBATCH --output={}/logs/{output}", self.dir.display()),
        ];
        lines.extend(directives.iter().map(|d| d.to_string()));
        lines.join("\n")
    }

    fn shard_script(&self) -> String {
        let n = self.shards;
        let mut run = vec!["\"$upbench\" run".to_string()];
        run.extend(self.suite.as_deref().map(quoted));
        run.extend([
            format!("--shard \"$SLURM_ARRAY_TASK_ID/{n}\""),
            "--out \"$run/shards\"".into(),
            format!("--device {}", self.device),
        ]);
        run.push(format!("--data-dir {}", quoted(&self.data_dir)));
        run.extend(self.models_dir.as_deref().map(|d| format!("--models-dir {}", quoted(d))));
        run.extend(self.plugin_dirs.iter().map(|d| format!("--plugin-dir {}", quoted(d))));
        run.push("--quiet".into());
        let mut directives = vec![format!("#SBATCH --array=1-{n}")];
        directives.extend(self.directives.iter().cloned());
        format!(
            r#"{preamble}
# Written by `upbench slurm`; edit and resubmit freely. Array task I runs shard I of {n} of the
# suite's cells into shards/shard-I-of-{n} of this folder. A shard that was stopped (a node
# failure, pre-emption, its time limit) continues where it stopped when resubmitted alone:
#   sbatch --array=I {script}
# GPUs: a shard runs on the first device in CUDA_VISIBLE_DEVICES, which Slurm sets from --gres.
set -uo pipefail
run={run_dir}
upbench={upbench}
shard_dir="$run/shards/shard-$SLURM_ARRAY_TASK_ID-of-{n}"
if [ -f "$shard_dir/run.jsonl" ]; then
    "$upbench" run --resume "$shard_dir" --quiet
else
    rm -rf "$shard_dir"
    {run_command}
fi
status=$?
# 1: the shard ran and recorded failed cells (the merged report lists them); more: it did not run.
[ "$status" -le 1 ] && exit 0 || exit "$status"
"#,
            preamble = self.preamble(
                &format!("upbench-{}", self.name),
                "shard-%a.out",
                &directives.iter().collect::<Vec<_>>()
            ),
            script = self.dir.join("shard.sbatch").display(),
            run_dir = quoted(&self.dir),
            upbench = quoted(&self.upbench),
            run_command = run.join(" \\\n        "),
        )
    }

    fn merge_script(&self) -> String {
        let directives: Vec<&String> = self.directives.iter().filter(|d| !d.contains("--gres")).collect();
        format!(
            r#"{preamble}
# Written by `upbench slurm`, submitted with --dependency=afterany on the shards' array: it runs
# once every shard has ended, however it ended (afterok would leave it pending for ever when one
# shard dies), and joins the shards into merged/ of this folder, or names the cells that are
# missing and exits 1. After finishing those shards (see shard.sbatch), run it again:
#   sbatch {script}
set -uo pipefail
shopt -s nullglob
run={run_dir}
exec {upbench} merge "$run"/shards/shard-*-of-{n} --out "$run/merged" --quiet
"#,
            preamble = self.preamble(&format!("upbench-{}-merge", self.name), "merge.out", &directives),
            script = self.dir.join("merge.sbatch").display(),
            run_dir = quoted(&self.dir),
            upbench = quoted(&self.upbench),
            n = self.shards,
        )
    }
}

fn write_script(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).with_context(|| path.display().to_string())
}

/// `sbatch --parsable ARGS…`: the job id.
fn sbatch(args: &[&std::ffi::OsStr]) -> anyhow::Result<String> {
    let out = std::process::Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .context("cannot run sbatch: is this a Slurm submit host (sbatch on PATH)? `--dry-run` writes the scripts without submitting")?;
    if !out.status.success() {
        anyhow::bail!("sbatch {args:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or_default().to_string();
    if id.is_empty() {
        anyhow::bail!("sbatch printed no job id");
    }
    Ok(id)
}
