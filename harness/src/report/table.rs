//! The terminal score table (comfy-table): one table per task, one row per plugin
//! configuration, ranked by distance to the bound.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};

use super::scores::{footnote, global_failures, incomplete_notice, scores};
use super::{Exporter, ReportError, RunReport};

/// Renders `table.txt` and the CLI's output.
pub struct TableExporter {
    /// Fixed width in columns, or `None` to fit the terminal.
    pub width: Option<u16>,
}

impl TableExporter {
    /// The tables as text, with a caption per task.
    pub fn render(&self, report: &RunReport) -> String {
        let mut out = String::new();
        if let Some(notice) = incomplete_notice(report) {
            out.push_str(&notice);
            out.push_str("\n\n");
        }
        for task in scores(report) {
            out.push_str(&task.caption);
            out.push('\n');
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
            if let Some(w) = self.width {
                table.set_width(w);
            }
            table.set_header(task.header.clone());
            for row in &task.rows {
                table.add_row(row.iter().zip(&task.numeric).map(|(text, &numeric)| {
                    let cell = Cell::new(text);
                    if numeric {
                        cell.set_alignment(CellAlignment::Right)
                    } else {
                        cell
                    }
                }));
            }
            out.push_str(&table.to_string());
            out.push('\n');
            for f in &task.failures {
                out.push_str(&format!("  failed: {}\n", first_line(f)));
            }
            for note in &task.notes {
                out.push_str(&format!("  {note}\n"));
            }
            out.push('\n');
        }
        let global = global_failures(report);
        if !global.is_empty() {
            out.push_str("Failures:\n");
            for f in global {
                out.push_str(&format!("  {}\n", first_line(&f)));
            }
        }
        out.push_str(&footnote(report));
        out.push('\n');
        out
    }
}

/// A failure's first line: the terminal table names what failed and why; a crashed worker's
/// stderr excerpt is in `report.md`, the page and `results.json`.
fn first_line(failure: &str) -> String {
    match failure.split_once('\n') {
        Some((first, _)) => format!("{first} (more in report.md)"),
        None => failure.to_string(),
    }
}

impl Exporter for TableExporter {
    fn file_name(&self) -> &'static str {
        "table.txt"
    }
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        Ok(self.render(report).into_bytes())
    }
}
