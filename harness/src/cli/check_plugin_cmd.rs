//! `upbench check-plugin`: the SDK's conformance checks ([`upbench_sdk::testing::check_plugin`])
//! on a built plugin library, loaded as a run loads it.

use std::path::Path;

use anyhow::{bail, Context};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use upbench_sdk::testing::{self, Outcome};
use upbench_sdk::{TaskKind, TaskSpec};

use super::CheckPluginArgs;
use crate::plugin::{load, resolve_params};
use crate::setup::models_dir;
use crate::setup::with_directories;

/// The table's width when stdout is not a terminal.
const PIPED_WIDTH: u16 = 120;

/// Checks every configuration on every task; `Ok(false)` when some check failed, an error (exit
/// 2) for input that cannot be checked at all.
pub fn run(args: CheckPluginArgs) -> anyhow::Result<bool> {
    let kinds = args
        .tasks
        .iter()
        .map(|k| k.parse::<TaskKind>().map_err(anyhow::Error::msg).context("--task"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let given = args.params.iter().map(|p| parse_param(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let data_dir = crate::task::images::data_dir(args.data_dir.as_deref());
    let data_dir = data_dir.canonicalize().unwrap_or(data_dir);
    let models_dir = models_dir(args.models_dir.clone(), &data_dir);
    let plugin = load(&args.library, &std::env::temp_dir().join("upbench-logs"))?;
    // Relative paths on the command line are read from the working directory.
    let configs = resolve_params(&plugin.metadata, &given, Path::new("."), None)
        .with_context(|| args.library.display().to_string())?;
    let declared: Vec<TaskKind> = plugin.metadata.task_kinds.iter().filter_map(|k| k.parse().ok()).collect();
    let kinds = if kinds.is_empty() { declared } else { kinds };
    if kinds.is_empty() {
        bail!("{}: the plugin declares no task kind this harness knows; name one with --task", args.library.display());
    }

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if table.width().is_none() {
        // Not a terminal: wrap to a width that reads in logs and pull requests.
        table.set_width(PIPED_WIDTH);
    }
    table.set_header(vec!["task", "configuration", "mode", "checks", "problems"]);
    let mut all_passed = true;
    for &kind in &kinds {
        let task = with_directories(task_for(kind, &args), models_dir.as_deref(), &data_dir);
        for config in &configs {
            let report = testing::check_plugin(plugin.module(), &config.params, &task);
            all_passed &= report.passed();
            let mode = match report.stochastic {
                Some(true) => "stochastic",
                Some(false) => "deterministic",
                None => "—",
            };
            let passed = report.outcomes.iter().filter(|(_, o)| *o == Outcome::Passed).count();
            let problems: Vec<String> = report
                .outcomes
                .iter()
                .filter_map(|(check, outcome)| match outcome {
                    Outcome::Passed => None,
                    Outcome::Failed(why) => Some(format!("FAILED {check}: {why}")),
                    Outcome::Skipped => Some(format!("skipped {check}")),
                })
                .collect();
            table.add_row(vec![
                kind.to_string(),
                config.label.clone(),
                mode.to_string(),
                format!("{passed}/{}", report.outcomes.len()),
                if problems.is_empty() { "—".to_string() } else { problems.join("\n") },
            ]);
        }
    }
    outln!("{}  {} (upbench-sdk {})", plugin.name(), args.library.display(), plugin.sdk_version);
    outln!("{table}");
    outln!(
        "{}",
        if all_passed {
            "Every check passed: output shape, layout, device and finite values; seeding; batch independence."
        } else {
            "Some checks FAILED: a run would record these configurations as failures."
        }
    );
    Ok(all_passed)
}

/// `NAME=VALUE` with a TOML value (`0.5`, `true`, `"text"`, or an array to check every value).
fn parse_param(text: &str) -> anyhow::Result<(String, toml::Value)> {
    let Some((name, value)) = text.split_once('=') else {
        bail!("--param '{text}': expected NAME=VALUE, e.g. gamma=0.5 or weights=\"w.safetensors\"");
    };
    let parsed: toml::Table = toml::from_str(&format!("v = {value}"))
        .with_context(|| format!("--param '{text}': '{value}' is not a TOML value (quote text: name=\"…\")"))?;
    let value = parsed.get("v").cloned().context("--param: no value")?;
    Ok((name.trim().to_string(), value))
}

/// The SDK's standard task for `kind`, with the command line's overrides.
fn task_for(kind: TaskKind, args: &CheckPluginArgs) -> TaskSpec {
    let standard = testing::standard_task(kind);
    let noise_std = args.noise_std.unwrap_or(standard.noise_std);
    match standard.image.as_ref().into_option() {
        Some(layout) => testing::image_task(
            kind,
            args.channels.unwrap_or(layout.channels),
            args.scale.unwrap_or(layout.scale),
            noise_std,
        ),
        None => testing::exact_task(kind, args.dim.unwrap_or(standard.signal_dim as usize), noise_std),
    }
}
