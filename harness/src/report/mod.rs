//! Stage 6: the renderers of a run's records. Everything a run reports is one [`RunReport`]
//! ([`crate::record`]); each exporter renders it into one format.
//!
//! Exporters are pure ([`Exporter::serialize`] returns bytes); [`write_run`] owns the files.
//! The JSON format is `RunReport` serialised with serde: every field is documented in
//! [`crate::record`], units are in the field names or docs, non-finite floats are written as
//! text ([`crate::float`]), and `schema_version` follows [`SCHEMA_VERSION`]'s rule;
//! `harness/schema/` holds its JSON Schema.

pub mod compare;
mod csv;
pub mod html;
mod markdown;
pub mod plots;
pub mod scores;
mod table;

pub use csv::{CsvExporter, ImagesCsvExporter};
pub use markdown::MarkdownExporter;
pub use table::{TableExporter, TableLayout, PIPED_WIDTH};

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::record::{RunReport, SCHEMA_VERSION};

/// Renders a report into one format.
pub trait Exporter {
    /// The file name it writes in a run directory.
    fn file_name(&self) -> &'static str;
    /// The bytes of that file.
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError>;
}

/// Pretty JSON of the whole [`RunReport`].
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn file_name(&self) -> &'static str {
        "results.json"
    }
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        let mut bytes = serde_json::to_vec_pretty(report)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The manifest alone, as JSON.
pub struct ManifestExporter;

impl Exporter for ManifestExporter {
    fn file_name(&self) -> &'static str {
        "manifest.json"
    }
    fn serialize(&self, report: &RunReport) -> Result<Vec<u8>, ReportError> {
        let mut bytes = serde_json::to_vec_pretty(&report.manifest)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Why a report could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// JSON serialisation failed.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
    /// A results file could not be read.
    #[error("{path}: {cause}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error, with its line and column (in the message, so not also a `source`).
        cause: serde_json::Error,
    },
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    /// A results file from a newer upbench.
    #[error(
        "{path}: schema version {found}, but this upbench reads versions up to {SCHEMA_VERSION}; use a newer upbench"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its `schema_version`.
        found: u64,
    },
    /// A file could not be written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error (in the message, so not also a `source`).
        cause: std::io::Error,
    },
}

/// Reads the `results.json` of a run directory (or that file itself), of any schema version up
/// to [`SCHEMA_VERSION`].
pub fn read_run(path: &Path) -> Result<RunReport, ReportError> {
    let file = if path.is_dir() { path.join(JsonExporter.file_name()) } else { path.to_path_buf() };
    let bytes = std::fs::read(&file).map_err(|cause| ReportError::Io { path: file.clone(), cause })?;
    let parse = |cause| ReportError::Parse { path: file.clone(), cause };
    #[derive(Deserialize)]
    struct Versioned {
        schema_version: u64,
    }
    let found = serde_json::from_slice::<Versioned>(&bytes).map_err(parse)?.schema_version;
    if found > u64::from(SCHEMA_VERSION) {
        return Err(ReportError::Version { path: file, found });
    }
    serde_json::from_slice(&bytes).map_err(parse)
}

/// What [`write_run`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// Everything, `results.json` included: the end of a run.
    All,
    /// Everything derived from `results.json`, which is left as it is: `upbench report`.
    Derived,
}

/// Writes the run's files into `dir`: `results.json` (with [`Outputs::All`]), `results.csv`,
/// `images.csv`, `manifest.json`, `table.txt`, `report.md`, the plots as `plots/<name>.svg` and `.png`, and
/// `index.html`. Image grids already in `dir` (named by results) are embedded in the page.
pub fn write_run(report: &RunReport, dir: &Path, outputs: Outputs) -> Result<Vec<PathBuf>, ReportError> {
    let write = |path: PathBuf, bytes: &[u8], written: &mut Vec<PathBuf>| {
        std::fs::write(&path, bytes).map_err(|cause| ReportError::Io { path: path.clone(), cause })?;
        written.push(path);
        Ok::<_, ReportError>(())
    };
    let mut written = Vec::new();
    let exporters: [&dyn Exporter; 6] = [
        &JsonExporter,
        &CsvExporter,
        &ImagesCsvExporter,
        &ManifestExporter,
        &TableExporter { layout: TableLayout::Wide },
        &MarkdownExporter,
    ];
    for exporter in exporters {
        if outputs == Outputs::Derived && exporter.file_name() == JsonExporter.file_name() {
            continue;
        }
        write(dir.join(exporter.file_name()), &exporter.serialize(report)?, &mut written)?;
    }
    let figures = plots::figures(report)?;
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|cause| ReportError::Io { path: plot_dir.clone(), cause })?;
    for f in &figures {
        write(plot_dir.join(format!("{}.svg", f.name)), f.svg.as_bytes(), &mut written)?;
        write(plot_dir.join(format!("{}.png", f.name)), &f.png, &mut written)?;
    }
    write(dir.join("index.html"), html::render(report, &figures, dir).as_bytes(), &mut written)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table tests' run (two tasks of the default suite, a crashed cell), read as a results
    /// file of schema 3 written before `image.task` existed.
    fn fixture() -> RunReport {
        let json = include_str!("../../tests/fixtures/tables/results.json");
        serde_json::from_str(json).expect("the fixture is a results file of this schema")
    }

    fn rendered(exporter: &dyn Exporter) -> String {
        String::from_utf8(exporter.serialize(&fixture()).expect("the fixture renders")).expect("exports are UTF-8")
    }

    /// The files people and scripts read are contracts: their bytes for the fixture are pinned
    /// (insta snapshots in `snapshots/`), so any change to them is reviewed as a diff.
    #[test]
    fn results_json_is_pinned() {
        insta::assert_snapshot!(rendered(&JsonExporter));
    }

    #[test]
    fn results_csv_is_pinned() {
        insta::assert_snapshot!(rendered(&CsvExporter));
    }

    #[test]
    fn images_csv_is_pinned() {
        insta::assert_snapshot!(rendered(&ImagesCsvExporter));
    }

    #[test]
    fn report_md_is_pinned() {
        insta::assert_snapshot!(rendered(&MarkdownExporter));
    }

    /// What `results.json` says is what is read back: the report it was written from.
    #[test]
    fn results_json_reads_back_as_written() {
        let report = fixture();
        let again: RunReport = serde_json::from_str(&rendered(&JsonExporter)).expect("results.json reads back");
        assert_eq!(again, report);
        // The legacy patch-side name gave the image task its field once, on reading.
        let image = report.tasks.iter().find_map(|t| t.image.as_ref().map(|i| (t, i))).expect("an image task");
        assert_eq!(image.1.task, image.0.name.rsplit_once("/p").expect("a patch side's name").0);
        assert_eq!(image.0.suite_task(), image.1.task);
    }
}
