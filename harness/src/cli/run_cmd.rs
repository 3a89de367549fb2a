//! `upbench run`: the main job.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::config::RunConfig;
use super::RunArgs;
use crate::pipeline::{check, run_checked, Progress};
use crate::report::{
    create_run_dir, write_run, ConfigResult, Exporter, Failure, JsonExporter, Outputs, TableExporter, TaskSummary,
};

/// Progress for the command line: on a terminal a bar over the suite's (task, configuration)
/// runs with each result printed above it, elsewhere plain lines on stderr; nothing when quiet.
/// Every result and failure is also appended to `partial.jsonl` as it comes, so an
/// interrupted run keeps what it computed.
struct CliProgress {
    quiet: bool,
    bar: Option<ProgressBar>,
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

    /// One line above the bar, or on stderr; a closed stderr (e.g. piped into `head`) must not
    /// stop the run.
    fn note(&self, line: std::fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(format!("upbench: {line}")),
            None => {
                let _ = writeln!(std::io::stderr(), "upbench: {line}");
            }
        }
    }
}

impl Progress for CliProgress {
    fn planned(&mut self, runs: usize) {
        if self.quiet || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(runs as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:32}] {pos}/{len} runs, ETA {eta} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        self.bar = Some(bar);
    }
    fn finished(&mut self, task: &str, label: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{task}: {label} done"));
            bar.inc(1);
        }
    }
    fn task_started(&mut self, task: &TaskSummary) {
        let inherent = if task.inherent_uncertainty.is_nan() {
            "unknown".to_string()
        } else {
            format!("{:.4e}", task.inherent_uncertainty)
        };
        self.note(format_args!("task {} (d = {}, N(X|Y) = {inherent})", task.name, task.signal_dim));
    }
    fn result(&mut self, r: &ConfigResult) {
        self.save(r);
        let j = &r.judgement;
        self.note(format_args!(
            "  {} — U {:.4e}, U/bound {:.4}, {}",
            r.label, j.uncertainty.point, j.bound_ratio.point, j.region
        ));
    }
    fn failure(&mut self, f: &Failure) {
        self.save(f);
        self.note(format_args!("error: {}: {}", f.subject, f.message));
    }
}

/// Runs a suite; `Ok(false)` when any plugin or task failed (the others still ran and were written).
pub fn run(args: RunArgs) -> anyhow::Result<bool> {
    let (json, check_only) = (args.json, args.check);
    let config = RunConfig::from_args(args)?;
    let origin = &config.plan.suite.origin;
    let checked = check(&config.plan);
    if !checked.problems.is_empty() {
        anyhow::bail!(
            "{origin}: {} found before any model ran; nothing was run:\n{}",
            counted(checked.problems.len(), "problem"),
            checked.describe_problems()
        );
    }
    if check_only {
        let configurations: usize = checked.entries.iter().map(|e| e.configs.len()).sum();
        let file = &config.plan.suite.file;
        println!(
            "{origin}: ready — {} ({}) on {}; nothing was run",
            counted(checked.entries.len(), "plugin entry"),
            counted(configurations, "configuration"),
            counted(file.tasks.len() + file.image_tasks.len(), "task")
        );
        return Ok(true);
    }
    create_run_dir(&config.run_dir).context("cannot create the output directory")?;
    let partial_path = config.run_dir.join("partial.jsonl");
    let mut progress =
        CliProgress { quiet: config.quiet, bar: None, partial: std::fs::File::create(&partial_path).ok() };
    progress.note(format_args!(
        "suite {} on {} → {}",
        config.plan.suite.origin,
        crate::device::device_name(config.plan.device),
        config.run_dir.display()
    ));
    let report = run_checked(&config.plan, checked, &mut progress);
    if let Some(bar) = progress.bar.take() {
        bar.finish_and_clear();
    }
    let written = write_run(&report, &config.run_dir, Outputs::All)?;
    drop(progress);
    let _ = std::fs::remove_file(&partial_path);
    let mut stdout = std::io::stdout().lock();
    if json {
        stdout.write_all(&JsonExporter.serialize(&report)?)?;
        return Ok(report.failures.is_empty());
    }
    stdout.write_all(TableExporter { width: None }.render(&report).as_bytes())?;
    if !config.quiet {
        writeln!(
            stdout,
            "Wrote {} files in {}: index.html, report.md, results.json, results.csv, plots/ …",
            written.len(),
            config.run_dir.display()
        )?;
    }
    Ok(report.failures.is_empty())
}

/// "1 task", "3 tasks", "2 plugin entries".
fn counted(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}
