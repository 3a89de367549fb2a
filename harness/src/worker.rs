//! Worker processes: cells run in `upbench worker` children so that a plugin that crashes,
//! aborts, hangs or exhausts memory costs only the cell it was running. The orchestrator sends
//! the suite once and then one [`CellRequest`] at a time over the child's stdin; the child runs
//! the whole cell ([`Workbench`], the same code as in-process runs: tensors never cross) and
//! answers with its [`CellOutcome`] on its original stdout. Messages are length-prefixed JSON
//! (4 bytes little-endian, then the bytes). The child points its own stdout at stderr before
//! any plugin loads, so a plugin that prints cannot corrupt the protocol; its stderr goes to
//! `logs/worker-<n>.log` in the run directory, whose last lines a failure quotes.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::engine::{CellRequest, TaskBuilt, Workbench};
use crate::plan::TaskType;
use crate::record::{Cause, CellOutcome, Failure, Stage, StageTimes, WorkerEnding};
use crate::setup::RunPlan;
use crate::suite::Suite;

/// The version of the messages between orchestrator and worker. Compatibility rule: any change
/// to [`ToWorker`], [`FromWorker`] or a record they carry increments it; a worker refuses a run
/// of another version at start-up ([`WorkerRefusal::Protocol`]) instead of misreading it.
pub const PROTOCOL_VERSION: u32 = 2;

/// Messages larger than this are refused (a corrupt length, not a real outcome).
const MAX_FRAME: u32 = 1 << 30;

/// How long a new worker may take to read the suite and say it is ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Lines of a dead worker's stderr quoted in its failure.
const STDERR_LINES: usize = 12;

/// Limits on each worker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorkerLimits {
    /// A cell running longer is stopped (the worker killed) and recorded as failed.
    pub cell_timeout: Duration,
    /// Address-space limit of each worker (`RLIMIT_AS`), bytes; CPU runs only (CUDA reserves
    /// far more address space than it uses).
    pub memory_bytes: Option<u64>,
}

/// Writes one message.
pub fn write_frame(out: &mut impl Write, message: &impl Serialize) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    let len = u32::try_from(bytes.len()).ok().filter(|&n| n <= MAX_FRAME).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("message of {} bytes is too large", bytes.len()))
    })?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Reads one message; `None` at a clean end of input.
pub fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("message length {len} is too large")));
    }
    let mut bytes = vec![0u8; len as usize];
    input.read_exact(&mut bytes)?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// What a worker needs to rebuild the orchestrator's [`RunPlan`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerInit {
    /// [`PROTOCOL_VERSION`] of the orchestrator (0: one from before versions were stated).
    #[serde(default)]
    protocol: u32,
    suite_text: String,
    suite_origin: String,
    suite_name: String,
    base_dir: PathBuf,
    threads: Option<usize>,
    cuda: Option<usize>,
    plugin_dirs: Vec<PathBuf>,
    log_dir: PathBuf,
    run_id: String,
    data_dir: PathBuf,
    models_dir: Option<PathBuf>,
    figure_dir: Option<PathBuf>,
}

impl WorkerInit {
    /// The plan, as a message.
    pub fn of(plan: &RunPlan) -> WorkerInit {
        WorkerInit {
            protocol: PROTOCOL_VERSION,
            suite_text: plan.suite.text.clone(),
            suite_origin: plan.suite.origin.clone(),
            suite_name: plan.suite.name.clone(),
            base_dir: plan.suite.base_dir.clone(),
            threads: plan.suite.file.threads,
            cuda: match plan.device {
                tch::Device::Cuda(i) => Some(i),
                _ => None,
            },
            plugin_dirs: plan.plugin_dirs.clone(),
            log_dir: plan.log_dir.clone(),
            run_id: plan.run_id.clone(),
            data_dir: plan.data_dir.clone(),
            models_dir: plan.models_dir.clone(),
            figure_dir: plan.figure_dir.clone(),
        }
    }

    /// The plan again, in the worker.
    fn into_plan(self) -> Result<RunPlan, WorkerRefusal> {
        if self.protocol != PROTOCOL_VERSION {
            return Err(WorkerRefusal::Protocol { orchestrator: self.protocol, worker: PROTOCOL_VERSION });
        }
        let mut suite = Suite::parse(&self.suite_text, &self.suite_origin, self.base_dir, &self.suite_name)
            .map_err(|e| WorkerRefusal::Suite(e.to_string()))?;
        suite.name = self.suite_name;
        suite.file.threads = self.threads;
        Ok(RunPlan {
            suite,
            device: self.cuda.map_or(tch::Device::Cpu, tch::Device::Cuda),
            plugin_dirs: self.plugin_dirs,
            log_dir: self.log_dir,
            run_id: self.run_id,
            data_dir: self.data_dir,
            models_dir: self.models_dir,
            figure_dir: self.figure_dir,
        })
    }
}

/// Why a worker refused the run it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum WorkerRefusal {
    /// The orchestrator speaks another protocol version: the `upbench` binary that started the
    /// worker is not the one the worker is.
    #[error(
        "the orchestrator speaks worker protocol {orchestrator}, this worker {worker}: run workers from the same upbench build"
    )]
    Protocol {
        /// The orchestrator's [`PROTOCOL_VERSION`].
        orchestrator: u32,
        /// The worker's.
        worker: u32,
    },
    /// The suite did not parse in the worker (the orchestrator parsed the same text).
    #[error("the suite does not parse in the worker: {0}")]
    Suite(String),
}

/// Orchestrator → worker.
#[derive(Debug, Serialize, Deserialize)]
enum ToWorker {
    /// First message: the run.
    Init(Box<WorkerInit>),
    /// Build this task and state its N(X|Y); its cells follow.
    Task(String, TaskType),
    /// Run this cell.
    Cell(Box<CellRequest>),
}

/// Worker → orchestrator.
#[derive(Debug, Serialize, Deserialize)]
enum FromWorker {
    /// The run was read; send cells.
    Ready,
    /// The run could not be read.
    Refused(WorkerRefusal),
    /// A task, built.
    Built(Box<TaskBuilt>),
    /// A cell's outcome.
    Done(Box<CellOutcome>),
}

/// `upbench worker`: serves cells until its input ends. Not for people: the orchestrator starts it.
pub fn serve() -> anyhow::Result<()> {
    // The protocol keeps the original stdout; everything else printing to stdout (plugins, the
    // harness's own messages) lands on stderr from here on.
    // SAFETY: plain descriptor duplication before any other thread exists.
    let protocol_fd = unsafe { libc::dup(1) };
    if protocol_fd < 0 || unsafe { libc::dup2(2, 1) } < 0 {
        anyhow::bail!("cannot set up the worker's descriptors: {}", std::io::Error::last_os_error());
    }
    // SAFETY: `protocol_fd` is a fresh descriptor owned by nothing else.
    let mut replies =
        std::io::BufWriter::new(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(protocol_fd) });
    let mut requests = std::io::BufReader::new(std::io::stdin().lock());
    let Some(ToWorker::Init(init)) = read_frame(&mut requests)? else {
        anyhow::bail!("upbench worker: expected the run first (this command is started by `upbench run`)");
    };
    let plan = match init.into_plan() {
        Ok(plan) => plan,
        Err(refusal) => {
            write_frame(&mut replies, &FromWorker::Refused(refusal.clone()))?;
            anyhow::bail!("upbench worker: {refusal}");
        }
    };
    let _rng = crate::seed::torch_rng_lock();
    tch::set_num_threads(plan.suite.file.threads.unwrap_or(crate::suite::DEFAULT_THREADS) as i32);
    write_frame(&mut replies, &FromWorker::Ready)?;
    let mut workbench = Workbench::new(&plan, Vec::new());
    while let Some(message) = read_frame::<ToWorker>(&mut requests)? {
        let reply = match message {
            ToWorker::Init(_) => anyhow::bail!("upbench worker: the run was sent twice"),
            ToWorker::Task(name, task_type) => {
                eprintln!("upbench worker: task {name}");
                FromWorker::Built(Box::new(workbench.build_task(&name, task_type)))
            }
            ToWorker::Cell(request) => {
                eprintln!("upbench worker: cell {} — {} on {}", request.cell.id, request.cell.label, request.cell.task);
                FromWorker::Done(Box::new(workbench.evaluate(&request)))
            }
        };
        write_frame(&mut replies, &reply)?;
    }
    Ok(())
}

/// One live worker.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<std::io::Result<FromWorker>>,
    stderr_log: PathBuf,
    /// Length of the stderr log when the current request was sent: a failure quotes only what
    /// the worker wrote since.
    request_start: u64,
}

/// Runs cells in worker processes, one at a time, starting a fresh worker whenever one died.
pub struct WorkerPool {
    executable: PathBuf,
    init: WorkerInit,
    limits: WorkerLimits,
    log_dir: PathBuf,
    current: Option<Worker>,
    started: usize,
}

impl WorkerPool {
    /// A pool that starts `executable worker` (the `upbench` binary) for `plan`.
    pub fn new(executable: PathBuf, plan: &RunPlan, limits: WorkerLimits) -> WorkerPool {
        WorkerPool {
            executable,
            init: WorkerInit::of(plan),
            limits,
            log_dir: plan.log_dir.clone(),
            current: None,
            started: 0,
        }
    }

    /// Runs one cell in the current worker (started when there is none); a worker that dies,
    /// passes the cell timeout or breaks the protocol is recorded as the cell's failure and
    /// replaced for the next cell.
    pub fn run(&mut self, request: &CellRequest) -> CellOutcome {
        let cell = &request.cell;
        let error = match self.exchange(ToWorker::Cell(Box::new(request.clone()))) {
            Ok(FromWorker::Done(outcome)) => return *outcome,
            Ok(other) => self.broken(&other),
            Err(error) => error,
        };
        let failure = error.failure(Stage::Run, cell.subject(), &cell.task);
        CellOutcome { results: Vec::new(), failures: vec![failure], stages: StageTimes::default() }
    }

    /// Builds a task in the current worker, which keeps it for the task's cells.
    pub fn build_task(&mut self, name: &str, task_type: TaskType) -> TaskBuilt {
        let error = match self.exchange(ToWorker::Task(name.to_string(), task_type)) {
            Ok(FromWorker::Built(built)) => return *built,
            Ok(other) => self.broken(&other),
            Err(error) => error,
        };
        let problem = error.failure(Stage::Task, name.to_string(), name);
        TaskBuilt { summaries: None, problems: vec![problem], build_secs: 0.0 }
    }

    /// Sends one request and waits for its reply within the cell timeout; any other end is
    /// described, and the worker is gone afterwards.
    fn exchange(&mut self, request: ToWorker) -> Result<FromWorker, WorkerError> {
        if self.current.is_none() {
            self.current = Some(self.start()?);
        }
        let Some(worker) = self.current.as_mut() else { unreachable!("started above") };
        worker.request_start = std::fs::metadata(&worker.stderr_log).map_or(0, |m| m.len());
        let sent = match worker.stdin.as_mut() {
            Some(stdin) => write_frame(stdin, &request),
            None => Err(std::io::Error::other("the worker's input is closed")),
        };
        let reply = match sent {
            Ok(()) => worker.replies.recv_timeout(self.limits.cell_timeout),
            Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
        };
        let known = match reply {
            Ok(Ok(reply)) => return Ok(reply),
            Ok(Err(e)) => Some(Fault::Unreadable(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = worker.child.kill();
                Some(Fault::CellTimeout(self.limits.cell_timeout))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
        };
        let worker = self.current.take().expect("current worker");
        Err(self.bury(worker, known, false))
    }

    /// A reply of the wrong kind: the worker is stopped and replaced.
    fn broken(&mut self, reply: &FromWorker) -> WorkerError {
        let fault = Fault::WrongReply(format!("{reply:?}"));
        match self.current.take() {
            Some(mut worker) => {
                let _ = worker.child.kill();
                self.bury(worker, Some(fault), false)
            }
            None => WorkerError { fault, starting: false, stderr: None },
        }
    }

    /// Starts a worker and waits until it has read the run.
    fn start(&mut self) -> Result<Worker, WorkerError> {
        self.started += 1;
        let not_started = |fault: Fault| WorkerError { fault, starting: true, stderr: None };
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |error| not_started(Fault::Spawn { what, error })
        };
        std::fs::create_dir_all(&self.log_dir).map_err(io(&self.log_dir))?;
        let stderr_log = self.log_dir.join(format!("worker-{}.log", self.started));
        let stderr = std::fs::File::create(&stderr_log).map_err(io(&stderr_log))?;
        let mut child = self.command(stderr).spawn().map_err(io(&self.executable))?;
        let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(not_started(Fault::NoPipes));
        };
        let (send, replies) = mpsc::channel();
        std::thread::spawn(move || loop {
            match read_frame::<FromWorker>(&mut stdout) {
                Ok(Some(message)) => {
                    if send.send(Ok(message)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = send.send(Err(e));
                    return;
                }
            }
        });
        let init = write_frame(&mut stdin, &ToWorker::Init(Box::new(self.init.clone())));
        let mut worker = Worker { child, stdin: Some(stdin), replies, stderr_log, request_start: 0 };
        let known = match init.map(|()| worker.replies.recv_timeout(STARTUP_TIMEOUT)) {
            Ok(Ok(Ok(FromWorker::Ready))) => return Ok(worker),
            Ok(Ok(Ok(FromWorker::Refused(why)))) => Some(Fault::Refused(why)),
            Ok(Ok(Ok(other))) => Some(Fault::WrongReply(format!("{other:?}"))),
            Ok(Ok(Err(e))) => Some(Fault::Unreadable(e)),
            Ok(Err(mpsc::RecvTimeoutError::Timeout)) => {
                let _ = worker.child.kill();
                Some(Fault::StartTimeout(STARTUP_TIMEOUT))
            }
            Ok(Err(mpsc::RecvTimeoutError::Disconnected)) | Err(_) => None,
        };
        Err(self.bury(worker, known, true))
    }

    /// The command that starts a worker: `upbench worker`, its stderr to `stderr`, killed with
    /// its orchestrator, within the memory limit.
    fn command(&self, stderr: std::fs::File) -> Command {
        let mut command = Command::new(&self.executable);
        command.arg("worker").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(stderr);
        let memory_bytes = self.limits.memory_bytes;
        // SAFETY: only async-signal-safe syscalls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // A worker never outlives its orchestrator, however that ends (kill -9 included).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(bytes) = memory_bytes {
                    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                    if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        command
    }

    /// Waits for a worker that is gone or being killed, and says how it ended: the fault when it
    /// is known already, else its signal or exit status; with its last stderr lines.
    fn bury(&self, mut worker: Worker, known: Option<Fault>, starting: bool) -> WorkerError {
        drop(worker.stdin.take());
        let status = wait_briefly(&mut worker.child);
        let fault = known.unwrap_or_else(|| match (status.and_then(|s| s.signal()), status.and_then(|s| s.code())) {
            (Some(signal), _) => Fault::Killed { signal, memory_limit: self.limits.memory_bytes },
            (None, Some(code)) => Fault::Exited(code),
            (None, None) => Fault::Ended,
        });
        let lines = stderr_excerpt(&worker.stderr_log, worker.request_start);
        let stderr = (!lines.is_empty()).then(|| (worker.stderr_log.clone(), lines));
        WorkerError { fault, starting, stderr }
    }
}

/// Why a worker did not answer a request: typed for the failure's [`Cause`], and written out as
/// its message (with the last lines of the worker's stderr).
#[derive(Debug)]
pub struct WorkerError {
    fault: Fault,
    /// Whether it happened while the worker was being started.
    starting: bool,
    /// The worker's stderr log and its last lines since the request.
    stderr: Option<(PathBuf, Vec<String>)>,
}

/// What went wrong with a worker.
#[derive(Debug)]
enum Fault {
    /// The log folder, log file or process could not be created (`what` names which).
    Spawn { what: String, error: std::io::Error },
    /// The process had no pipes.
    NoPipes,
    /// It refused the run.
    Refused(WorkerRefusal),
    /// It did not get ready within the start-up limit.
    StartTimeout(Duration),
    /// It did not answer within the cell timeout.
    CellTimeout(Duration),
    /// Its reply could not be read.
    Unreadable(std::io::Error),
    /// It replied with a message of the wrong kind (shown).
    WrongReply(String),
    /// It was killed by `signal`; `memory_limit` is the address-space limit it ran under.
    Killed { signal: i32, memory_limit: Option<u64> },
    /// It exited with a status.
    Exited(i32),
    /// It ended and its status could not be read.
    Ended,
}

impl WorkerError {
    /// How the worker ended, as its failure records it.
    pub fn ending(&self) -> WorkerEnding {
        match &self.fault {
            Fault::Spawn { .. } | Fault::NoPipes => WorkerEnding::NotStarted,
            Fault::Refused(_) => WorkerEnding::Refused,
            Fault::StartTimeout(limit) | Fault::CellTimeout(limit) => {
                WorkerEnding::TimedOut { limit_s: limit.as_secs() }
            }
            Fault::Unreadable(_) | Fault::WrongReply(_) => WorkerEnding::Protocol,
            Fault::Killed { signal, .. } => WorkerEnding::Killed { signal: *signal },
            Fault::Exited(code) => WorkerEnding::Exited { code: *code },
            Fault::Ended => WorkerEnding::Ended,
        }
    }

    /// Its record at `stage`, for `subject` on `task`.
    fn failure(&self, stage: Stage, subject: String, task: &str) -> Failure {
        let cause = Cause::Worker { ending: self.ending() };
        Failure { stage, cause, subject, task: Some(task.to_string()), message: self.to_string() }
    }
}

impl std::fmt::Display for WorkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.starting && !matches!(self.fault, Fault::Spawn { .. } | Fault::NoPipes) {
            f.write_str("cannot start a worker process: ")?;
        }
        match &self.fault {
            Fault::Spawn { what, error } => write!(f, "cannot start a worker process ({what}): {error}")?,
            Fault::NoPipes => f.write_str("cannot start a worker process: it has no pipes")?,
            Fault::Refused(why) => write!(f, "the worker refused the run: {why}")?,
            Fault::StartTimeout(limit) => write!(f, "the worker did not start within {} s", limit.as_secs())?,
            Fault::CellTimeout(limit) => write!(
                f,
                "did not finish within the cell timeout of {} s (--cell-timeout); its worker was killed",
                limit.as_secs()
            )?,
            Fault::Unreadable(e) => write!(f, "the worker's reply could not be read ({e})")?,
            Fault::WrongReply(reply) => write!(f, "the worker broke the protocol (it sent {reply})")?,
            Fault::Killed { signal, memory_limit } => {
                write!(f, "its worker process was killed by {}", signal_name(*signal))?;
                if let (Some(bytes), libc::SIGABRT | libc::SIGKILL) = (memory_limit, *signal) {
                    write!(f, " (workers may use {} of address space, --worker-memory)", human_bytes(*bytes))?;
                }
            }
            Fault::Exited(code) => write!(f, "its worker process exited with status {code} before answering")?,
            Fault::Ended => f.write_str("its worker process ended before answering")?,
        }
        if let Some((log, lines)) = &self.stderr {
            let (first, rest) = lines.split_first().expect("an excerpt has lines");
            write!(f, "; its stderr ({}) said: {first}", log.display())?;
            for line in rest {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for WorkerError {}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        if let Some(mut worker) = self.current.take() {
            drop(worker.stdin.take());
            if wait_briefly(&mut worker.child).is_none() {
                let _ = worker.child.kill();
                let _ = worker.child.wait();
            }
        }
    }
}

/// The child's exit status, waiting up to five seconds for it to end.
fn wait_briefly(child: &mut Child) -> Option<std::process::ExitStatus> {
    for _ in 0..100 {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return None,
        }
    }
    None
}

/// `SIGSEGV (segmentation fault)` and the like.
fn signal_name(signal: i32) -> String {
    let known = match signal {
        libc::SIGSEGV => "SIGSEGV (segmentation fault)",
        libc::SIGABRT => "SIGABRT (abort: a failed assertion, an allocation that failed, or a stack overflow)",
        libc::SIGKILL => "SIGKILL (killed: out of memory, or from outside)",
        libc::SIGBUS => "SIGBUS (bus error)",
        libc::SIGFPE => "SIGFPE (arithmetic exception)",
        libc::SIGILL => "SIGILL (illegal instruction)",
        libc::SIGTERM => "SIGTERM (terminated)",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal}, {known}")
}

/// `8 GiB`, `512 MiB`.
fn human_bytes(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    if bytes >= GIB && bytes % GIB == 0 {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

/// What a worker wrote to stderr from byte `from` on, without the worker's own line naming the
/// request: the first and last lines when there are many (the cause usually opens a panic or
/// abort message, and a backtrace or progress output can follow it).
fn stderr_excerpt(path: &Path, from: u64) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else { return Vec::new() };
    let text = String::from_utf8_lossy(&bytes[(from as usize).min(bytes.len())..]).into_owned();
    let lines: Vec<&str> =
        text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("upbench worker: ")).collect();
    if lines.len() <= STDERR_LINES {
        return lines.iter().map(|l| l.to_string()).collect();
    }
    let (head, tail) = (STDERR_LINES / 3, STDERR_LINES - STDERR_LINES / 3);
    let mut out: Vec<String> = lines[..head].iter().map(|l| l.to_string()).collect();
    out.push(format!("… ({} lines)", lines.len() - head - tail));
    out.extend(lines[lines.len() - tail..].iter().map(|l| l.to_string()));
    out
}

/// Parses a memory size: bytes, or a number with K, M, G or T (powers of 1024), e.g. `8G`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, shift) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("'{text}': the unit must be K, M, G or T")),
            };
            (&text[..at], shift)
        }
        _ => (text, 0),
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("'{text}' is not a size like 8G or 512M"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("'{text}': a size must be positive"));
    }
    Ok((value * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::{parse_size, read_frame, write_frame, WorkerInit, WorkerRefusal, PROTOCOL_VERSION};

    /// A run from an orchestrator of another protocol version (or one from before versions were
    /// stated, which sends none) is refused by name before the suite is even read.
    #[test]
    fn a_worker_refuses_another_protocol_version() {
        let init = |protocol: Option<u32>| {
            let mut message = serde_json::json!({
                "suite_text": "not a suite", "suite_origin": "x", "suite_name": "x", "base_dir": ".",
                "threads": null, "cuda": null, "plugin_dirs": [], "log_dir": ".", "run_id": "x",
                "data_dir": ".", "figure_dir": null
            });
            if let Some(p) = protocol {
                message["protocol"] = p.into();
            }
            serde_json::from_value::<WorkerInit>(message).unwrap()
        };
        for (sent, orchestrator) in [(None, 0), (Some(PROTOCOL_VERSION + 1), PROTOCOL_VERSION + 1)] {
            let refusal = init(sent).into_plan().unwrap_err();
            assert_eq!(refusal, WorkerRefusal::Protocol { orchestrator, worker: PROTOCOL_VERSION });
            assert!(refusal.to_string().contains("same upbench build"), "{refusal}");
        }
        // The right version gets as far as the suite.
        assert!(matches!(init(Some(PROTOCOL_VERSION)).into_plan(), Err(WorkerRefusal::Suite(_))));
    }

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, &vec![1.5f64, f64::MIN_POSITIVE]).unwrap();
        write_frame(&mut bytes, &"two").unwrap();
        let mut input = bytes.as_slice();
        assert_eq!(read_frame::<Vec<f64>>(&mut input).unwrap(), Some(vec![1.5, f64::MIN_POSITIVE]));
        assert_eq!(read_frame::<String>(&mut input).unwrap().as_deref(), Some("two"));
        assert_eq!(read_frame::<String>(&mut input).unwrap(), None);
        // A frame cut short is an error, not a clean end.
        let mut cut = &bytes[..6];
        assert!(read_frame::<Vec<f64>>(&mut cut).is_err());
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("-1G").is_err());
        assert!(parse_size("8X").is_err());
        assert!(parse_size("lots").is_err());
    }
}
