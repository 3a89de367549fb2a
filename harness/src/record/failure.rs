//! A failure recorded while the rest of the run went on: [`Failure`], its [`Stage`] and its typed
//! [`Cause`] (a worker's end in [`WorkerEnding`]).

use serde::{Deserialize, Serialize};

/// Where in the pipeline something failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Loading a plugin library.
    Load,
    /// Building a task.
    Task,
    /// Resolving parameters or constructing a model.
    Configure,
    /// Running `restore`.
    Run,
    /// Estimating.
    Estimate,
    /// Writing a figure or report file.
    Report,
}

/// What kind of fault a failure is, for tools that act on failures (retry a timed-out cell, fix
/// a parameter, skip a crashing plugin) without reading its message. Written once, by the code
/// that knows the error's type; never derived from the message. In `results.json` an object
/// tagged by `kind` (schema 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Cause {
    /// The suite names something it does not have (an unknown task in a plugin's `tasks`).
    Suite,
    /// A task could not be built: its settings are out of range, or its images are missing or
    /// unreadable.
    Task,
    /// The plugin library is missing, not a plugin, or built against an incompatible SDK.
    PluginLoad,
    /// The plugin library changed after the run was planned.
    PluginChanged,
    /// A parameter of the plugin entry is unknown, of the wrong type or an empty sweep.
    Parameter {
        /// The parameter's name.
        name: String,
    },
    /// The plugin solves none of the tasks it is given.
    Unsupported,
    /// The plugin refused to construct the model (a value it does not accept, a missing weights
    /// file, a task it cannot do).
    Refused,
    /// The suite changed since the run was planned (a resumed run): the cell's plugin entry,
    /// configuration or task is gone.
    PlanMismatch,
    /// The model's `restore` returned an error or panicked.
    ModelError,
    /// The model's output had the wrong shape, type or device.
    MalformedOutput,
    /// The model's output held NaN or infinite values.
    NonFiniteOutput,
    /// libtorch failed on the harness's side.
    Torch,
    /// A statistic could not be estimated (degenerate samples, too few images).
    Estimate,
    /// A perception metric (NIQE, BRISQUE, ST-LPIPS, a suite's own) could not score an output;
    /// the rest of the cell stands.
    Metric,
    /// Timing failed after the quality numbers were in.
    Timing,
    /// The worker process running the cell ended without answering.
    Worker {
        /// How it ended.
        ending: WorkerEnding,
    },
    /// A log, results or figure file could not be written.
    Output,
    /// Read from a results file of schema ≤ 3, which recorded no cause.
    Unrecorded,
}

/// How a worker process ended without answering (see `upbench run --isolation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum WorkerEnding {
    /// It could not be started: no process, no pipes, or no folder for its log.
    NotStarted,
    /// It refused the run at start-up: another protocol version, or a suite it cannot read.
    Refused,
    /// It passed a time limit (the cell timeout, or the start-up limit) and was killed.
    TimedOut {
        /// The limit, seconds.
        limit_s: u64,
    },
    /// It was killed by a signal: a crash, an abort, or the memory limit.
    Killed {
        /// The signal's number.
        signal: i32,
    },
    /// It exited with a status before answering.
    Exited {
        /// The exit status.
        code: i32,
    },
    /// It ended and its status could not be read.
    Ended,
    /// It sent a reply that could not be read, or one of the wrong kind.
    Protocol,
}

/// A failure recorded while the rest of the run went on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The stage.
    pub stage: Stage,
    /// What kind of fault it is (schema 4; [`Cause::Unrecorded`] when read from older files).
    #[serde(default = "unrecorded")]
    pub cause: Cause,
    /// The plugin (with its path) or task concerned.
    pub subject: String,
    /// The task, when the failure is specific to one.
    pub task: Option<String>,
    /// The full error message.
    pub message: String,
}

fn unrecorded() -> Cause {
    Cause::Unrecorded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_a_tagged_object_and_files_without_one_read_as_unrecorded() {
        let failure = Failure {
            stage: Stage::Run,
            cause: Cause::Worker { ending: WorkerEnding::TimedOut { limit_s: 600 } },
            subject: "slow (/plugins/libslow.so)".into(),
            task: Some("den".into()),
            message: "did not finish within the cell timeout of 600 s".into(),
        };
        let json = serde_json::to_value(&failure).unwrap();
        assert_eq!(
            json["cause"],
            serde_json::json!({"kind": "worker", "ending": {"how": "timed-out", "limit_s": 600}})
        );
        assert_eq!(serde_json::from_value::<Failure>(json).unwrap(), failure);
        let parameter = serde_json::to_value(Cause::Parameter { name: "gamma".into() }).unwrap();
        assert_eq!(parameter, serde_json::json!({"kind": "parameter", "name": "gamma"}));
        let schema_3 = r#"{"stage": "load", "subject": "x", "task": null, "message": "x: no such file"}"#;
        assert_eq!(serde_json::from_str::<Failure>(schema_3).unwrap().cause, Cause::Unrecorded);
    }
}
