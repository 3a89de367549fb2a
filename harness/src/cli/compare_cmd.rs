//! `upbench compare`: what changed between two runs, and whether it exceeds the intervals.

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

use super::CompareArgs;
use crate::report::compare::{compare, LEGEND};
use crate::report::read_run;

/// Prints the comparison as a table, Markdown or JSON; `Ok(false)` with `--fail-on-change`
/// when something changed notably.
pub fn run(args: CompareArgs) -> anyhow::Result<bool> {
    let before = read_run(&args.before)?;
    let after = read_run(&args.after)?;
    let comparison = compare(&before, &after);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &comparison)?;
        writeln!(stdout)?;
    } else if args.markdown {
        stdout.write_all(comparison.markdown().as_bytes())?;
    } else {
        writeln!(stdout, "{} → {}", comparison.runs.0, comparison.runs.1)?;
        for c in &comparison.caveats {
            writeln!(stdout, "warning: {c}")?;
        }
        let (header, rows) = comparison.rows();
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
        table.set_header(header);
        for row in rows {
            table.add_row(row);
        }
        writeln!(stdout, "{table}")?;
        for line in comparison.image_lines() {
            writeln!(stdout, "per image: {line}")?;
        }
        for (title, list) in
            [("only in the first run", &comparison.only_before), ("only in the second run", &comparison.only_after)]
        {
            for item in list.iter() {
                writeln!(stdout, "{title}: {item}")?;
            }
        }
        writeln!(stdout, "{LEGEND}\n{}", comparison.summary())?;
    }
    // A configuration that disappeared (it failed, or the suite lost it) is a change too.
    Ok(!(args.fail_on_change && (comparison.notable() > 0 || !comparison.only_before.is_empty())))
}
