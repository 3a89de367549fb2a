//! `upbench theory`: the bound as numbers.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::TheoryArgs;
use crate::judge::bound::{eta, example1_jeffreys_ratio, example1_paper_ratio};

/// Prints η(P; d) (or η·N(X|Y)) for every P and d asked for.
pub fn run(args: TheoryArgs) -> anyhow::Result<bool> {
    if let Some(p) = args.perceptions.iter().find(|p| p.is_nan() || **p < 0.0) {
        anyhow::bail!("perception index must be ≥ 0, got {p}");
    }
    if args.dims.contains(&0) {
        anyhow::bail!("dimension must be ≥ 1");
    }
    let scale = args.inherent.unwrap_or(1.0);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let what = if args.inherent.is_some() { "bound η(P; d)·N(X|Y)" } else { "η(P; d)" };
    let mut header = vec![format!("P (nats) \\ {what}")];
    header.extend(args.dims.iter().map(|d| format!("d = {d}")));
    table.set_header(header);
    for &p in &args.perceptions {
        let mut row = vec![format!("{p}")];
        row.extend(args.dims.iter().map(|&d| format!("{:.6}", eta(p, d) * scale)));
        table.add_row(row);
    }
    outln!("{table}");
    outln!("η(0) = 2: perfect perception costs twice the inherent uncertainty; η → 1 as P → ∞. Below the bound lies the impossible region.");
    if args.example1 {
        let mut ex = Table::new();
        ex.load_preset(UTF8_FULL_CONDENSED);
        ex.set_header(vec![
            "symmetric-KL P",
            "U/N(X|Y) as printed in the paper (std devs)",
            "U/N(X|Y) with Jeffreys divergence (variances)",
        ]);
        for &p in &args.perceptions {
            ex.add_row(vec![
                format!("{p}"),
                format!("{:.6}", example1_paper_ratio(p)),
                format!("{:.6}", example1_jeffreys_ratio(p)),
            ]);
        }
        outln!("Example 1 (scalar denoising, X ~ N(0,1), Y = X + W):\n{ex}");
    }
    Ok(true)
}
