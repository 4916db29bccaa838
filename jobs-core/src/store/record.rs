//! What the store keeps of a job and reports about it: the job to store ([`NewJob`]), its
//! state, its record ([`JobInfo`]), its progress, and a queue's counts.

use std::time::Duration;

use super::batch::{BatchId, BatchSummary, Callback};
use super::flow::{InvalidFlow, JobFlow};
use super::id::JobId;

/// When a new job becomes ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RunAt {
    /// Ready at once.
    #[default]
    Now,
    /// Ready after this delay, measured on the backend's clock.
    After(Duration),
    /// Ready at this instant, in milliseconds since the Unix epoch.
    UnixMillis(u64),
}

/// A job to store, as the client hands it to [`Backend::enqueue`](crate::Backend::enqueue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Its id. Enqueueing an id that is already stored does nothing (idempotent retry).
    pub id: JobId,
    /// Wire name of the job type.
    pub name: String,
    /// Queue (already validated).
    pub queue: String,
    /// Serialized arguments (JSON).
    pub payload: Vec<u8>,
    /// Higher runs first.
    pub priority: i8,
    /// When it becomes ready.
    pub run_at: RunAt,
    /// Attempts allowed, at least 1.
    pub max_attempts: u32,
    /// The batch it belongs to, if any.
    pub batch: Option<BatchId>,
    /// Its flow control: limit key.
    pub flow: JobFlow,
}

impl NewJob {
    /// Refuses what a store must not take of a job's flow control: invalid keys
    /// ([`JobFlow::validate`]), and a batch member that is unique.
    pub fn validate_flow(&self) -> Result<(), InvalidFlow> {
        self.flow.validate()?;
        if self.flow.unique.is_some() && self.batch.is_some() {
            return Err(InvalidFlow::UniqueInBatch);
        }
        Ok(())
    }

    /// The job a batch's callback enqueues when the batch ended as `summary` says: its
    /// fixed id, its arguments with the summary in their `batch` field.
    pub fn from_callback(callback: &Callback, summary: &BatchSummary) -> Self {
        NewJob {
            id: callback.id,
            name: callback.name.clone(),
            queue: callback.queue.clone(),
            payload: summary.inject(callback.payload.as_bytes()),
            priority: callback.priority,
            run_at: RunAt::Now,
            max_attempts: callback.max_attempts,
            batch: None,
            flow: JobFlow::default(),
        }
    }
}

/// Where a job is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for its run-at time (first run, retry, or snooze).
    Scheduled,
    /// Waiting for a worker.
    Ready,
    /// Leased to a worker.
    Active,
    /// Finished successfully (kept under the retention policy).
    Succeeded,
    /// Failed for good; kept in the dead set until retried, trimmed or expired.
    Dead,
    /// Cancelled ([`Backend::cancel`](crate::Backend::cancel)) before it ran, or while it ran and did not succeed.
    /// Kept with the dead jobs (counted there, listed there, retried like them).
    Cancelled,
    /// Still waiting at its deadline ([`JobFlow::expires`](crate::JobFlow::expires)): it never started,
    /// and never will. Kept with the dead jobs (counted there, listed there, retried like
    /// them, without the deadline); counted as dead in its batch.
    Expired,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 7] = [
        JobState::Scheduled,
        JobState::Ready,
        JobState::Active,
        JobState::Succeeded,
        JobState::Dead,
        JobState::Cancelled,
        JobState::Expired,
    ];

    /// The state's name, lowercase (`scheduled`, `ready`, `active`, `succeeded`, `dead`,
    /// `cancelled`, `expired`): what tools print and parse back.
    ///
    /// ```
    /// use jobs_core::JobState;
    /// assert_eq!(JobState::Succeeded.name(), "succeeded");
    /// assert_eq!("dead".parse::<JobState>(), Ok(JobState::Dead));
    /// assert!("done".parse::<JobState>().is_err());
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Ready => "ready",
            JobState::Active => "active",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
            JobState::Expired => "expired",
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A state name that is not one ([`JobState::name`] lists them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job state {0:?}: expected scheduled, ready, active, succeeded, dead, cancelled or expired"
)]
pub struct InvalidState(pub String);

impl std::str::FromStr for JobState {
    type Err = InvalidState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.name() == s)
            .ok_or_else(|| InvalidState(s.chars().take(40).collect()))
    }
}

/// What [`Backend::cancel`](crate::Backend::cancel) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// It was waiting (ready or scheduled): it is cancelled and never runs.
    Cancelled,
    /// It is running: the worker running it is told at its next lease renewal (its
    /// context's cancellation fires, reason `Cancelled`); unless it then succeeds, it
    /// ends as cancelled, without retries.
    Requested,
    /// It had already ended (succeeded, dead or cancelled): nothing changed.
    Finished,
    /// No such job.
    NotFound,
}

/// A change to a waiting job's place in line ([`Backend::reschedule`](crate::Backend::reschedule)): when it
/// runs, its priority, or both; what is not given stays.
///
/// ```
/// use std::time::Duration;
/// use jobs_core::backend::Reschedule;
/// let later = Reschedule::new().delay(Duration::from_secs(600)).priority(-5);
/// assert_eq!(later.priority, Some(-5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Reschedule {
    /// When it becomes ready ([`RunAt::Now`]: at once).
    pub run_at: Option<RunAt>,
    /// Its new priority.
    pub priority: Option<i8>,
}

impl Reschedule {
    /// No change yet.
    pub const fn new() -> Self {
        Reschedule {
            run_at: None,
            priority: None,
        }
    }

    /// Ready at once.
    pub const fn now(mut self) -> Self {
        self.run_at = Some(RunAt::Now);
        self
    }

    /// Ready `delay` from now, on the store's clock.
    pub const fn delay(mut self, delay: Duration) -> Self {
        self.run_at = Some(RunAt::After(delay));
        self
    }

    /// Ready at `at`, ms since the Unix epoch.
    pub const fn at_unix_ms(mut self, at: u64) -> Self {
        self.run_at = Some(RunAt::UnixMillis(at));
        self
    }

    /// With this priority (higher runs first).
    pub const fn priority(mut self, priority: i8) -> Self {
        self.priority = Some(priority);
        self
    }
}

/// What [`Backend::enqueue_unique`](crate::Backend::enqueue_unique) did with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Enqueued {
    /// Stored.
    Stored,
    /// A job with its id was stored already (a retried enqueue): nothing changed.
    AlreadyStored,
    /// Its uniqueness key is held by `existing`: not stored ([`OnConflict::Reject`](crate::OnConflict::Reject), or
    /// the holder runs).
    Duplicate {
        /// The job holding the key.
        existing: JobId,
    },
    /// Its uniqueness key is held by `existing`, which stays and now waits until this
    /// job's run-at ([`OnConflict::Debounce`](crate::OnConflict::Debounce)); this job is not stored.
    Debounced {
        /// The job kept.
        existing: JobId,
    },
    /// Stored in place of `previous`, which was waiting and is now cancelled
    /// ([`OnConflict::Replace`](crate::OnConflict::Replace)).
    Replaced {
        /// The job replaced.
        previous: JobId,
    },
}

/// What [`Backend::reschedule`](crate::Backend::reschedule) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RescheduleOutcome {
    /// It was waiting (ready or scheduled): it now waits as asked.
    Moved,
    /// It is running or has ended: nothing changed.
    NotWaiting,
    /// No such job.
    NotFound,
}

/// What a running job last reported of its progress (see [`crate::JobContext::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// 0 to 100.
    pub percent: u8,
    /// A short message (the backend keeps at most [`Progress::MAX_MESSAGE`] bytes).
    pub message: String,
}

impl Progress {
    /// Longest message kept, in bytes; longer ones are cut at a character boundary.
    pub const MAX_MESSAGE: usize = 200;

    /// A progress report, the percentage capped at 100 and the message cut to
    /// [`Progress::MAX_MESSAGE`] bytes.
    ///
    /// ```
    /// use jobs_core::Progress;
    /// let p = Progress::new(140, "x".repeat(500));
    /// assert_eq!((p.percent, p.message.len()), (100, Progress::MAX_MESSAGE));
    /// ```
    pub fn new(percent: u8, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > Self::MAX_MESSAGE {
            let mut end = Self::MAX_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        Progress {
            percent: percent.min(100),
            message,
        }
    }
}

/// A stored job, as seen by [`Backend::job`](crate::Backend::job) and [`Backend::dead_jobs`](crate::Backend::dead_jobs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobInfo {
    /// Its id.
    pub id: JobId,
    /// Wire name.
    pub name: String,
    /// Queue.
    pub queue: String,
    /// Current state.
    pub state: JobState,
    /// Serialized arguments, kept as they were enqueued.
    pub payload: Vec<u8>,
    /// Priority.
    pub priority: i8,
    /// Attempts used (snoozes and releases give theirs back).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Times handed to a worker, never decreasing.
    pub deliveries: u32,
    /// Times its lease expired while running.
    pub stalls: u32,
    /// Enqueue time, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// For scheduled jobs, when they become ready.
    pub run_at_ms: Option<u64>,
    /// For active jobs, when the lease ends unless renewed.
    pub lease_expires_at_ms: Option<u64>,
    /// For succeeded and dead jobs, when they finished.
    pub finished_at_ms: Option<u64>,
    /// The last error chain, if an attempt failed.
    pub last_error: Option<String>,
    /// The serialized output of a succeeded job.
    pub result: Option<Vec<u8>>,
    /// The last progress the job reported, if any.
    pub progress: Option<Progress>,
    /// The batch it belongs to, if any.
    pub batch: Option<BatchId>,
}

impl JobInfo {
    /// A record with the given identity and state and every other field empty or zero:
    /// for backends, which then fill in what they store.
    pub fn new(id: JobId, name: String, queue: String, state: JobState) -> Self {
        JobInfo {
            id,
            name,
            queue,
            state,
            payload: Vec::new(),
            priority: 0,
            attempts: 0,
            max_attempts: 1,
            deliveries: 0,
            stalls: 0,
            created_at_ms: 0,
            run_at_ms: None,
            lease_expires_at_ms: None,
            finished_at_ms: None,
            last_error: None,
            result: None,
            progress: None,
            batch: None,
        }
    }
}

/// Job counts of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueStats {
    /// Waiting for their run-at time.
    pub scheduled: u64,
    /// Waiting for a worker.
    pub ready: u64,
    /// Leased to workers.
    pub active: u64,
    /// Succeeded and still retained.
    pub succeeded: u64,
    /// In the dead set.
    pub dead: u64,
    /// Stored jobs that are in no state at all: left behind by a failure outside the
    /// framework (a store edited by hand, a key someone broke). Nothing runs them;
    /// [`Backend::sweep_orphans`](crate::Backend::sweep_orphans) moves them to dead with the reason. Always 0 in memory.
    pub orphaned: u64,
    /// The queue is paused ([`Backend::set_paused`](crate::Backend::set_paused)): no job of it starts.
    pub paused: bool,
}
