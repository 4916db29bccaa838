//! What the end-to-end tests share with their worker daemon (`src/bin/e2e_worker.rs`):
//! the jobs it runs, the ledger in which every run leaves its trace, and the harness the
//! tests drive it with ([`World`], [`WorkerProcess`], [`audit`]).
//!
//! The ledger is a plain file that several worker processes append to. Each line is written
//! with one `write` on an `O_APPEND` descriptor, so lines from different processes never
//! interleave; a reader ignores a last line that has no newline yet.
//!
//! [`keyed_sleep`] keeps a ledger of its own ([`FlowLedger`]): its lines carry the job's
//! limit key and a wall-clock time, so a test can tell how many runs were open at once,
//! across processes.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs_core::{
    BackendError, Client, EnqueueError, JobContext, JobError, JobId, JobInfo, JobState, job,
};
use jobs_redis::{RedisBackend, RedisBackendBuilder};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio::time::Instant;

use crate::redis_server::{RedisServer, RedisServerBuilder};
use crate::support::eventually;

/// The queue of the end-to-end jobs.
pub const QUEUE: &str = "e2e";

/// Appends `start <id> <pid> <attempt>` to the ledger at `ledger`, sleeps `ms`
/// milliseconds, then appends `done <id> <pid>`.
#[job(queue = "e2e")]
pub async fn logged_sleep(ledger: String, ms: u64, ctx: JobContext) -> Result<(), JobError> {
    let pid = std::process::id();
    append_line(
        Path::new(&ledger),
        &format!("start {} {pid} {}", ctx.id(), ctx.attempt()),
    )?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    append_line(Path::new(&ledger), &format!("done {} {pid}", ctx.id()))?;
    Ok(())
}

/// [`logged_sleep`] that returns the pid of the process that ran it, so the job's stored
/// result names the run that was recorded. It does not watch `ctx.cancelled()`: a run
/// whose lease was lost goes on to the end and reports, as a worker cut off from Redis
/// would, so that a test can check that the stale outcome is refused.
#[job(queue = "e2e")]
pub async fn pid_sleep(ledger: String, ms: u64, ctx: JobContext) -> Result<u32, JobError> {
    let pid = std::process::id();
    append_line(
        Path::new(&ledger),
        &format!("start {} {pid} {}", ctx.id(), ctx.attempt()),
    )?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    append_line(Path::new(&ledger), &format!("done {} {pid}", ctx.id()))?;
    Ok(pid)
}

/// Appends `start <id> <host> <pid> <attempt> <us>` to the [`FlowLedger`] at `ledger`,
/// sleeps `ms` milliseconds, then appends `end <id> <host> <pid> <attempt> <us>`; `<us>`
/// is [`now_us`]. Its limit key is `host`.
///
/// The `start` line is written after the job was reserved and the `end` line before its
/// outcome is sent, so each run the ledger shows lies inside the lease the store gave it:
/// runs open at once in the ledger were leased at once.
#[job(queue = "e2e", limit_key = "host")]
pub async fn keyed_sleep(
    ledger: String,
    host: String,
    ms: u64,
    ctx: JobContext,
) -> Result<(), JobError> {
    let pid = std::process::id();
    let (id, attempt) = (ctx.id(), ctx.attempt());
    let path = Path::new(&ledger);
    append_line(
        path,
        &format!("start {id} {host} {pid} {attempt} {}", now_us()),
    )?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    append_line(
        path,
        &format!("end {id} {host} {pid} {attempt} {}", now_us()),
    )?;
    Ok(())
}

/// Microseconds since the Unix epoch (wall clock: comparable across the processes of one
/// machine).
pub fn now_us() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    u64::try_from(since.as_micros()).expect("microseconds fit in u64")
}

/// Appends `line` and a newline to the file at `path` in one `write` call on an `O_APPEND`
/// descriptor, creating the file if needed.
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let buf = format!("{line}\n");
    // One call, not `write_all`: a write that loops could let another process's line in
    // between. A regular file takes a small write whole.
    let written = file.write(buf.as_bytes())?;
    if written != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "short write to {}: {written} of {}",
                path.display(),
                buf.len()
            ),
        ));
    }
    Ok(())
}

/// One line of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A run began.
    Start {
        /// The job.
        id: JobId,
        /// The worker process that ran it.
        pid: u32,
        /// The attempt number the job's context reported.
        attempt: u32,
    },
    /// A run finished.
    Done {
        /// The job.
        id: JobId,
        /// The worker process that ran it.
        pid: u32,
    },
}

impl Entry {
    /// The job the line is about.
    pub fn id(&self) -> JobId {
        match *self {
            Entry::Start { id, .. } | Entry::Done { id, .. } => id,
        }
    }

    /// The process that wrote the line.
    pub fn pid(&self) -> u32 {
        match *self {
            Entry::Start { pid, .. } | Entry::Done { pid, .. } => pid,
        }
    }

    /// Whether the line records the start of a run.
    pub fn is_start(&self) -> bool {
        matches!(self, Entry::Start { .. })
    }

    /// Parses one line (without its newline).
    pub fn parse(line: &str) -> Result<Entry, String> {
        let bad = || format!("bad ledger line {line:?}");
        let fields: Vec<&str> = line.split(' ').collect();
        let id = |s: &str| s.parse::<JobId>().map_err(|_| bad());
        let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
        match fields[..] {
            ["start", i, p, a] => Ok(Entry::Start {
                id: id(i)?,
                pid: num(p)?,
                attempt: num(a)?,
            }),
            ["done", i, p] => Ok(Entry::Done {
                id: id(i)?,
                pid: num(p)?,
            }),
            _ => Err(bad()),
        }
    }
}

/// The ledger file the jobs of one test write to.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
}

impl Ledger {
    /// A ledger at `path` (the file is created by the first line written).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Ledger { path: path.into() }
    }

    /// Its path, as the jobs' `ledger` argument.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its path as a string, for [`LoggedSleep::ledger`].
    pub fn arg(&self) -> String {
        self.path.to_str().expect("a UTF-8 temp path").to_owned()
    }

    /// Every complete line so far, parsed; empty if nothing was written yet. A last line
    /// still missing its newline is left out. Panics on a line that does not parse: the
    /// file is written only by [`append_line`], so that is a bug.
    pub fn entries(&self) -> Vec<Entry> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("cannot read ledger {}: {e}", self.path.display()),
        };
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => return Vec::new(),
        };
        complete
            .lines()
            .map(|line| Entry::parse(line).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    /// The lines about job `id`, in order.
    pub fn entries_of(&self, id: JobId) -> Vec<Entry> {
        self.entries()
            .into_iter()
            .filter(|e| e.id() == id)
            .collect()
    }
}

/// One line of a [`FlowLedger`]: a run of [`keyed_sleep`] began or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEvent {
    /// `true` for a `start` line, `false` for an `end` line.
    pub start: bool,
    /// The job.
    pub id: JobId,
    /// Its limit key.
    pub host: String,
    /// The worker process that ran it.
    pub pid: u32,
    /// The attempt number the job's context reported.
    pub attempt: u32,
    /// When, in microseconds since the Unix epoch ([`now_us`]).
    pub at_us: u64,
}

impl FlowEvent {
    /// Parses one line (without its newline).
    pub fn parse(line: &str) -> Result<FlowEvent, String> {
        let bad = || format!("bad flow ledger line {line:?}");
        let fields: Vec<&str> = line.split(' ').collect();
        let [kind, id, host, pid, attempt, at_us] = fields[..] else {
            return Err(bad());
        };
        Ok(FlowEvent {
            start: match kind {
                "start" => true,
                "end" => false,
                _ => return Err(bad()),
            },
            id: id.parse().map_err(|_| bad())?,
            host: host.to_owned(),
            pid: pid.parse().map_err(|_| bad())?,
            attempt: attempt.parse().map_err(|_| bad())?,
            at_us: at_us.parse().map_err(|_| bad())?,
        })
    }
}

/// The ledger file [`keyed_sleep`] writes to: [`FlowEvent`] lines, appended as
/// [`append_line`] does.
#[derive(Debug, Clone)]
pub struct FlowLedger {
    path: PathBuf,
}

impl FlowLedger {
    /// A ledger at `path` (the file is created by the first line written).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FlowLedger { path: path.into() }
    }

    /// Its path as a string, for [`KeyedSleep::ledger`].
    pub fn arg(&self) -> String {
        self.path.to_str().expect("a UTF-8 temp path").to_owned()
    }

    /// Every complete line so far, parsed, in file order; empty if nothing was written
    /// yet. A last line still missing its newline is left out; a line that does not parse
    /// panics (a bug: only [`keyed_sleep`] writes the file).
    pub fn events(&self) -> Vec<FlowEvent> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("cannot read ledger {}: {e}", self.path.display()),
        };
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => return Vec::new(),
        };
        complete
            .lines()
            .map(|line| FlowEvent::parse(line).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }
}

/// Slack on top of what a step should take, for a loaded 2-core CI machine.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// Log lines of a worker printed when a test fails.
const LOG_TAIL_LINES: usize = 200;

/// One test's world: a temp dir (ledger, worker output), a private Redis, a client, and
/// the worker binary to start.
///
/// When the test fails (the thread is panicking as the world drops), the temp dir is kept
/// and its path printed, so the ledger and the workers' logs can be read afterwards.
pub struct World {
    // Fields drop in order: the server dies after the client, the dir goes last.
    /// A client on the test's Redis, with the test's key prefix.
    pub client: Client<RedisBackend>,
    /// The test's own `redis-server`.
    pub server: RedisServer,
    /// The key prefix of the test's jobs.
    pub prefix: String,
    /// The ledger the test's jobs write to.
    pub ledger: Ledger,
    worker_bin: PathBuf,
    dir: TempDir,
}

impl World {
    /// A world with a default `redis-server` (no persistence) and a default client.
    /// `worker_bin` is the worker daemon, `env!("CARGO_BIN_EXE_e2e_worker")` in a test (or
    /// any program taking `--redis-url` and `--prefix` first: the `spawn_worker` methods
    /// start it).
    pub async fn new(worker_bin: impl Into<PathBuf>, prefix: &str) -> World {
        Self::with(worker_bin, prefix, RedisServer::builder(), |backend| {
            backend
        })
        .await
    }

    /// A world whose server is started from `server` and whose client's backend is
    /// configured by `backend` (the prefix is set before).
    pub async fn with(
        worker_bin: impl Into<PathBuf>,
        prefix: &str,
        server: RedisServerBuilder,
        backend: impl FnOnce(RedisBackendBuilder) -> RedisBackendBuilder,
    ) -> World {
        let dir = tempfile::Builder::new()
            .prefix("jobs-e2e-")
            .tempdir()
            .expect("temp dir");
        let server = server.start().expect("start redis-server");
        let backend = backend(RedisBackend::builder(&server.url()).prefix(prefix))
            .connect()
            .await
            .expect("connect to the test's redis-server");
        World {
            client: Client::new(backend),
            ledger: Ledger::new(dir.path().join("ledger")),
            server,
            prefix: prefix.to_owned(),
            worker_bin: worker_bin.into(),
            dir,
        }
    }

    /// The temp dir: the ledger, and each worker's `<name>.out` and `<name>.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts worker `name` with `args` (`--lease-ms`, ...) after the connection
    /// arguments, without waiting for it.
    pub fn spawn_worker(&self, name: &str, args: &[&str]) -> WorkerProcess {
        self.spawn_worker_at(&self.server.url(), name, args)
    }

    /// [`World::spawn_worker`], connecting to `url` (a proxy in front of the server, say).
    pub fn spawn_worker_at(&self, url: &str, name: &str, args: &[&str]) -> WorkerProcess {
        let mut all = vec!["--redis-url", url, "--prefix", &self.prefix];
        all.extend_from_slice(args);
        WorkerProcess::spawn(&self.worker_bin, self.dir.path(), name, &all)
    }

    /// [`World::spawn_worker`] with `stdin` as the process's standard input (the read end
    /// of a pipe, say, for a start barrier).
    pub fn spawn_worker_with_stdin(
        &self,
        name: &str,
        args: &[&str],
        stdin: Stdio,
    ) -> WorkerProcess {
        let url = self.server.url();
        let mut all = vec!["--redis-url", &url, "--prefix", &self.prefix];
        all.extend_from_slice(args);
        WorkerProcess::spawn_with_stdin(&self.worker_bin, self.dir.path(), name, &all, stdin)
    }

    /// Starts worker `name` with `args` and waits until it is ready.
    pub async fn worker(&self, name: &str, args: &[&str]) -> WorkerProcess {
        self.worker_at(&self.server.url(), name, args).await
    }

    /// [`World::worker`], connecting to `url`.
    pub async fn worker_at(&self, url: &str, name: &str, args: &[&str]) -> WorkerProcess {
        let mut worker = self.spawn_worker_at(url, name, args);
        let took = worker.wait_ready().await;
        println!("{name}: pid {} ready in {took:.2?}", worker.pid);
        worker
    }

    /// A [`LoggedSleep`] of `ms` writing to this world's ledger.
    pub fn job(&self, ms: u64) -> LoggedSleep {
        LoggedSleep {
            ledger: self.ledger.arg(),
            ms,
        }
    }

    /// A [`PidSleep`] of `ms` writing to this world's ledger.
    pub fn pid_job(&self, ms: u64) -> PidSleep {
        PidSleep {
            ledger: self.ledger.arg(),
            ms,
        }
    }

    /// The record of job `id` of [`QUEUE`]; panics if there is none.
    pub async fn record(&self, id: JobId) -> JobInfo {
        self.client
            .job(QUEUE, id)
            .await
            .expect("job lookup")
            .unwrap_or_else(|| panic!("no record of job {id}"))
    }

    /// The full Redis key `<prefix>:{e2e}:<suffix>` (`jobs`, `ready`, `succeeded`, ...).
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{{{QUEUE}}}:{suffix}", self.prefix)
    }

    /// An integer reply (`HLEN`, `ZCARD`, ...) of a raw command on the test's server.
    pub fn redis_int(&self, args: &[&str]) -> i64 {
        let reply = self.server.command(args).expect("raw Redis command");
        reply
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{args:?} answered {reply:?}, not an integer"))
    }

    /// Waits until the ledger has `n` `start` lines for `id`; returns them.
    pub async fn starts(&self, id: JobId, n: usize, timeout: Duration) -> Vec<Entry> {
        let what = format!("{n} start line(s) of job {id} in the ledger");
        eventually(&what, timeout, || {
            let starts: Vec<Entry> = self
                .ledger
                .entries_of(id)
                .into_iter()
                .filter(Entry::is_start)
                .collect();
            std::future::ready((starts.len() >= n).then_some(starts))
        })
        .await
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "---- test dir kept for inspection (ledger, worker logs): {} ----",
                self.dir.path().display()
            );
        }
    }
}

/// Enqueues the job made by `make` with id `id` and `max_attempts`, retrying with the same
/// id while the backend is [`BackendError::Unavailable`] (Redis away or restarting): the
/// enqueue is idempotent by id, so a retry after an enqueue that was stored but not
/// acknowledged stores nothing twice. Waits `pause` between tries (a retry backoff, not a
/// synchronisation), and panics on any other error or after `timeout`. Returns the number
/// of failed tries.
pub async fn enqueue_until_stored<J: jobs_core::Job>(
    client: &Client<RedisBackend>,
    make: impl Fn() -> J,
    id: JobId,
    max_attempts: u32,
    pause: Duration,
    timeout: Duration,
) -> u32 {
    let deadline = Instant::now() + timeout;
    let mut failures = 0;
    loop {
        match client
            .enqueue(make())
            .id(id)
            .max_attempts(max_attempts)
            .await
        {
            Ok(stored) => {
                assert_eq!(stored, id, "enqueue returned another id than it was given");
                return failures;
            }
            Err(EnqueueError::Backend(BackendError::Unavailable(e))) => {
                failures += 1;
                assert!(
                    Instant::now() < deadline,
                    "job {id} not stored after {failures} tries in {timeout:?}; last error: {e}"
                );
                tokio::time::sleep(pause).await;
            }
            Err(e) => panic!("enqueue of job {id} failed with a non-transient error: {e:?}"),
        }
    }
}

/// What [`audit`] found, for a test's summary line and assertions.
#[derive(Debug, Default)]
pub struct Audit {
    /// Jobs audited.
    pub jobs: usize,
    /// Jobs not Succeeded, without a record, or without a `done` line in the ledger.
    pub lost: usize,
    /// Jobs with more than one `start` line in the ledger.
    pub duplicate_runs: usize,
    /// `start` lines beyond the first, over all jobs.
    pub extra_runs: usize,
    /// Lease expiries (stalls) recorded, over all jobs.
    pub stalls: u64,
    /// Jobs with at least one stall.
    pub stalled_jobs: usize,
    /// Most deliveries of one job.
    pub max_deliveries: u32,
    /// Every broken invariant, one line each (empty when all hold).
    pub problems: Vec<String>,
}

impl Audit {
    /// Panics with the problems found, if any.
    pub fn assert_clean(&self) {
        const SHOWN: usize = 30;
        assert!(
            self.problems.is_empty() && self.lost == 0,
            "{} lost job(s), {} problem(s); the first {SHOWN}:\n{}",
            self.lost,
            self.problems.len(),
            self.problems
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Checks every job of `ids` against its record and the ledger, for jobs that never fail
/// (no retry, snooze or release: [`LoggedSleep`], [`PidSleep`]) and runs that end only by
/// finishing or by their worker being lost (SIGKILL, a Redis outage longer than the lease):
///
/// - nothing lost: each job is Succeeded and has a `done` line;
/// - every delivery after the first is explained by a lost lease: `stalls == deliveries
///   - 1`, and `attempts == deliveries` (each reservation counts an attempt);
/// - every run is a delivery: `starts <= deliveries`, `dones <= starts`;
/// - the ledger names no job outside `ids`.
///
/// A job with several `start` lines (a duplicate run) is thus always one whose lease was
/// lost. Returns the figures; call [`Audit::assert_clean`] after printing them.
pub async fn audit(world: &World, ids: &[JobId]) -> Audit {
    let runs = by_job(&world.ledger.entries());
    let mut out = Audit {
        jobs: ids.len(),
        ..Audit::default()
    };
    let known: std::collections::BTreeSet<JobId> = ids.iter().copied().collect();
    for id in runs.keys().filter(|id| !known.contains(id)) {
        out.problems
            .push(format!("job {id} is in the ledger but was never enqueued"));
    }
    for &id in ids {
        let entries = runs.get(&id).map(Vec::as_slice).unwrap_or_default();
        let starts = entries.iter().filter(|e| e.is_start()).count();
        let dones = entries.len() - starts;
        let Some(info) = world.client.job(QUEUE, id).await.expect("job lookup") else {
            out.lost += 1;
            out.problems
                .push(format!("job {id}: no record; ledger {entries:?}"));
            continue;
        };
        if info.state != JobState::Succeeded || dones == 0 {
            out.lost += 1;
            out.problems.push(format!(
                "job {id} lost: {:?} with {dones} done line(s); record {info:?}; ledger {entries:?}",
                info.state
            ));
        }
        out.stalls += u64::from(info.stalls);
        out.stalled_jobs += usize::from(info.stalls > 0);
        out.max_deliveries = out.max_deliveries.max(info.deliveries);
        if starts > 1 {
            out.duplicate_runs += 1;
            out.extra_runs += starts - 1;
        }
        let explained = info.deliveries >= 1
            && info.stalls == info.deliveries - 1
            && info.attempts == info.deliveries
            && starts <= info.deliveries as usize
            && dones <= starts;
        if !explained {
            out.problems.push(format!(
                "job {id}: {starts} start(s), {dones} done(s), deliveries {}, stalls {}, \
                 attempts {} do not add up; record {info:?}; ledger {entries:?}",
                info.deliveries, info.stalls, info.attempts
            ));
        }
    }
    out
}

/// The ledger's lines grouped by job.
pub fn by_job(entries: &[Entry]) -> BTreeMap<JobId, Vec<Entry>> {
    let mut out: BTreeMap<JobId, Vec<Entry>> = BTreeMap::new();
    for e in entries {
        out.entry(e.id()).or_default().push(*e);
    }
    out
}

/// A worker daemon in a child process: killed and reaped when dropped, so no test leaves
/// one behind, pass or fail. A failing test (a panicking thread) prints its log first.
pub struct WorkerProcess {
    /// The name given by the test; also names its output files.
    pub name: String,
    /// The process id.
    pub pid: u32,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl WorkerProcess {
    /// Starts `bin` with `args`, its stdout in `dir/<name>.out` and its stderr (the log)
    /// in `dir/<name>.log`.
    pub fn spawn(bin: &Path, dir: &Path, name: &str, args: &[&str]) -> WorkerProcess {
        Self::spawn_with_stdin(bin, dir, name, args, Stdio::null())
    }

    /// [`WorkerProcess::spawn`] with `stdin` as the process's standard input.
    pub fn spawn_with_stdin(
        bin: &Path,
        dir: &Path,
        name: &str,
        args: &[&str],
        stdin: Stdio,
    ) -> WorkerProcess {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.log"));
        let child = Command::new(bin)
            .args(args)
            .stdin(stdin)
            .stdout(File::create(&stdout).expect("worker stdout file"))
            .stderr(File::create(&stderr).expect("worker stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        WorkerProcess {
            name: name.to_owned(),
            pid: child.id(),
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for the `ready pid=<pid>` line; fails at once if the process exits first.
    pub async fn wait_ready(&mut self) -> Duration {
        let started = Instant::now();
        let expected = format!("ready pid={}", self.pid);
        let what = format!("{} (pid {}) to print {expected:?}", self.name, self.pid);
        eventually(&what, PATIENCE, || {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("{} exited before it was ready: {status}", self.name);
            }
            let out = fs::read_to_string(&self.stdout).unwrap_or_default();
            std::future::ready(out.lines().any(|l| l == expected).then_some(()))
        })
        .await;
        started.elapsed()
    }

    /// SIGKILL, as in a crash; reaps the process.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL the worker");
        self.child.wait().expect("reap the worker")
    }

    /// Sends `signal` (SIGTERM, SIGSTOP, SIGCONT, ...); panics if the process has exited.
    pub fn signal(&mut self, signal: Signal) {
        // Our child, not yet reaped: the pid cannot have been reused.
        assert!(
            self.is_running(),
            "{} (pid {}) exited before {signal}",
            self.name,
            self.pid
        );
        let pid = Pid::from_raw(i32::try_from(self.pid).expect("pid fits in pid_t"));
        signal::kill(pid, signal).unwrap_or_else(|e| panic!("{signal} to {}: {e}", self.name));
    }

    /// SIGTERM, as a process manager sends on shutdown.
    pub fn terminate(&mut self) {
        self.signal(Signal::SIGTERM);
    }

    /// Whether the process has not exited (a stopped process counts as running). Reaps it
    /// if it has.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the process to exit and reaps it.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let what = format!("{} (pid {}) to exit", self.name, self.pid);
        eventually(&what, timeout, || {
            std::future::ready(self.child.try_wait().expect("try_wait"))
        })
        .await
    }

    /// Its standard output so far.
    pub fn output(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Its log (stderr) so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // Kill first, so the log is complete and the process does not outlive the test.
        // `kill` does nothing to a child that was already reaped, and ends a stopped one.
        let _ = self.child.kill();
        let status = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- {} (pid {}, {status:?}), last {LOG_TAIL_LINES} log lines ----\n{}\n---- end of {} log ----",
                self.name,
                self.pid,
                self.log_tail(),
                self.name,
            );
        }
    }
}
