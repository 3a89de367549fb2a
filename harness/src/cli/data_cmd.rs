//! `upbench data`: the registered image sets, fetched (with `--fetch`) and checked against a
//! data directory.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::DataArgs;
use crate::task::images::{data_dir, dataset, datasets};

/// Verifies the sets asked for (all by default); `Ok(false)` when a file is missing or corrupt.
pub fn run(args: DataArgs) -> anyhow::Result<bool> {
    let root = data_dir(args.data_dir.as_deref());
    let sets = if args.sets.is_empty() {
        datasets()
    } else {
        args.sets.iter().map(|name| dataset(name)).collect::<Result<Vec<_>, _>>()?
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["set", "files", "status", "description"]);
    let mut fetch_failed = false;
    if args.fetch {
        for set in &sets {
            let report = set.fetch(&root, args.from.as_deref());
            outln!(
                "{}: {} fetched, {} already present, {} failed",
                set.name,
                report.fetched,
                report.present,
                report.problems.len()
            );
            for p in &report.problems {
                outln!("  {p}");
            }
            fetch_failed |= !report.problems.is_empty();
        }
    }
    let mut problems = Vec::new();
    for set in &sets {
        let found = set.verify(&root);
        let status = if found.is_empty() { "ok".to_string() } else { format!("{} problem(s)", found.len()) };
        table.add_row(vec![set.name.clone(), set.files.len().to_string(), status, set.description.clone()]);
        problems.extend(found);
    }
    outln!("Data directory: {}\n{table}", root.display());
    for p in &problems {
        outln!("  {p}");
    }
    Ok(problems.is_empty() && !fetch_failed)
}
