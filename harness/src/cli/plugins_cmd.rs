//! `upbench plugins`: what loads, and why the rest does not.

use std::path::PathBuf;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

use super::PluginsArgs;
use crate::plugin::{load, scan, LoadError, LoadedPlugin};
use crate::setup::executable_dir;

/// Lists plugins; `Ok(false)` if some library failed to load.
pub fn run(args: PluginsArgs) -> anyhow::Result<bool> {
    let targets: Vec<PathBuf> = if args.dirs.is_empty() { executable_dir().into_iter().collect() } else { args.dirs };
    let log_dir = std::env::temp_dir().join("upbench-logs");
    let (mut loaded, mut failed): (Vec<LoadedPlugin>, Vec<LoadError>) = (Vec::new(), Vec::new());
    for target in &targets {
        if target.is_dir() {
            let (ok, bad) = scan(target, &log_dir)
                .map_err(|e| anyhow::anyhow!("{}: cannot list directory: {e}", target.display()))?;
            loaded.extend(ok);
            failed.extend(bad);
        } else {
            match load(target, &log_dir) {
                Ok(p) => loaded.push(p),
                Err(e) => failed.push(e),
            }
        }
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(vec!["plugin", "version", "SDK", "kind", "tasks", "parameters (default)", "description", "file"]);
    for p in &loaded {
        let m = &p.metadata;
        let params: Vec<String> =
            m.params.iter().map(|s| format!("{}: {} = {} — {}", s.name, s.kind, s.default, s.description)).collect();
        let tasks: Vec<&str> = m.task_kinds.iter().map(|k| k.as_str()).collect();
        table.add_row(vec![
            m.name.to_string(),
            m.version.to_string(),
            p.sdk_version.clone(),
            if m.stochastic { "stochastic".into() } else { "deterministic".to_string() },
            tasks.join(", "),
            if params.is_empty() { "—".into() } else { params.join("\n") },
            m.description.to_string(),
            p.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
        ]);
    }
    outln!("{table}");
    if !failed.is_empty() {
        outln!("Not loaded:");
        for e in &failed {
            outln!("  {e}");
        }
    }
    Ok(failed.is_empty())
}
