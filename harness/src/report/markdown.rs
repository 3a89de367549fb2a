//! `report.md`: the score tables as GitHub-flavoured Markdown, for pull requests and issues.

use super::scores::{footnote, global_failures, incomplete_notice, scores, IntervalStyle};
use super::{Exporter, ReportError};
use crate::record::RunReport;

/// Renders `report.md`.
pub struct MarkdownExporter;

/// A table cell: pipes escaped, line breaks removed.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A pipe table; `numeric` columns are right-aligned.
pub fn table(header: &[&str], numeric: &[bool], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
    let rule: Vec<&str> = numeric.iter().map(|&n| if n { "---:" } else { "---" }).collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
    }
    out
}

impl Exporter for MarkdownExporter {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        let m = &report.manifest;
        let mut out = format!("# upbench run `{}`\n\n", m.run_id);
        out.push_str(&format!(
            "Suite **{}** ({}), seed {}, upbench {} ({}), {} (libtorch {}), {:.1} s, started {}.\n\n",
            m.suite,
            m.suite_origin,
            m.seed,
            m.upbench_version,
            m.git_commit,
            m.device,
            m.libtorch_version,
            m.wall_secs,
            m.started_at
        ));
        if let Some(notice) = incomplete_notice(report) {
            out.push_str(&format!("> **{}**\n\n", cell(&notice)));
        }
        for task in scores(report) {
            out.push_str(&format!("## {}\n\n{}\n\n", cell(&task.task), task.caption));
            out.push_str(&table(&task.header, &task.numeric, &task.rows));
            for f in &task.failures {
                out.push_str(&format!("\n- **failed:** {}", cell(f)));
            }
            for note in &task.notes {
                out.push_str(&format!("\n- {}", cell(note)));
            }
            out.push('\n');
        }
        let global = global_failures(report);
        if !global.is_empty() {
            out.push_str("## Failures\n\n");
            for f in global {
                out.push_str(&format!("- {}\n", cell(&f)));
            }
            out.push('\n');
        }
        out.push_str(&format!("_{}_\n", footnote(report, IntervalStyle::Brackets)));
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_in_cells_do_not_break_the_table() {
        let t = table(&["model", "U"], &[false, true], &[vec!["a|b".into(), "1".into()]]);
        assert_eq!(t, "| model | U |\n|---|---:|\n| a\\|b | 1 |\n");
    }
}
