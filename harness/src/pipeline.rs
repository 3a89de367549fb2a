//! The whole run, orchestrated: check the suite ([`check`]) → plan its cells ([`Plan`]) → build
//! each task and state its N(X|Y) once → evaluate each cell ([`Workbench`], in this process or
//! in a worker process, [`WorkerPool`]) → log it ([`Journal`]) → assemble the [`RunReport`]
//! from the log ([`Journal::assemble`]).
//! Failures are recorded with the plugin, task or cell they concern and the run goes on;
//! nothing computed is dropped.

use std::path::PathBuf;
use std::time::Instant;

use crate::check::{check, CheckedSuite};
use crate::engine::{CellRequest, TaskBuilt, Workbench};
use crate::journal::{Header, Journal, Record, TaskState};
use crate::plan::{Cell, Plan, TaskType};
use crate::provenance::{manifest, now};
use crate::record::{Cause, CellOutcome, ConfigResult, Failure, RunReport, Stage, TaskSummary};
use crate::setup::RunPlan;
use crate::worker::{WorkerLimits, WorkerPool};

/// Progress events; every method defaults to doing nothing.
pub trait Progress {
    /// The plugins are loaded: this many (task, configuration) runs lie ahead.
    fn planned(&mut self, _runs: usize) {}
    /// One (task, configuration) run finished, whatever its outcome.
    fn finished(&mut self, _task: &str, _label: &str) {}
    /// A task was built and its models are about to run.
    fn task_started(&mut self, _task: &TaskSummary) {}
    /// One configuration finished.
    fn result(&mut self, _result: &ConfigResult) {}
    /// Something failed; the run continues.
    fn failure(&mut self, _failure: &Failure) {}
}

/// A [`Progress`] that reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// Checks the suite ([`check`]) and runs what passed in this process; never fails as a whole:
/// the checks' problems are recorded as failures like any other. `upbench run` refuses a suite
/// with problems before it runs anything instead.
pub fn run_suite(plan: &RunPlan, progress: &mut dyn Progress) -> RunReport {
    run_checked(plan, check(plan), progress)
}

/// Runs a checked suite in this process with a log kept in memory, and returns the report.
pub fn run_checked(plan: &RunPlan, checked: CheckedSuite<'_>, progress: &mut dyn Progress) -> RunReport {
    let cells = Plan::new(&plan.suite, &checked, plan.device);
    let header = Header {
        format: crate::journal::FORMAT,
        invocation: serde_json::Value::Null,
        suite_text: plan.suite.text.clone(),
        manifest: manifest(plan, &checked, now()),
        plan: cells,
        shard: None,
    };
    let mut journal = Journal::in_memory();
    // An in-memory log has no file to fail.
    let _ = journal.append(Record::Header(Box::new(header)));
    execute(plan, checked, &Isolation::InProcess, &mut journal, progress)
}

/// Where cells run.
#[derive(Debug, Clone)]
pub enum Isolation {
    /// In this process (`--isolation none`): a plugin that crashes ends the run.
    InProcess,
    /// In worker processes started from this executable (`upbench worker`), within limits.
    Process {
        /// The `upbench` binary.
        executable: PathBuf,
        /// The cell timeout and the memory limit.
        limits: WorkerLimits,
    },
}

/// Runs the cells of `journal`'s plan that it does not hold yet, appending each task and cell
/// as it completes, and returns the report assembled from the whole log. Holds
/// [`crate::seed::torch_rng_lock`]: plugins and harness share libtorch's generator.
pub fn execute(
    plan: &RunPlan,
    mut checked: CheckedSuite<'_>,
    isolation: &Isolation,
    journal: &mut Journal,
    progress: &mut dyn Progress,
) -> RunReport {
    let _rng = crate::seed::torch_rng_lock();
    tch::set_num_threads(plan.suite.file.threads.unwrap_or(crate::suite::DEFAULT_THREADS) as i32);
    let started = Instant::now();
    let file = &plan.suite.file;
    let Some(header) = journal.header().cloned() else { unreachable!("a journal is created with its header") };
    let mut log = Log { journal, unwritten: None, progress };
    let fresh = log.journal.is_fresh();
    for problem in std::mem::take(&mut checked.problems) {
        log.progress.failure(&problem);
        if fresh {
            log.append(Record::Problem(problem));
        }
    }
    let cells = &header.plan.cells;
    let pending = |c: &Cell, journal: &Journal| header.runs(c.index) && !journal.completed(c.index, &c.id);
    let remaining = cells.iter().filter(|c| pending(c, log.journal)).count();
    log.progress.planned(remaining);

    let mut executor = match isolation {
        Isolation::InProcess => Executor::InProcess(Workbench::new(plan, std::mem::take(&mut checked.libraries))),
        Isolation::Process { executable, limits } => {
            Executor::Workers(Box::new(WorkerPool::new(executable.clone(), plan, *limits)))
        }
    };
    let exact = file.tasks.iter().filter(|t| checked.runnable(&t.name)).map(|t| (t.name.as_str(), TaskType::Exact));
    let image =
        file.image_tasks.iter().filter(|t| checked.runnable(&t.name)).map(|t| (t.name.as_str(), TaskType::Image));
    for (name, task_type) in exact.chain(image).collect::<Vec<_>>() {
        let task_cells: Vec<&Cell> = cells.iter().filter(|c| c.task == name && pending(c, log.journal)).collect();
        // A shard builds the tasks it has cells of (the first shard also those without any
        // cells, so that the merged report lists every task a whole run lists).
        let of_task: Vec<&Cell> = cells.iter().filter(|c| c.task == name).collect();
        let needed = match &header.shard {
            None => true,
            Some(shard) => of_task.iter().any(|c| header.runs(c.index)) || (of_task.is_empty() && shard.index == 1),
        };
        if !needed {
            continue;
        }
        let summaries = task_summaries(&mut log, &mut executor, name, task_type);
        let Some(summaries) = summaries else {
            // The task's cells cannot run; the progress bar still counts them.
            task_cells.iter().for_each(|c| log.progress.finished(&c.task, &c.label));
            continue;
        };
        summaries.iter().for_each(|s| log.progress.task_started(s));
        for cell in task_cells {
            let request = CellRequest { cell: cell.clone(), summaries: summaries.clone() };
            let outcome = executor.evaluate(&request);
            outcome.results.iter().for_each(|r| log.progress.result(r));
            outcome.failures.iter().for_each(|f| log.progress.failure(f));
            log.progress.finished(&cell.task, &cell.label);
            log.append(Record::Cell { index: cell.index, id: cell.id.clone(), outcome });
        }
    }
    drop(executor);
    let mut manifest = header.manifest.clone();
    manifest.wall_secs = started.elapsed().as_secs_f64();
    let unwritten = log.unwritten.take();
    let mut report = log.journal.assemble(manifest);
    report.failures.extend(unwritten);
    report
}

/// The task's summaries: from the log when it was built before (a resumed run), else built now
/// and logged with its problems; `None` when it could not be built.
fn task_summaries(
    log: &mut Log<'_, '_>,
    executor: &mut Executor<'_>,
    name: &str,
    task_type: TaskType,
) -> Option<Vec<TaskSummary>> {
    match log.journal.task(name) {
        Some(TaskState::Failed) => None,
        Some(TaskState::Built(summaries)) => Some(summaries.to_vec()),
        None => {
            let built = executor.build_task(name, task_type);
            for problem in built.problems {
                log.fail(problem);
            }
            if let Some(summaries) = &built.summaries {
                let build_secs = built.build_secs;
                log.append(Record::Task { task: name.to_string(), summaries: summaries.clone(), build_secs });
            }
            built.summaries
        }
    }
}

/// Where cells run: here, or in worker processes.
enum Executor<'p> {
    InProcess(Workbench<'p>),
    Workers(Box<WorkerPool>),
}

impl Executor<'_> {
    fn build_task(&mut self, name: &str, task_type: TaskType) -> TaskBuilt {
        match self {
            Executor::InProcess(workbench) => workbench.build_task(name, task_type),
            Executor::Workers(pool) => pool.build_task(name, task_type),
        }
    }

    fn evaluate(&mut self, request: &CellRequest) -> CellOutcome {
        match self {
            Executor::InProcess(workbench) => workbench.evaluate(request),
            Executor::Workers(pool) => pool.run(request),
        }
    }
}

/// The journal with the progress sink: every record appended is reported; a log that cannot be
/// written is recorded once and the run goes on in memory.
struct Log<'j, 'p> {
    journal: &'j mut Journal,
    unwritten: Option<Failure>,
    progress: &'p mut dyn Progress,
}

impl Log<'_, '_> {
    fn append(&mut self, record: Record) {
        if let Err(e) = self.journal.append(record) {
            if self.unwritten.is_none() {
                let failure = Failure {
                    stage: Stage::Report,
                    cause: Cause::Output,
                    subject: "run log".into(),
                    task: None,
                    message: format!("{e}; the run went on and its results are in memory only"),
                };
                self.progress.failure(&failure);
                self.unwritten = Some(failure);
            }
        }
    }

    fn fail(&mut self, failure: Failure) {
        self.progress.failure(&failure);
        self.append(Record::Problem(failure));
    }
}
