//! The run's durable log, `run.jsonl` in the run directory: a header (how the run was invoked, its
//! manifest and its plan), then every task summary, recorded problem and completed cell, one JSON
//! line each, appended and fsynced as they come. `results.json`, the tables and the page are
//! built from it ([`Journal::assemble`]), so an interrupted run keeps everything it finished,
//! `upbench report` can show it, and `upbench run --resume` skips what is done. A [`RunLock`]
//! keeps a second process from writing into the same directory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::assemble::{self, RunRecords};
use crate::plan::Plan;
use crate::record::{
    CellOutcome, CellTime, ConfigResult, Failure, Incomplete, Manifest, Profile, RunReport, Stage, TaskSummary,
    TaskTime,
};

/// The log's file name in a run directory.
pub const FILE_NAME: &str = "run.jsonl";

/// The lock's file name in a run directory.
pub const LOCK_NAME: &str = "run.lock";

/// This log format's version (the header's `format`).
pub const FORMAT: u32 = 1;

/// Why the log could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A line is not a record this harness reads.
    #[error("{path}, line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Another process holds the run directory.
    #[error("{path}: another upbench process is writing into this run directory{holder}")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// ` (pid N)` when known.
        holder: String,
    },
}

/// The first record: what resume needs to run the rest exactly as the start would have.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: u32,
    /// The command line's arguments, as the CLI records them (opaque here).
    pub invocation: serde_json::Value,
    /// The suite's text as the run read it (resume compares it with the file now).
    pub suite_text: String,
    /// Provenance at the start (wall time 0).
    pub manifest: Manifest,
    /// Every cell, in run order.
    pub plan: Plan,
    /// The part of the plan this run executes, when it is a shard (`upbench run --shard i/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// One shard of a plan: its position among the shards and the cells it runs ([`Plan::shard`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based position.
    pub index: usize,
    /// How many shards the plan is split into.
    pub count: usize,
    /// The indices of its cells in the plan.
    pub cells: Vec<usize>,
}

impl Header {
    /// Whether the run executes the cell with plan index `index`: every cell, or the shard's.
    pub fn runs(&self, index: usize) -> bool {
        self.shard.as_ref().is_none_or(|s| s.cells.binary_search(&index).is_ok())
    }
}

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum Record {
    /// The header; always first.
    Header(Box<Header>),
    /// A task was built: its summaries (one per patch side for image tasks).
    Task {
        /// Its name in the suite.
        task: String,
        /// The summaries.
        summaries: Vec<TaskSummary>,
        /// Seconds the build took (its data and N(X|Y)).
        #[serde(default)]
        build_secs: f64,
    },
    /// A failure outside any cell (a task that could not be built, a check's finding).
    Problem(Failure),
    /// A cell completed (with results, failures or both).
    Cell {
        /// Its index in the plan.
        index: usize,
        /// Its id.
        id: String,
        /// What it produced.
        outcome: CellOutcome,
    },
}

/// The log, read and (when opened for writing) appended to.
#[derive(Debug, Default)]
pub struct Journal {
    file: Option<(PathBuf, File)>,
    header: Option<Header>,
    tasks: Vec<(String, Vec<TaskSummary>)>,
    /// Every build of a task and its seconds (several, when shards each built it).
    builds: Vec<(String, f64)>,
    problems: Vec<Failure>,
    cells: BTreeMap<usize, (String, CellOutcome)>,
}

impl Journal {
    /// A log kept in memory only (library runs without a run directory).
    pub fn in_memory() -> Journal {
        Journal::default()
    }

    /// Starts the log of a new run in `dir` with its header.
    pub fn create(dir: &Path, header: Header) -> Result<Journal, JournalError> {
        let path = dir.join(FILE_NAME);
        let io = |cause| JournalError::Io { path: path.clone(), cause };
        let file = OpenOptions::new().create_new(true).append(true).open(&path).map_err(io)?;
        let mut journal = Journal { file: Some((path, file)), ..Journal::default() };
        journal.append(Record::Header(Box::new(header)))?;
        Ok(journal)
    }

    /// Reads the log in `dir` (a run directory or the log file itself).
    pub fn read(dir: &Path) -> Result<Journal, JournalError> {
        let path = if dir.is_dir() { dir.join(FILE_NAME) } else { dir.to_path_buf() };
        let (journal, _) = Journal::read_records(&path)?;
        Ok(journal)
    }

    /// Reads the log in `dir` and opens it for appending (resume). A last line cut short by an
    /// interruption is dropped from the file.
    pub fn reopen(dir: &Path) -> Result<Journal, JournalError> {
        let path = dir.join(FILE_NAME);
        let (mut journal, complete_len) = Journal::read_records(&path)?;
        let io = |cause| JournalError::Io { path: path.clone(), cause };
        let mut file = OpenOptions::new().read(true).write(true).open(&path).map_err(io)?;
        file.set_len(complete_len).map_err(io)?;
        file.seek(std::io::SeekFrom::End(0)).map_err(io)?;
        journal.file = Some((path, file));
        Ok(journal)
    }

    /// The records of `path`, and the length of its complete lines.
    fn read_records(path: &Path) -> Result<(Journal, u64), JournalError> {
        let io = |cause| JournalError::Io { path: path.to_path_buf(), cause };
        let reader = BufReader::new(File::open(path).map_err(io)?);
        let mut journal = Journal::default();
        let mut complete_len = 0u64;
        let mut lines = reader.split(b'\n').enumerate().peekable();
        while let Some((i, line)) = lines.next() {
            let line = line.map_err(io)?;
            let last = lines.peek().is_none();
            match serde_json::from_slice::<Record>(&line) {
                Ok(record) => {
                    if i == 0 && !matches!(record, Record::Header(_)) {
                        return Err(JournalError::Parse {
                            path: path.to_path_buf(),
                            line: 1,
                            message: "the log does not start with its header".into(),
                        });
                    }
                    journal.apply(record);
                    complete_len += line.len() as u64 + 1;
                }
                // The write of the last line was interrupted: what came before stands.
                Err(_) if last && i > 0 => break,
                Err(e) => {
                    return Err(JournalError::Parse { path: path.to_path_buf(), line: i + 1, message: e.to_string() })
                }
            }
        }
        if journal.header.is_none() {
            let message = "the log is empty".to_string();
            return Err(JournalError::Parse { path: path.to_path_buf(), line: 1, message });
        }
        let file_len = std::fs::metadata(path).map_err(io)?.len();
        Ok((journal, complete_len.min(file_len)))
    }

    /// Appends `record` (written and fsynced before this returns, when there is a file).
    /// The record is kept in memory even when writing it fails.
    pub fn append(&mut self, record: Record) -> Result<(), JournalError> {
        let written = match self.file.as_mut() {
            Some((path, file)) => {
                let io = |cause| JournalError::Io { path: path.clone(), cause };
                serde_json::to_vec(&record).map_err(|e| io(std::io::Error::other(e))).and_then(|mut line| {
                    line.push(b'\n');
                    file.write_all(&line).map_err(io)?;
                    file.sync_data().map_err(io)
                })
            }
            None => Ok(()),
        };
        self.apply(record);
        written
    }

    /// Whether nothing but the header is logged yet.
    pub fn is_fresh(&self) -> bool {
        self.tasks.is_empty() && self.problems.is_empty() && self.cells.is_empty()
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Header(header) => self.header = Some(*header),
            Record::Task { task, summaries, build_secs } => {
                self.builds.push((task.clone(), build_secs));
                if !self.tasks.iter().any(|(known, _)| *known == task) {
                    self.tasks.push((task, summaries));
                }
            }
            Record::Problem(failure) => self.problems.push(failure),
            Record::Cell { index, id, outcome } => {
                self.cells.insert(index, (id, outcome));
            }
        }
    }

    /// Every record after the header, in the order a run appends them: tasks, problems, then
    /// cells in plan order.
    pub fn records(&self) -> Vec<Record> {
        let seconds = |task: &str| self.builds.iter().filter(|(t, _)| t == task).map(|(_, s)| s).sum();
        let tasks = self.tasks.iter().map(|(task, summaries)| Record::Task {
            task: task.clone(),
            summaries: summaries.clone(),
            build_secs: seconds(task),
        });
        let problems = self.problems.iter().cloned().map(Record::Problem);
        let cells = self.cells.iter().map(|(index, (id, outcome))| Record::Cell {
            index: *index,
            id: id.clone(),
            outcome: outcome.clone(),
        });
        tasks.chain(problems).chain(cells).collect()
    }

    /// The header, when the log has one.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Whether the cell with this index and id completed.
    pub fn completed(&self, index: usize, id: &str) -> bool {
        self.cells.get(&index).is_some_and(|(logged, _)| logged == id)
    }

    /// Task `name`'s summaries, when it was built (or its problem, when it could not be).
    pub fn task(&self, name: &str) -> Option<TaskState<'_>> {
        if let Some((_, summaries)) = self.tasks.iter().find(|(task, _)| task == name) {
            return Some(TaskState::Built(summaries));
        }
        self.problems
            .iter()
            .any(|f| f.task.as_deref() == Some(name) && f.stage == Stage::Task)
            .then_some(TaskState::Failed)
    }

    /// The report of everything logged, with `manifest`: tasks in log order, results grouped by
    /// task in plan order and ranked, failures (problems first, then cells in plan order), and
    /// the cells still missing when the run is incomplete.
    pub fn assemble(&self, manifest: Manifest) -> RunReport {
        let tasks: Vec<TaskSummary> = self.tasks.iter().flat_map(|(_, summaries)| summaries.iter().cloned()).collect();
        let results: Vec<ConfigResult> =
            self.cells.values().flat_map(|(_, outcome)| outcome.results.iter().cloned()).collect();
        let mut failures = self.problems.clone();
        failures.extend(self.cells.values().flat_map(|(_, outcome)| outcome.failures.iter().cloned()));
        let incomplete = self.header.as_ref().and_then(|header| {
            let missing: Vec<String> = header
                .plan
                .cells
                .iter()
                .filter(|c| header.runs(c.index) && !self.completed(c.index, &c.id))
                .filter(|c| !matches!(self.task(&c.task), Some(TaskState::Failed)))
                .map(|c| format!("{} on {}", c.label, c.task))
                .collect();
            let planned = header.shard.as_ref().map_or(header.plan.cells.len(), |s| s.cells.len());
            (!missing.is_empty()).then_some(Incomplete { planned, missing })
        });
        let profile = Profile {
            tasks: self
                .builds
                .iter()
                .map(|(task, build_secs)| TaskTime { task: task.clone(), build_secs: *build_secs })
                .collect(),
            cells: self
                .cells
                .iter()
                .map(|(index, (_, outcome))| {
                    let cell = self.header.as_ref().and_then(|h| h.plan.cells.get(*index));
                    CellTime {
                        task: cell.map_or(String::new(), |c| c.task.clone()),
                        label: cell.map_or(String::new(), |c| c.label.clone()),
                        stages: outcome.stages,
                    }
                })
                .collect(),
        };
        assemble::run_report(RunRecords { manifest, tasks, results, failures, incomplete, profile: Some(profile) })
    }
}

/// Why shards could not be merged; each names the run directory concerned.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No run directory was given.
    #[error("no shard run directories were given")]
    Nothing,
    /// A run that is not a shard.
    #[error("{0}: not a shard (a run made with `upbench run --shard I/N`)")]
    NotAShard(PathBuf),
    /// Shards of different suites, plans or builds.
    #[error("{path}: {what} differs from {first}'s; shards must come from one suite, seed and build")]
    Differs {
        /// The shard that differs.
        path: PathBuf,
        /// The first shard.
        first: PathBuf,
        /// What differs.
        what: String,
    },
    /// One shard position twice.
    #[error("shard {index} of {count} is given twice: {first} and {second}")]
    Twice {
        /// Its position.
        index: usize,
        /// Of how many.
        count: usize,
        /// One run directory.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A task's summaries (its N(X|Y)) differ between shards that both built it.
    #[error("task '{task}' was stated differently by {first} and {second} (another device or libtorch?)")]
    TaskDiffers {
        /// The task.
        task: String,
        /// One shard.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Cells no shard completed.
    #[error("{} of {planned} cells are missing (no shard completed them); nothing was merged:\n  {}", missing.len(), missing.join("\n  "))]
    Missing {
        /// Cells in the plan.
        planned: usize,
        /// `<configuration> on <task> (shard i of N)`, each missing cell.
        missing: Vec<String>,
    },
}

/// Joins the logs of the shards of one plan into the log a whole run would have written: the
/// first shard's header (without its shard), every task in the suite's order (each stated
/// once; shards that built the same task must agree bit for bit), every distinct problem, and
/// every cell. Refuses shards of different suites, plans or builds, a shard given twice, and a
/// plan with cells no shard completed (listing them).
pub fn merge(parts: &[(PathBuf, Journal)]) -> Result<Journal, MergeError> {
    let head = shards_that_belong_together(parts)?;
    let mut merged = Journal::in_memory();
    merged.header = Some(Header { shard: None, ..head.clone() });
    merged.tasks = tasks_stated_once(parts, head)?;
    for (_, journal) in parts {
        merged.builds.extend(journal.builds.iter().cloned());
        for problem in &journal.problems {
            if !merged.problems.contains(problem) {
                merged.problems.push(problem.clone());
            }
        }
        for (index, cell) in &journal.cells {
            merged.cells.entry(*index).or_insert_with(|| cell.clone());
        }
    }
    let shard_of = |index: usize| {
        parts
            .iter()
            .filter_map(|(_, j)| j.header()?.shard.as_ref())
            .find(|s| s.cells.contains(&index))
            .map(|s| (s.index, s.count))
    };
    let missing: Vec<String> = head
        .plan
        .cells
        .iter()
        .filter(|c| !merged.completed(c.index, &c.id) && !matches!(merged.task(&c.task), Some(TaskState::Failed)))
        .map(|c| match shard_of(c.index) {
            Some((i, n)) => format!("{} on {} (shard {i} of {n})", c.label, c.task),
            None => format!("{} on {} (in a shard not given)", c.label, c.task),
        })
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { planned: head.plan.cells.len(), missing });
    }
    Ok(merged)
}

/// The first part's header, once every part is a shard of the same run: the same suite, plan,
/// build, seed and shard count, each shard given once.
fn shards_that_belong_together(parts: &[(PathBuf, Journal)]) -> Result<&Header, MergeError> {
    let Some((first_path, _)) = parts.first() else { return Err(MergeError::Nothing) };
    fn header_of((path, journal): &(PathBuf, Journal)) -> Result<&Header, MergeError> {
        journal.header().filter(|h| h.shard.is_some()).ok_or_else(|| MergeError::NotAShard(path.clone()))
    }
    let head = header_of(&parts[0])?;
    let mut seen: BTreeMap<usize, &PathBuf> = BTreeMap::new();
    for part in parts {
        let (path, _) = part;
        let header = header_of(part)?;
        let differs =
            |what: &str| MergeError::Differs { path: path.clone(), first: first_path.clone(), what: what.into() };
        let (m, h) = (&header.manifest, &head.manifest);
        if header.suite_text != head.suite_text {
            return Err(differs("the suite's text"));
        }
        if header.plan != head.plan {
            return Err(differs("the plan (its cells: plugin libraries, settings or device)"));
        }
        let build = |m: &Manifest| {
            (m.upbench_version.clone(), m.git_commit.clone(), m.libtorch_version.clone(), m.libtorch_cuda.clone())
        };
        if build(m) != build(h) || m.seed != h.seed {
            return Err(differs("the build (upbench, its commit or libtorch) or the seed"));
        }
        let (shard, head_shard) = (header.shard.as_ref().expect("checked"), head.shard.as_ref().expect("checked"));
        if shard.count != head_shard.count {
            return Err(differs("the number of shards"));
        }
        if let Some(other) = seen.insert(shard.index, path) {
            return Err(MergeError::Twice {
                index: shard.index,
                count: shard.count,
                first: other.clone(),
                second: path.clone(),
            });
        }
    }
    Ok(head)
}

/// Every task the parts built, each stated once (the parts must agree on it), in the order a
/// whole run builds them: the exact tasks in the suite's order, then the image tasks.
fn tasks_stated_once(
    parts: &[(PathBuf, Journal)],
    head: &Header,
) -> Result<Vec<(String, Vec<TaskSummary>)>, MergeError> {
    let mut stated: Vec<(String, Vec<TaskSummary>, &PathBuf)> = Vec::new();
    for (path, journal) in parts {
        for (task, summaries) in &journal.tasks {
            match stated.iter().find(|(t, _, _)| t == task) {
                Some((_, known, by)) if known != summaries => {
                    return Err(MergeError::TaskDiffers {
                        task: task.clone(),
                        first: (*by).clone(),
                        second: path.clone(),
                    })
                }
                Some(_) => {}
                None => stated.push((task.clone(), summaries.clone(), path)),
            }
        }
    }
    let order: Vec<String> = crate::suite::Suite::parse(&head.suite_text, "run.jsonl", PathBuf::new(), "merge")
        .map(|s| {
            s.file
                .tasks
                .iter()
                .map(|t| t.name.clone())
                .chain(s.file.image_tasks.iter().map(|t| t.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    stated.sort_by_key(|(task, _, _)| order.iter().position(|t| t == task).unwrap_or(usize::MAX));
    Ok(stated.into_iter().map(|(task, summaries, _)| (task, summaries)).collect())
}

/// Where a task stands in the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TaskState<'a> {
    /// Built, with these summaries.
    Built(&'a [TaskSummary]),
    /// It could not be built (its problem is logged).
    Failed,
}

/// An exclusive lock on a run directory, held while a process writes into it and released when
/// it ends, however it ends (an advisory `flock`, which the kernel drops with the process).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `dir`, or says who holds it.
    pub fn take(dir: &Path) -> Result<RunLock, JournalError> {
        use std::os::fd::AsRawFd;
        let path = dir.join(LOCK_NAME);
        let io = |cause| JournalError::Io { path: path.clone(), cause };
        let mut file =
            OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).map_err(io)?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let cause = std::io::Error::last_os_error();
            if cause.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(cause));
            }
            let holder = std::fs::read_to_string(&path).ok().filter(|s| !s.trim().is_empty());
            let holder = holder.map_or(String::new(), |pid| format!(" (pid {})", pid.trim()));
            return Err(JournalError::Locked { path, holder });
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(RunLock { _file: file })
    }
}

/// Creates `<parent>/<name>`, or `<name>-2`, `-3`… when it exists: `create_dir` either creates a
/// directory or fails, so two runs started in the same second never share one.
pub fn create_unique_dir(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    for attempt in 1.. {
        let dir = if attempt == 1 { parent.join(name) } else { parent.join(format!("{name}-{attempt}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "run_id": "r", "suite": "s", "suite_origin": "s.toml", "seed": 1, "started_at": "now",
            "wall_secs": 0.0, "upbench_version": "0", "git_commit": "x", "libtorch_version": "2",
            "libtorch_cuda": "none", "device": "cpu", "cuda_available": false, "torch_threads": 1,
            "estimator": crate::estimate::EstimatorConfig::default(),
            "sampling": {"observations": 2, "samples_per_observation": 2},
            "bootstrap_resamples": 10, "confidence_level": 0.95, "plugins": []
        }))
        .unwrap();
        Header {
            format: FORMAT,
            invocation: serde_json::Value::Null,
            suite_text: String::new(),
            manifest,
            plan: Plan { cells: Vec::new() },
            shard: None,
        }
    }

    #[test]
    fn a_last_line_cut_short_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), header()).unwrap();
        let outcome = CellOutcome::default();
        journal.append(Record::Cell { index: 0, id: "a".into(), outcome: outcome.clone() }).unwrap();
        drop(journal);
        let path = dir.path().join(FILE_NAME);
        let whole = std::fs::read(&path).unwrap();
        let mut cut = whole.clone();
        cut.extend_from_slice(br#"{"record":"cell","index":1,"id":"b","outc"#);
        std::fs::write(&path, &cut).unwrap();
        let mut reopened = Journal::reopen(dir.path()).unwrap();
        assert!(reopened.completed(0, "a") && !reopened.completed(1, "b"));
        assert_eq!(std::fs::read(&path).unwrap(), whole, "the cut line is gone from the file");
        reopened.append(Record::Cell { index: 1, id: "b".into(), outcome }).unwrap();
        let read = Journal::read(dir.path()).unwrap();
        assert!(read.completed(0, "a") && read.completed(1, "b"));
        // A log whose damage is not at its end is refused, naming the line.
        let mut damaged = whole.clone();
        damaged.extend_from_slice(b"not json\n{}\n");
        std::fs::write(&path, &damaged).unwrap();
        assert!(matches!(Journal::read(dir.path()), Err(JournalError::Parse { line: 3, .. })));
    }

    #[test]
    fn run_directories_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let first = create_unique_dir(dir.path(), "run").unwrap();
        let second = create_unique_dir(dir.path(), "run").unwrap();
        assert_ne!(first, second);
        assert_eq!(second.file_name().unwrap(), "run-2");
    }

    #[test]
    fn a_held_lock_refuses_a_second_writer() {
        let dir = tempfile::tempdir().unwrap();
        let held = RunLock::take(dir.path()).unwrap();
        assert!(matches!(RunLock::take(dir.path()), Err(JournalError::Locked { .. })));
        drop(held);
        assert!(RunLock::take(dir.path()).is_ok());
    }
}
