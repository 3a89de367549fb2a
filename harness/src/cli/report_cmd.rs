//! `upbench report`: rebuild a run's tables, plots and pages from its `results.json`.

use std::io::Write;

use anyhow::Context;

use super::ReportArgs;
use crate::report::{read_run, write_run, Outputs, TableExporter};

/// Reads the run, rewrites every derived file and prints the score table. A run directory
/// without `results.json` (an interrupted run) is read from its log and marked incomplete.
pub fn run(args: ReportArgs) -> anyhow::Result<bool> {
    let interrupted = args.run_dir.is_dir()
        && !args.run_dir.join("results.json").exists()
        && args.run_dir.join(crate::journal::FILE_NAME).exists();
    let report = if interrupted {
        let journal = crate::journal::Journal::read(&args.run_dir)?;
        let Some(header) = journal.header() else {
            anyhow::bail!("{}: the run log has no header", args.run_dir.display())
        };
        journal.assemble(header.manifest.clone())
    } else {
        read_run(&args.run_dir)?
    };
    let dir = if args.run_dir.is_dir() {
        args.run_dir.clone()
    } else {
        args.run_dir.parent().map(|p| p.to_path_buf()).unwrap_or_default()
    };
    let written = write_run(&report, &dir, Outputs::Derived)
        .with_context(|| format!("cannot rebuild the report in {}", dir.display()))?;
    let mut stdout = std::io::stdout().lock();
    if !args.quiet {
        stdout.write_all(TableExporter { layout: args.table.layout() }.render(&report).as_bytes())?;
    }
    writeln!(stdout, "Rebuilt {} files in {} (index.html, report.md, plots/, …)", written.len(), dir.display())?;
    Ok(true)
}
