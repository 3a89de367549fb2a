//! `upbench export-task` and `upbench judge`: models that run outside upbench. A task's inputs go
//! out as `.npy` files with a manifest; samples made by any framework come back and are judged
//! exactly as a plugin's are (`pipeline::judge_samples`).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::config::RunConfig;
use super::{ExportTaskArgs, JudgeArgs};
use crate::engine::{export_task, judge_samples, SamplesAt, MANIFEST};
use crate::report::{write_run, Exporter, JsonExporter, Outputs, TableExporter};

/// `upbench export-task`: every task of the suite (or the one named) into `--out`, one folder
/// per task when there are several.
pub fn export(args: ExportTaskArgs) -> anyhow::Result<bool> {
    let config = RunConfig::for_suite(args.suite, args.device, args.data_dir, args.models_dir, args.out.clone(), true)?;
    let file = &config.plan.suite.file;
    let names: Vec<String> = match &args.task {
        Some(name) => vec![name.clone()],
        None => {
            file.tasks.iter().map(|t| t.name.clone()).chain(file.image_tasks.iter().map(|t| t.name.clone())).collect()
        }
    };
    let _rng = crate::seed::torch_rng_lock();
    for name in &names {
        let dir = if names.len() == 1 { args.out.clone() } else { args.out.join(name) };
        let manifest = export_task(&config.plan, name, &dir)?;
        let inputs = manifest.inputs.len();
        outln!(
            "{}: task {name}: {} input file{} and {MANIFEST}; a model writes {}",
            dir.display(),
            inputs,
            if inputs == 1 { "" } else { "s" },
            manifest.returns
        );
    }
    Ok(true)
}

/// The manifest the samples answer: `--export`'s, else the nearest `task.json` at or above the
/// samples.
fn find_manifest(args: &JudgeArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &args.export {
        return Ok(dir.join(MANIFEST));
    }
    let start = if args.samples.is_dir() { Some(args.samples.as_path()) } else { args.samples.parent() };
    let candidates: Vec<PathBuf> =
        start.into_iter().flat_map(|d| [Some(d), d.parent()]).flatten().map(|d| d.join(MANIFEST)).collect();
    candidates.iter().find(|p| p.is_file()).cloned().with_context(|| {
        format!(
            "no {MANIFEST} beside {} or above it: pass --export DIR, the folder `upbench export-task` wrote",
            args.samples.display()
        )
    })
}

/// `upbench judge`: the samples checked, judged as one cell, written as a run and printed.
pub fn judge(args: JudgeArgs) -> anyhow::Result<bool> {
    let manifest = find_manifest(&args)?;
    let samples = if args.samples.is_dir() {
        SamplesAt::Directory(args.samples.clone())
    } else {
        SamplesAt::File(args.samples.clone())
    };
    let label = args.label.clone().unwrap_or_else(|| default_label(&args.samples));
    let mut config =
        RunConfig::for_suite(args.suite, args.device, args.data_dir, args.models_dir, args.out, args.quiet)?;
    // Claimed first: the judgement writes its sample grids there; refused samples leave nothing.
    config.claim_run_dir()?;
    let judged = {
        let _rng = crate::seed::torch_rng_lock();
        tch::set_num_threads(config.plan.suite.file.threads.unwrap_or(crate::suite::DEFAULT_THREADS) as i32);
        judge_samples(&config.plan, &args.task, &manifest, &samples, &label)
    };
    let report = match judged {
        Ok(report) => report,
        Err(e) => {
            config.release_run_dir();
            return Err(e.into());
        }
    };
    let written = write_run(&report, &config.run_dir, Outputs::All)?;
    if args.json {
        outln!("{}", String::from_utf8_lossy(&JsonExporter.serialize(&report)?).trim_end());
    } else {
        out!("{}", TableExporter { layout: args.table.layout() }.render(&report));
        if !args.quiet {
            outln!(
                "Wrote {} files in {}: index.html, report.md, results.json, …",
                written.len(),
                config.run_dir.display()
            );
        }
    }
    Ok(report.failures.is_empty())
}

/// The samples' file or folder name.
fn default_label(samples: &Path) -> String {
    let name = samples.file_stem().or(samples.file_name()).map(|s| s.to_string_lossy().into_owned());
    name.filter(|n| !n.is_empty()).unwrap_or_else(|| "samples".into())
}
