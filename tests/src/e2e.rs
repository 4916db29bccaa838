//! What the end-to-end tests share with their worker daemon (`src/bin/e2e_worker.rs`):
//! the job it runs, and the ledger in which every run leaves its trace.
//!
//! The ledger is a plain file that several worker processes append to. Each line is written
//! with one `write` on an `O_APPEND` descriptor, so lines from different processes never
//! interleave; a reader ignores a last line that has no newline yet.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jobs_core::{JobContext, JobError, JobId, job};

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
