//! What operators' tools read and change: pages of jobs in any state, deletions, the
//! queues a store knows, per-minute throughput, and the live worker processes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::id::JobId;
use super::record::{JobInfo, JobState};

/// Most jobs one page holds ([`Backend::list_jobs`](crate::Backend::list_jobs)); larger
/// limits are cut to this.
pub const LIST_PAGE_MAX: usize = 500;

/// Most jobs one [`Backend::purge`](crate::Backend::purge) call deletes; larger limits are
/// cut to this (so each step stays short on a large queue).
pub const PURGE_BATCH: usize = 500;

/// Minutes of throughput a store keeps per queue ([`Backend::throughput`](crate::Backend::throughput)).
pub const THROUGHPUT_MINUTES: u32 = 60;

/// Where a page of [`Backend::list_jobs`](crate::Backend::list_jobs) ended: pass it back
/// for the next page. Opaque; printable and parsable, so a command line can take it.
///
/// A cursor names the last job listed and its place in the state's order (sort score,
/// then id); the next page starts right after that place, wherever the job is now (it may
/// have left the state, or moved in it: a lease renewed, a job rescheduled), so nothing
/// is skipped for it (a job that moved further on may be listed again).
///
/// ```
/// use jobs_core::ListCursor;
/// let cursor: ListCursor = "1733212800000:0193a5c2-7d1e-7000-8000-000000000001".parse()?;
/// assert_eq!(cursor.to_string().parse::<ListCursor>()?, cursor);
/// assert!("nonsense".parse::<ListCursor>().is_err());
/// # Ok::<(), jobs_core::InvalidCursor>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListCursor {
    /// The last job's sort score in its state (the store's own, e.g. a time in ms).
    pub score: i64,
    /// The last job listed.
    pub id: JobId,
}

/// A cursor that is not one ([`ListCursor`]'s text form is `SCORE:ID`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid page cursor {0:?}: expected SCORE:ID, as printed with the previous page")]
pub struct InvalidCursor(pub String);

impl fmt::Display for ListCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.score, self.id)
    }
}

impl FromStr for ListCursor {
    type Err = InvalidCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidCursor(s.chars().take(80).collect());
        let (score, id) = s.split_once(':').ok_or_else(bad)?;
        Ok(ListCursor {
            score: score.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// One page of jobs in one state ([`Backend::list_jobs`](crate::Backend::list_jobs)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobPage {
    /// The jobs, in the state's order (see [`Backend::list_jobs`](crate::Backend::list_jobs)).
    pub jobs: Vec<JobInfo>,
    /// Where the next page starts; `None` when this page reached the end.
    pub next: Option<ListCursor>,
}

impl JobPage {
    /// A page of `jobs`, followed by the page after `next`.
    pub fn new(jobs: Vec<JobInfo>, next: Option<ListCursor>) -> Self {
        JobPage { jobs, next }
    }
}

/// What [`Backend::delete_jobs`](crate::Backend::delete_jobs) did with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deleted {
    /// It is gone. A waiting one was cancelled first (a batch counts it as ended, not
    /// succeeded; its uniqueness key is free), then removed with its record.
    Deleted,
    /// It is running: nothing changed (cancel it, and delete it once it has ended).
    Running,
    /// No such job.
    NotFound,
}

/// The jobs of one queue that ended in one minute ([`Backend::throughput`](crate::Backend::throughput)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MinuteCounts {
    /// The minute's start, ms since the Unix epoch (the store's clock).
    pub minute_ms: u64,
    /// Jobs that succeeded in it.
    pub succeeded: u64,
    /// Attempts that failed in it (retried later or dead), including jobs the worker
    /// could not decode.
    pub failed: u64,
    /// Leases that expired in it and were recovered (the job ready again, or dead once it
    /// stalled too often): a worker died, hung or lost the store mid-job.
    pub stalled: u64,
}

impl MinuteCounts {
    /// The counts of the minute starting at `minute_ms`.
    pub fn new(minute_ms: u64, succeeded: u64, failed: u64) -> Self {
        MinuteCounts {
            minute_ms,
            succeeded,
            failed,
            stalled: 0,
        }
    }
}

/// A live worker process, as it registers itself with each heartbeat
/// ([`Backend::worker_beat`](crate::Backend::worker_beat), listed by
/// [`Backend::workers`](crate::Backend::workers)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// Unique per worker run (a UUID).
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Queues it serves, in the order it tries them.
    pub queues: Vec<String>,
    /// Jobs it runs at once at most.
    pub concurrency: usize,
    /// Jobs it runs now.
    pub running: usize,
    /// When it started, ms since the Unix epoch (its own clock).
    pub started_at_ms: u64,
    /// Its last heartbeat, ms since the Unix epoch (the store's clock; set by the store).
    pub last_beat_ms: u64,
    /// When it is dropped from the list unless it beats again (the store's clock; set by
    /// the store).
    pub expires_at_ms: u64,
}

impl WorkerInfo {
    /// A worker's registration; the store sets the beat and expiry times.
    pub fn new(
        id: String,
        host: String,
        pid: u32,
        queues: Vec<String>,
        concurrency: usize,
    ) -> Self {
        WorkerInfo {
            id,
            host,
            pid,
            queues,
            concurrency,
            running: 0,
            started_at_ms: 0,
            last_beat_ms: 0,
            expires_at_ms: 0,
        }
    }
}

/// The states [`Backend::list_jobs`](crate::Backend::list_jobs) and
/// [`Backend::purge`](crate::Backend::purge) take: where each is kept. Cancelled and
/// expired jobs are kept (and listed) with the dead ones.
pub fn listed_state(state: JobState) -> JobState {
    match state {
        JobState::Cancelled | JobState::Expired => JobState::Dead,
        other => other,
    }
}
