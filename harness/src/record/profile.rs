//! Where a run's time went: each task's build and each cell's [`StageTimes`] ([`Profile`]).

use serde::{Deserialize, Serialize};

/// Where a run's time went: each task's build and each cell's stages, in seconds of wall time.
/// What none of them covers (starting workers, writing the log and the reports) is the run's
/// wall time less their sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Each build of a task: its data, measurements and N(X|Y).
    pub tasks: Vec<TaskTime>,
    /// Each cell's stages, in plan order.
    pub cells: Vec<CellTime>,
}

/// One task's build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskTime {
    /// The task.
    pub task: String,
    /// Seconds.
    pub build_secs: f64,
}

/// One cell's stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellTime {
    /// Its task.
    pub task: String,
    /// Its configuration.
    pub label: String,
    /// Where its time went.
    pub stages: StageTimes,
}

impl Profile {
    /// The run's `wall_secs` split by stage, in seconds: building tasks, each cell stage, and
    /// what no task or cell covers (starting workers, the log, the reports).
    pub fn split(&self, wall_secs: f64) -> Vec<(&'static str, f64)> {
        let cells = self.cell_totals();
        let builds = self.build_secs();
        let outside = (wall_secs - builds - cells.total()).max(0.0);
        vec![
            ("building tasks (data, degradations, N(X|Y))", builds),
            ("plugins' restore (the measured samples)", cells.restore_secs),
            ("plugins' constructors (models built)", cells.construct_secs),
            ("estimating U, P, distortion", cells.estimate_secs),
            ("quality metrics (NIQE, BRISQUE, ST-LPIPS)", cells.metrics_secs),
            ("judging (intervals, bound, verdicts)", cells.judge_secs),
            ("timing (criterion's extra calls)", cells.timing_secs),
            ("sample grids", cells.grids_secs),
            ("loading plugin libraries", cells.load_secs),
            ("other in cells (task prepared, checks, copies)", cells.other_secs),
            ("outside cells (workers, log, reports)", outside),
        ]
    }

    /// Every cell's stages added up.
    pub fn cell_totals(&self) -> StageTimes {
        let mut total = StageTimes::default();
        self.cells.iter().for_each(|c| total.add(&c.stages));
        total
    }

    /// Seconds spent building tasks.
    pub fn build_secs(&self) -> f64 {
        self.tasks.iter().map(|t| t.build_secs).sum()
    }
}

/// Where a cell's wall time went, by stage, in seconds: inside the plugin (its constructor and
/// its `restore` for the quality run), and the harness's own work around it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimes {
    /// Inside the plugin's `restore`: the calls that made the measured samples.
    pub restore_secs: f64,
    /// Inside the plugin's constructor: its model built (weights read, its own set-up).
    #[serde(default)]
    pub construct_secs: f64,
    /// Estimating U, P and distortion (per image: PSNR-Y and SSIM too).
    pub estimate_secs: f64,
    /// Image tasks: the per-image quality metrics (NIQE, BRISQUE, ST-LPIPS) on the outputs,
    /// loading them included. Absent from results written before issue [13].
    #[serde(default)]
    pub metrics_secs: f64,
    /// Judging: intervals, the bound, region and verdict.
    pub judge_secs: f64,
    /// Measuring throughput (criterion's extra calls included).
    pub timing_secs: f64,
    /// Drawing and writing sample grids.
    pub grids_secs: f64,
    /// Opening plugin libraries this process had not opened yet (reading and hashing the file,
    /// loading it).
    #[serde(default)]
    pub load_secs: f64,
    /// The rest of the cell: preparing the task in this process, batches, checks, assembling.
    pub other_secs: f64,
}

impl StageTimes {
    /// Everything, in seconds.
    pub fn total(&self) -> f64 {
        self.restore_secs
            + self.construct_secs
            + self.estimate_secs
            + self.metrics_secs
            + self.judge_secs
            + self.timing_secs
            + self.grids_secs
            + self.load_secs
            + self.other_secs
    }

    /// Inside the plugin's code: its constructor and its `restore` calls.
    pub fn plugin_secs(&self) -> f64 {
        self.restore_secs + self.construct_secs
    }

    /// The harness's own work: everything but the plugin's code and criterion's timing calls.
    pub fn harness_secs(&self) -> f64 {
        (self.total() - self.plugin_secs() - self.timing_secs).max(0.0)
    }

    /// Adds `other`'s stages to these.
    pub fn add(&mut self, other: &StageTimes) {
        self.restore_secs += other.restore_secs;
        self.construct_secs += other.construct_secs;
        self.estimate_secs += other.estimate_secs;
        self.metrics_secs += other.metrics_secs;
        self.judge_secs += other.judge_secs;
        self.timing_secs += other.timing_secs;
        self.grids_secs += other.grids_secs;
        self.load_secs += other.load_secs;
        self.other_secs += other.other_secs;
    }
}
