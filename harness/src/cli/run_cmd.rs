//! `upbench run`: the main job.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::config::RunConfig;
use super::RunArgs;
use crate::check::{check, CheckedSuite};
use crate::journal::{Header, Journal, RunLock};
use crate::pipeline::{execute, Progress};
use crate::plan::Plan;
use crate::provenance::{manifest, now};
use crate::record::{Cause, ConfigResult, Failure, TaskSummary};
use crate::report::{write_run, Exporter, JsonExporter, Outputs, TableExporter};

/// Progress for the command line: on a terminal a bar over the run's cells with each result
/// printed above it, elsewhere plain lines on stderr; nothing when quiet. (What the run
/// computed is safe in its log, `run.jsonl`, as it comes.)
struct CliProgress {
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl CliProgress {
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
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:32}] {pos}/{len} cells, ETA {eta} · {msg}")
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
        let inherent = task.inherent.value().map_or("unknown".to_string(), |v| format!("{v:.4e}"));
        self.note(format_args!("task {} (d = {}, N(X|Y) = {inherent})", task.name, task.signal_dim));
    }
    fn result(&mut self, r: &ConfigResult) {
        let j = &r.judgement;
        self.note(format_args!(
            "  {} — U {:.4e}, U/bound {:.4}, {}",
            r.label, j.uncertainty.point, j.bound_ratio.point, j.region
        ));
    }
    fn failure(&mut self, f: &Failure) {
        self.note(format_args!("error: {}: {}", f.subject, f.message));
    }
}

/// Runs a suite (or finishes an interrupted run); `Ok(false)` when any plugin, task or cell
/// failed (the others still ran and were written). A perception metric that cannot score one
/// output ([`Cause::Metric`]: e.g. BRISQUE's shape fit on a blocky image) is listed with the
/// failures but does not fail the run: the output was scored on everything else.
pub fn run(args: RunArgs) -> anyhow::Result<bool> {
    if let Some(dir) = args.resume.clone() {
        return resume(&dir, &args);
    }
    let (json, check_only) = (args.json, args.check);
    let mut config = RunConfig::from_args(args)?;
    if !check_only {
        // Claimed first so that the checks' plugin logs land in it; a refused suite leaves
        // nothing behind.
        config.claim_run_dir()?;
    }
    let checked = match checked_or_refused(&config) {
        Ok(checked) => checked,
        Err(e) => {
            if !check_only {
                config.release_run_dir();
            }
            return Err(e);
        }
    };
    if check_only {
        let configurations: usize = checked.entries.iter().map(|e| e.configs.len()).sum();
        let file = &config.plan.suite.file;
        outln!(
            "{}: ready — {} ({}) on {}; nothing was run",
            config.plan.suite.origin,
            counted(checked.entries.len(), "plugin entry"),
            counted(configurations, "configuration"),
            counted(file.tasks.len() + file.image_tasks.len(), "task")
        );
        return Ok(true);
    }
    let _lock = RunLock::take(&config.run_dir)?;
    let plan = &config.plan;
    let header = Header {
        format: crate::journal::FORMAT,
        invocation: serde_json::to_value(&config.invocation)?,
        suite_text: plan.suite.text.clone(),
        manifest: manifest(plan, &checked, now()),
        plan: Plan::new(&plan.suite, &checked, plan.device),
        shard: None,
    };
    let header = match config.invocation.shard {
        Some(s) => Header {
            shard: Some(crate::journal::Shard {
                index: s.index,
                count: s.count,
                cells: header.plan.shard(s.index - 1, s.count),
            }),
            ..header
        },
        None => header,
    };
    std::fs::write(config.run_dir.join("manifest.json"), serde_json::to_vec_pretty(&header.manifest)?)
        .with_context(|| format!("cannot write into {}", config.run_dir.display()))?;
    let mut journal = Journal::create(&config.run_dir, header)?;
    finish(&config, checked, &mut journal, json, "suite")
}

/// `upbench run --resume DIR`: the interrupted run's settings, suite and plugins checked against
/// what is there now, then the cells it lacks.
/// `now` holds the flags that only shape this invocation's output (`--quiet`, `--json`, `--wide`).
fn resume(dir: &Path, now: &RunArgs) -> anyhow::Result<bool> {
    if !dir.join(crate::journal::FILE_NAME).is_file() {
        anyhow::bail!("{}: not a run directory (it has no {})", dir.display(), crate::journal::FILE_NAME);
    }
    let _lock = RunLock::take(dir)?;
    let mut journal = Journal::reopen(dir)?;
    let Some(header) = journal.header().cloned() else { anyhow::bail!("{}: the run log has no header", dir.display()) };
    let log = dir.join(crate::journal::FILE_NAME);
    let mut args: RunArgs = serde_json::from_value(header.invocation.clone()).with_context(|| {
        format!("{}: the run was not started by `upbench run` (no invocation recorded)", log.display())
    })?;
    (args.quiet, args.json, args.table) = (now.quiet, now.json, now.table);
    let json = now.json;
    let mut config = RunConfig::from_args(args)?;
    config.use_run_dir(dir.to_path_buf());
    let origin = config.plan.suite.origin.clone();
    if config.plan.suite.text != header.suite_text {
        anyhow::bail!(
            "{origin} changed since the run started, so its results would not belong together; nothing was run. Changes (- then, + now):\n{}",
            line_diff(&header.suite_text, &config.plan.suite.text)
        );
    }
    let checked = checked_or_refused(&config)?;
    let now_plan = Plan::new(&config.plan.suite, &checked, config.plan.device);
    let differences = now_plan.differences(&header.plan);
    if !differences.is_empty() {
        anyhow::bail!(
            "{}: the plan no longer matches the interrupted run; nothing was run:\n  {}",
            dir.display(),
            differences.join("\n  ")
        );
    }
    finish(&config, checked, &mut journal, json, "rest of the run")
}

/// Runs what the log lacks, writes every output from the log and prints the table.
fn finish(
    config: &RunConfig,
    checked: CheckedSuite<'_>,
    journal: &mut Journal,
    json: bool,
    what: &str,
) -> anyhow::Result<bool> {
    let mut progress = CliProgress { quiet: config.quiet, bar: None };
    progress.note(format_args!(
        "{what} {} on {} → {}",
        config.plan.suite.origin,
        crate::device::device_name(config.plan.device),
        config.run_dir.display()
    ));
    let report = execute(&config.plan, checked, &config.isolation, journal, &mut progress);
    if let Some(bar) = progress.bar.take() {
        bar.finish_and_clear();
    }
    let written = write_run(&report, &config.run_dir, Outputs::All)?;
    let print = || -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if json {
            stdout.write_all(&JsonExporter.serialize(&report)?)?;
            return Ok(());
        }
        stdout.write_all(TableExporter { layout: config.invocation.table.layout() }.render(&report).as_bytes())?;
        if !config.quiet {
            writeln!(
                stdout,
                "Wrote {} files in {}: index.html, report.md, results.json, results.csv, plots/ …",
                written.len(),
                config.run_dir.display()
            )?;
        }
        Ok(())
    };
    match print() {
        // Nobody reads stdout any more (`upbench run | head`): the run's files are written and
        // its status still says whether everything ran.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {}
        other => other?,
    }
    if config.invocation.profile {
        print_profile(&report);
    }
    Ok(report.failures.iter().all(|f| f.cause == Cause::Metric))
}

/// `run --profile`: the run's wall time by stage, on stderr.
fn print_profile(report: &crate::record::RunReport) {
    let Some(profile) = &report.profile else { return };
    // a resumed run's wall time is its last session's; its profile holds every session's cells
    let accounted = profile.build_secs() + profile.cell_totals().total();
    let wall = report.manifest.wall_secs.max(accounted);
    let mut text = format!("Where the time went ({wall:.2} s of wall time):\n");
    for (stage, secs) in profile.split(wall) {
        let share = if wall > 0.0 { 100.0 * secs / wall } else { 0.0 };
        text += &format!("  {stage:<46} {secs:>9.2} s {share:>6.1} %\n");
    }
    let mut cells: Vec<&crate::record::CellTime> = profile.cells.iter().collect();
    cells.sort_by(|a, b| b.stages.total().total_cmp(&a.stages.total()));
    text += "Costliest cells (the plugin's restore and constructor / the harness's own work):\n";
    for cell in cells.iter().take(5) {
        let s = &cell.stages;
        text += &format!("  {} on {}: {:.2} s / {:.2} s\n", cell.label, cell.task, s.plugin_secs(), s.harness_secs());
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The suite checked; its problems refuse the run (exit 2) before anything is written.
fn checked_or_refused(config: &RunConfig) -> anyhow::Result<CheckedSuite<'_>> {
    let checked = check(&config.plan);
    if !checked.problems.is_empty() {
        anyhow::bail!(
            "{}: {} found before any model ran; nothing was run:\n{}",
            config.plan.suite.origin,
            counted(checked.problems.len(), "problem"),
            checked.describe_problems()
        );
    }
    Ok(checked)
}

/// The lines only one of two texts has, `-` for the first and `+` for the second, in order.
fn line_diff(before: &str, after: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    let mut out: Vec<String> = old.iter().filter(|l| !new.contains(l)).map(|l| format!("  - {l}")).collect();
    out.extend(new.iter().filter(|l| !old.contains(l)).map(|l| format!("  + {l}")));
    if out.is_empty() {
        out.push("  (the same lines in another order)".into());
    }
    out.join("\n")
}

/// "1 task", "3 tasks", "2 plugin entries".
fn counted(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}
