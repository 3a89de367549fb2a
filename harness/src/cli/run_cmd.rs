//! `upbench run`: the main job.

use std::io::Write;

use anyhow::Context;

use super::config::RunConfig;
use super::RunArgs;
use crate::pipeline::{run_suite, Progress};
use crate::report::{create_run_dir, write_run, ConfigResult, Failure, TableExporter, TaskSummary};

/// One progress line on stderr; a closed stderr (e.g. piped into `head`) must not stop the run.
fn note(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "upbench: {line}");
}

/// Progress for the command line: lines on stderr unless quiet, and every result and failure
/// appended to `partial.jsonl` as it comes, so an interrupted run keeps what it computed.
struct CliProgress {
    quiet: bool,
    partial: Option<std::fs::File>,
}

impl CliProgress {
    fn save(&mut self, record: &impl serde::Serialize) {
        if let Some(file) = self.partial.as_mut() {
            if let Ok(line) = serde_json::to_string(record) {
                let _ = writeln!(file, "{line}");
            }
        }
    }
}

impl Progress for CliProgress {
    fn task_started(&mut self, task: &TaskSummary) {
        if self.quiet {
            return;
        }
        let inherent = if task.inherent_uncertainty.is_nan() {
            "unknown".to_string()
        } else {
            format!("{:.4e}", task.inherent_uncertainty)
        };
        note(format_args!("task {} (d = {}, N(X|Y) = {inherent})", task.name, task.signal_dim));
    }
    fn result(&mut self, r: &ConfigResult) {
        self.save(r);
        if self.quiet {
            return;
        }
        let j = &r.judgement;
        note(format_args!(
            "  {} — U {:.4e}, U/bound {:.4}, {}",
            r.label, j.uncertainty.point, j.bound_ratio.point, j.region
        ));
    }
    fn failure(&mut self, f: &Failure) {
        self.save(f);
        if self.quiet {
            return;
        }
        note(format_args!("error: {}: {}", f.subject, f.message));
    }
}

/// Runs a suite; `Ok(false)` when any plugin or task failed (the others still ran and were written).
pub fn run(args: RunArgs) -> anyhow::Result<bool> {
    let config = RunConfig::from_args(args)?;
    create_run_dir(&config.run_dir).context("cannot create the output directory")?;
    let partial_path = config.run_dir.join("partial.jsonl");
    let mut progress = CliProgress { quiet: config.quiet, partial: std::fs::File::create(&partial_path).ok() };
    if !config.quiet {
        note(format_args!(
            "suite {} on {} → {}",
            config.plan.suite.origin,
            crate::device::device_name(config.plan.device),
            config.run_dir.display()
        ));
    }
    let report = run_suite(&config.plan, &mut progress);
    let written = write_run(&report, &config.run_dir)?;
    drop(progress);
    let _ = std::fs::remove_file(&partial_path);
    let table = TableExporter { width: None }.render(&report);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(table.as_bytes())?;
    if !config.quiet {
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        writeln!(stdout, "Wrote {}", names.join(", "))?;
    }
    Ok(report.failures.is_empty())
}
