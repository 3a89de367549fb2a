//! The terminal score table (comfy-table): one table per task, one row per plugin
//! configuration, ranked by distance to the bound. [`TableLayout::Fit`] keeps every line within
//! a width (the terminal's); [`TableLayout::Wide`] shows every column with whole intervals.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use unicode_width::UnicodeWidthStr;

use super::scores::{
    footnote, global_failures, incomplete_notice, scores, CompactColumn, CompactTable, IntervalStyle, TaskScores,
};
use super::{Exporter, ReportError};
use crate::record::RunReport;

/// The width of the table on standard output when it is not a terminal (a pipe, a file, CI
/// logs): wide enough for the narrow table's columns with labels of about 30 characters.
pub const PIPED_WIDTH: u16 = 120;

/// Labels longer than this are shortened (with a legend under the table) when a table does not
/// fit its width with its labels whole.
const LABEL_MAX: usize = 18;

/// The narrow table's style: no outer border, dotted lines between columns, a rule under the
/// header (three characters between columns, none around).
const NARROW_STYLE: &str = "     ═╪ ┆          ";

/// How the terminal table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableLayout {
    /// The narrow table ([`CompactTable`]) within this many columns: labels are never broken
    /// (long ones are shortened, with a legend), and columns are left out, named under the
    /// table, until it fits; notes are wrapped at words.
    Fit(u16),
    /// Every column with whole intervals, lines as long as they need: `--wide`, `table.txt`.
    Wide,
}

impl TableLayout {
    /// The layout for standard output: `Wide` when asked, else fitted to the terminal's width,
    /// or to [`PIPED_WIDTH`] when standard output is no terminal.
    pub fn for_stdout(wide: bool) -> TableLayout {
        if wide {
            return TableLayout::Wide;
        }
        // comfy-table asks the terminal (crossterm) when standard output is one, else says None
        let terminal = Table::new().width().filter(|&w| w > 0);
        TableLayout::Fit(terminal.unwrap_or(PIPED_WIDTH))
    }
}

/// Renders `table.txt` and the CLI's output.
pub struct TableExporter {
    /// The layout.
    pub layout: TableLayout,
}

impl TableExporter {
    /// The tables as text, with a caption per task.
    pub fn render(&self, report: &RunReport) -> String {
        let width = match self.layout {
            TableLayout::Fit(w) => Some(usize::from(w)),
            TableLayout::Wide => None,
        };
        let mut out = String::new();
        let paragraph = |out: &mut String, text: &str, indent: usize| {
            out.push_str(&wrap(text, width, indent));
            out.push('\n');
        };
        if let Some(notice) = incomplete_notice(report) {
            paragraph(&mut out, &notice, 0);
            out.push('\n');
        }
        for task in scores(report) {
            paragraph(&mut out, &task.caption, 0);
            let notes = match width {
                None => {
                    out.push_str(&wide_table(&task));
                    Vec::new()
                }
                Some(w) => {
                    let (table, notes) = fitted_table(&task.compact, w);
                    out.push_str(&table);
                    notes
                }
            };
            out.push('\n');
            for f in &task.failures {
                paragraph(&mut out, &format!("  failed: {}", first_line(f)), 4);
            }
            for note in notes.iter().chain(&task.notes) {
                paragraph(&mut out, &format!("  {note}"), 4);
            }
            out.push('\n');
        }
        let global = global_failures(report);
        if !global.is_empty() {
            out.push_str("Failures:\n");
            for f in global {
                paragraph(&mut out, &format!("  {}", first_line(&f)), 4);
            }
        }
        let style = if width.is_some() { IntervalStyle::PlusMinus } else { IntervalStyle::Brackets };
        paragraph(&mut out, &footnote(report, style), 0);
        out
    }
}

/// Every column, whole intervals, no width limit.
fn wide_table(task: &TaskScores) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(task.header.clone());
    for row in &task.rows {
        table.add_row(row.iter().zip(&task.numeric).map(|(text, &numeric)| aligned(text, numeric)));
    }
    table.to_string()
}

/// The narrow table within `width` columns, and the notes it needs (the legend of shortened
/// labels, the columns left out, its verdict notes). First the labels are shortened, then the
/// fewest and lowest-ranked columns are left out ([`CompactColumn::leave_out`]); a table that
/// still does not fit is printed as it is (lines never break inside a cell).
fn fitted_table(compact: &CompactTable, width: usize) -> (String, Vec<String>) {
    let fits = |text: &str| text.lines().all(|line| line.width() <= width);
    let whole = narrow_table(compact, false, &[]);
    let (text, shortened, left_out) = if fits(&whole) {
        (whole, false, Vec::new())
    } else {
        let shorten = compact.rows.iter().any(|r| r.label.chars().count() > LABEL_MAX);
        let mut tables = columns_to_leave_out(&compact.columns)
            .into_iter()
            .map(|left_out| (narrow_table(compact, shorten, &left_out), left_out));
        // the first that fits, else the last (the narrowest)
        let mut chosen = tables.next().unwrap_or_default();
        for next in tables {
            if fits(&chosen.0) {
                break;
            }
            chosen = next;
        }
        (chosen.0, shorten, chosen.1)
    };
    let mut notes = Vec::new();
    if shortened {
        let legend: Vec<String> = compact
            .rows
            .iter()
            .filter(|r| r.label.chars().count() > LABEL_MAX)
            .map(|r| format!("{} {}", r.rank, r.label))
            .collect();
        // on one line where it fits, else a label a line (labels hold spaces: never wrapped)
        let one_line = format!("Models in full (by #): {}.", legend.join("; "));
        if one_line.width() + 2 <= width {
            notes.push(one_line);
        } else {
            notes.push(format!("Models in full (by #):\n    {}", legend.join("\n    ")));
        }
    }
    if !left_out.is_empty() {
        let titles: Vec<&str> = left_out.iter().map(|&i| compact.columns[i].title).collect();
        notes.push(format!("Left out to fit {width} columns: {} (`--wide` shows every column).", titles.join(", ")));
    }
    notes.extend(compact.notes.iter().cloned());
    (text, notes)
}

/// The choices of columns to leave out, the most wanted table first: the first leaves nothing
/// out, the last every column that may be. A column of rank r weighs 2^r, so it is kept before
/// any set of lower-ranked ones; the choices go by decreasing weight of the columns kept.
fn columns_to_leave_out(columns: &[CompactColumn]) -> Vec<Vec<usize>> {
    let optional: Vec<(usize, u8)> =
        columns.iter().enumerate().filter_map(|(i, c)| c.leave_out.map(|rank| (i, rank))).collect();
    let kept = |choice: u32, bit: usize| choice >> bit & 1 == 1;
    let weight = |choice: u32| -> u32 {
        optional.iter().enumerate().filter(|&(bit, _)| kept(choice, bit)).map(|(_, &(_, rank))| 1 << rank).sum()
    };
    let mut choices: Vec<u32> = (0..1 << optional.len()).collect();
    choices.sort_by_key(|&choice| std::cmp::Reverse(weight(choice)));
    choices
        .into_iter()
        .map(|choice| {
            optional.iter().enumerate().filter(|&(bit, _)| !kept(choice, bit)).map(|(_, &(i, _))| i).collect()
        })
        .collect()
}

/// The narrow table, labels shortened or not, without the `left_out` columns.
fn narrow_table(compact: &CompactTable, shorten: bool, left_out: &[usize]) -> String {
    let shown: Vec<usize> = (0..compact.columns.len()).filter(|i| !left_out.contains(i)).collect();
    let mut table = Table::new();
    table.load_preset(NARROW_STYLE).set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec![aligned("#", true), Cell::new("model")];
    header.extend(shown.iter().map(|&i| aligned(compact.columns[i].title, compact.columns[i].numeric)));
    table.set_header(header);
    for row in &compact.rows {
        // a reference row (rank 0) whose columns are all left out says nothing
        if row.rank == 0 && shown.iter().all(|&i| matches!(row.cells[i].as_str(), "—" | "")) {
            continue;
        }
        let label = if shorten { short_label(&row.label) } else { row.label.clone() };
        let model = if row.mark.is_empty() { label } else { format!("{label} {}", row.mark) };
        // rank 0: a reference row (the ground truth), not ranked
        let rank = if row.rank == 0 { String::new() } else { row.rank.to_string() };
        let mut cells = vec![aligned(&rank, true), Cell::new(model)];
        cells.extend(shown.iter().map(|&i| aligned(&row.cells[i], compact.columns[i].numeric)));
        table.add_row(cells);
    }
    table.to_string()
}

/// A label of at most [`LABEL_MAX`] characters: the plugin's name before its parameters, cut
/// short with `…` where even that is too long.
fn short_label(label: &str) -> String {
    if label.chars().count() <= LABEL_MAX {
        return label.to_string();
    }
    let name = label.split('(').next().unwrap_or(label);
    let kept: String = name.chars().take(LABEL_MAX - 1).collect();
    format!("{kept}…")
}

/// A cell, right-aligned when it holds a number.
fn aligned(text: &str, numeric: bool) -> Cell {
    let cell = Cell::new(text);
    if numeric {
        cell.set_alignment(CellAlignment::Right)
    } else {
        cell
    }
}

/// `text` broken at spaces into lines of at most `width` columns (a word longer than that keeps
/// a line of its own), lines after the first indented by `indent`; unchanged without a width.
fn wrap(text: &str, width: Option<usize>, indent: usize) -> String {
    let Some(width) = width else { return text.to_string() };
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let lead: String = paragraph.chars().take_while(|c| *c == ' ').collect();
        let mut line = lead.clone();
        let mut empty = true;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            if !empty && line.width() + 1 + word.width() > width {
                lines.push(std::mem::replace(&mut line, " ".repeat(indent)));
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            line.push_str(word);
            empty = false;
        }
        lines.push(line);
    }
    lines.join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_at_spaces_only() {
        let text = "  failed: hostile(behaviour=\"segfault\") — the worker died by SIGSEGV";
        let wrapped = wrap(text, Some(30), 4);
        assert_eq!(wrapped, "  failed:\n    hostile(behaviour=\"segfault\")\n    — the worker died by\n    SIGSEGV");
        assert_eq!(wrap(text, None, 4), text);
    }

    /// A run's results cut to two tasks of the default suite (an exact task with long sweep
    /// labels and a deterministic row, an image task with INVALID rows) plus a crashed cell.
    fn fixture() -> RunReport {
        let json = include_str!("../../tests/fixtures/tables/results.json");
        serde_json::from_str(json).expect("the fixture is a results file of this schema")
    }

    /// The fitted table at a terminal's width: every line within it, every label whole in the
    /// table or in the legend, and the text as reviewed (insta snapshot).
    fn fitted_at(width: u16) -> String {
        let report = fixture();
        let text = TableExporter { layout: TableLayout::Fit(width) }.render(&report);
        for line in text.lines() {
            assert!(line.width() <= usize::from(width), "{} columns > {width}: {line}", line.width());
        }
        for result in &report.results {
            assert!(text.contains(&result.label), "{} is neither in the table nor in its legend", result.label);
        }
        text
    }

    #[test]
    fn the_table_fits_80_columns() {
        insta::assert_snapshot!(fitted_at(80));
    }

    #[test]
    fn the_table_fits_120_columns() {
        insta::assert_snapshot!(fitted_at(120));
    }

    #[test]
    fn the_table_fits_200_columns() {
        insta::assert_snapshot!(fitted_at(200));
    }

    #[test]
    fn the_wide_table_shows_every_column_and_whole_intervals() {
        let report = fixture();
        let text = TableExporter { layout: TableLayout::Wide }.render(&report);
        for task in scores(&report) {
            for title in &task.header {
                assert!(text.contains(*title), "{title} missing from the wide table");
            }
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn short_labels_keep_the_plugin_name() {
        assert_eq!(short_label("gamma-optimal(gamma=0.25)"), "gamma-optimal…");
        assert_eq!(short_label("overdispersed-sampler(spread=1.5)"), "overdispersed-sam…");
        assert_eq!(short_label("posterior-sampler"), "posterior-sampler");
        assert_eq!(short_label("bicubic"), "bicubic");
    }
}
