//! The cell engine: one cell — a plugin configuration (or given samples) on one task — evaluated
//! through one code path ([`Workbench`]), in a worker process or in the harness's own. Exact and
//! image tasks differ only in their [`task::Task`] implementation (`exact.rs`, `images.rs`);
//! `external.rs` exports a task's inputs and judges samples made outside upbench through the
//! same path. The orchestrator (`crate::pipeline`) decides which cells run where; this module
//! knows nothing of journals, workers or reports.

mod cell;
mod exact;
mod external;
mod images;
mod quality;
mod sample_grid;
mod task;

pub use cell::{failed, CellRequest, Workbench};
pub use external::{
    export_task, judge_samples, ExactDefinition, ExportManifest, ExportedInput, ExternalError, SamplesAt, MANIFEST,
};
pub use task::{CellError, TaskBuilt, TaskInput, GIVEN_SAMPLES};
