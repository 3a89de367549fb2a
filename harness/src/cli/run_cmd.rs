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

/// Progress lines on stderr.
struct Stderr;

impl Progress for Stderr {
    fn task_started(&mut self, task: &TaskSummary) {
        note(format_args!("task {} (d = {}, N(X|Y) = {:.4})", task.name, task.signal_dim, task.inherent_uncertainty));
    }
    fn result(&mut self, r: &ConfigResult) {
        note(format_args!("  {} — U/bound {:.4}, {}", r.label, r.judgement.bound_ratio.point, r.judgement.region));
    }
    fn failure(&mut self, f: &Failure) {
        note(format_args!("error: {}: {}", f.subject, f.message));
    }
}

/// Runs a suite; `Ok(false)` when any plugin or task failed (the others still ran and were written).
pub fn run(args: RunArgs) -> anyhow::Result<bool> {
    let config = RunConfig::from_args(args)?;
    create_run_dir(&config.run_dir).context("cannot create the output directory")?;
    let mut quiet = crate::pipeline::Silent;
    let mut loud = Stderr;
    let progress: &mut dyn Progress = if config.quiet { &mut quiet } else { &mut loud };
    if !config.quiet {
        note(format_args!(
            "suite {} on {} → {}",
            config.plan.suite.origin,
            crate::device::device_name(config.plan.device),
            config.run_dir.display()
        ));
    }
    let report = run_suite(&config.plan, progress);
    let written = write_run(&report, &config.run_dir)?;
    let table = TableExporter { width: None }.render(&report);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(table.as_bytes())?;
    if !config.quiet {
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        writeln!(stdout, "Wrote {}", names.join(", "))?;
    }
    Ok(report.failures.is_empty())
}
