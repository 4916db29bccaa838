//! The backend contract: what a queue store must do, with the same semantics everywhere.
//!
//! Every state change is one atomic transition of the store (a Lua script on Redis, one
//! critical section in memory). The conformance suite in `tests/` checks each backend
//! against this contract.

use std::future::Future;
use std::time::Duration;

use super::batch::{BatchCounts, BatchId, BatchSummary, Callback};
use super::error::BackendError;
use super::event::{Event, EventCursor};
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

/// A job to store, as the client hands it to [`Backend::enqueue`].
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
}

impl NewJob {
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
        }
    }
}

/// What [`Backend::batch_open`] or [`Backend::batch_add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchAdded {
    /// Recorded.
    Added,
    /// Adding to a batch that was never opened.
    NotFound,
    /// Adding to a batch whose members have all ended: refused.
    Finished,
}

/// The right to run one job until `expires_at_ms`: held by one worker, proven by `token`.
///
/// Every later transition of the job (renew, finish) must present the token; once the
/// lease expired and the job was handed to someone else, the old token is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The job's queue.
    pub queue: String,
    /// The job.
    pub id: JobId,
    /// The fencing token of this delivery.
    pub token: u64,
    /// When the lease ends unless renewed, in ms since the Unix epoch, on the backend's clock.
    pub expires_at_ms: u64,
    /// The job's batch, if any: its ending is counted there.
    pub batch: Option<BatchId>,
}

/// A job handed to a worker by [`Backend::reserve`].
#[derive(Debug, Clone)]
pub struct Reserved {
    /// The lease this worker now holds.
    pub lease: Lease,
    /// Wire name of the job type.
    pub name: String,
    /// Serialized arguments.
    pub payload: Vec<u8>,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// How many times the job has been handed out, this time included (never decreases).
    pub deliveries: u32,
    /// The batch it belongs to, if any.
    pub batch: Option<BatchId>,
}

/// How an attempt ended, as reported by [`Backend::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Succeeded: the record moves to the retained finished jobs.
    Succeeded {
        /// The serialized output, if any.
        result: Option<Vec<u8>>,
    },
    /// Failed. The backend retries it after `retry_after` unless that is `None` (a
    /// permanent failure) or the job has used all its attempts; otherwise the job is dead.
    Failed {
        /// The error chain, kept on the record.
        error: String,
        /// Delay before the retry; `None` for a failure that must not be retried.
        retry_after: Option<Duration>,
    },
    /// Run again after `after`, without using up an attempt.
    Snooze {
        /// Delay before the job is ready again.
        after: Duration,
    },
    /// The worker gives the job back unfinished (shutdown): ready again at once, without
    /// using up an attempt.
    Release,
}

/// One finished lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// The lease being finished.
    pub lease: Lease,
    /// How the attempt ended.
    pub outcome: Outcome,
}

/// The backend's answer for one lease in [`Backend::finish`] or [`Backend::renew`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseStatus {
    /// Done; for a renewal, the lease now ends at this instant (ms since the Unix epoch).
    Held {
        /// The lease's new (or unchanged) end.
        expires_at_ms: u64,
    },
    /// The token is no longer valid: the lease expired and the job was recovered, given
    /// to another worker, or finished by another delivery. Nothing was changed.
    Stale,
    /// From [`Backend::renew`] only: the lease is extended as for `Held`, and the job was
    /// asked to stop ([`Backend::cancel`]): tell it.
    CancelRequested {
        /// The lease's new end.
        expires_at_ms: u64,
    },
    /// From [`Backend::finish`] only: this delivery's outcome was already recorded (a
    /// retried call whose first answer was lost), or the job is no longer stored at all.
    /// Nothing was changed, and nothing will run the job again because of this lease.
    Finished,
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
    /// Cancelled ([`Backend::cancel`]) before it ran, or while it ran and did not succeed.
    /// Kept with the dead jobs (counted there, listed there, retried like them).
    Cancelled,
}

/// What [`Backend::cancel`] did.
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

/// A stored job, as seen by [`Backend::job`] and [`Backend::dead_jobs`].
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
    /// [`Backend::sweep_orphans`] moves them to dead with the reason. Always 0 in memory.
    pub orphaned: u64,
}

/// What one [`Backend::recover_expired`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Recovered {
    /// Jobs whose lease expired that are ready again.
    pub requeued: u64,
    /// Jobs whose lease expired too often (or on their last attempt) that are now dead.
    pub dead: u64,
}

/// A queue store. Implemented by [`crate::MemoryBackend`] and by `jobs_redis::RedisBackend`.
///
/// Calls take and return batches so that a network backend can do each in one round
/// trip. Every call either applies completely or not at all. All times are taken from the
/// backend's own clock, never from the caller's.
pub trait Backend: Send + Sync + 'static {
    /// Stores new jobs. An id that is already stored is skipped, so a retried enqueue
    /// cannot create a duplicate.
    fn enqueue(&self, jobs: Vec<NewJob>) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Leases up to `max` ready jobs, trying `queues` in order, each for `lease_for`.
    ///
    /// Visits the queues in order while the batch has room (so `max == 0` does nothing).
    /// In each queue it visits, it first makes due scheduled jobs ready and recovers
    /// expired leases (each in a bounded slice), so no separate scheduler is needed. Ready
    /// jobs come out by priority (highest first), then by the time they became ready.
    fn reserve(
        &self,
        queues: &[String],
        max: usize,
        lease_for: Duration,
    ) -> impl Future<Output = Result<Vec<Reserved>, BackendError>> + Send;

    /// Waits until one of `queues` may have work (a job was enqueued or became ready, a
    /// scheduled job or an expired lease is due). May return early; callers then call
    /// [`Backend::reserve`] again. An error ends the wait too.
    ///
    /// `timeout` bounds each blocking call to the store (so a connection that died
    /// silently is noticed within about that time). A backend that returns when it passes
    /// is correct; one that knows nothing can come due unannounced may keep waiting past
    /// it instead, re-issuing its blocking call, so an idle worker costs the store nothing
    /// else (the Redis backend does).
    fn wait_for_work(
        &self,
        queues: &[String],
        timeout: Duration,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Extends every lease still held by `lease_for` from now, in one call.
    fn renew(
        &self,
        leases: &[Lease],
        lease_for: Duration,
    ) -> impl Future<Output = Result<Vec<LeaseStatus>, BackendError>> + Send;

    /// Ends leases with their outcomes, in one call. One status per item, in order; a
    /// stale item changes nothing.
    fn finish(
        &self,
        items: Vec<Finish>,
    ) -> impl Future<Output = Result<Vec<LeaseStatus>, BackendError>> + Send;

    /// Returns up to `limit` jobs of `queue` whose lease expired to ready, or to dead once
    /// they stalled too often or were on their last attempt. A backend may take fewer per
    /// call ([`crate::RECOVER_BATCH`] for Redis, to bound each script); call again for more.
    fn recover_expired(
        &self,
        queue: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Recovered, BackendError>> + Send;

    /// One job by id, if stored.
    fn job(
        &self,
        queue: &str,
        id: JobId,
    ) -> impl Future<Output = Result<Option<JobInfo>, BackendError>> + Send;

    /// Several jobs of one queue by id, in one call where the backend can: one entry per
    /// id, in order, `None` where not stored. The cost of each lookup does not depend on
    /// how many jobs the queue holds or runs.
    fn jobs(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> impl Future<Output = Result<Vec<Option<JobInfo>>, BackendError>> + Send {
        async move {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.push(self.job(queue, *id).await?);
            }
            Ok(out)
        }
    }

    /// Moves the jobs of `queue` that are in no state (see [`QueueStats::orphaned`]) to
    /// dead with the reason, in bounded steps; returns how many moved. For operators: it
    /// walks every stored job of the queue.
    fn sweep_orphans(&self, queue: &str) -> impl Future<Output = Result<u64, BackendError>> + Send {
        let _ = queue;
        async { Ok(0) }
    }

    /// Counts by state.
    fn stats(&self, queue: &str) -> impl Future<Output = Result<QueueStats, BackendError>> + Send;

    /// Dead jobs of `queue`, most recent first.
    fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JobInfo>, BackendError>> + Send;

    /// Moves dead jobs back to ready with fresh attempts; returns how many moved.
    fn retry_dead(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> impl Future<Output = Result<u64, BackendError>> + Send;

    /// Cancels a job: a waiting one at once, a running one by asking its worker (see
    /// [`CancelOutcome`]). A cancelled batch member counts as ended, not succeeded.
    fn cancel(
        &self,
        queue: &str,
        id: JobId,
    ) -> impl Future<Output = Result<CancelOutcome, BackendError>> + Send;

    /// Opens a batch: records its members (id, queue) and, the first time, its callbacks.
    /// Called before the members are enqueued; from then on every member's ending counts,
    /// and the batch can finish. Fires the callbacks if every member has already ended (an
    /// empty batch, or an open retried after its members ran). Idempotent: a retried open
    /// with the same members completes an interrupted one. Refused (`Finished`) once the
    /// batch has finished, or when it is complete and the call names a member it does not
    /// have.
    fn batch_open(
        &self,
        id: BatchId,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
    ) -> impl Future<Output = Result<BatchAdded, BackendError>> + Send;

    /// Adds `jobs` to an open batch and enqueues them, as one step: a caller that dies
    /// part-way never leaves a member that is counted but never runs (the backend
    /// enqueues it itself, at the latest a grace period later). Each job's `batch` must be
    /// `id`. Refused (`Finished`) once every member has ended, `NotFound` before the
    /// batch is opened.
    fn batch_add(
        &self,
        id: BatchId,
        jobs: Vec<NewJob>,
    ) -> impl Future<Output = Result<BatchAdded, BackendError>> + Send;

    /// A batch's counts, if it was opened: one call, whatever the number of members.
    fn batch(
        &self,
        id: BatchId,
    ) -> impl Future<Output = Result<Option<BatchCounts>, BackendError>> + Send;

    /// A page of a batch's members (id, queue), in the order they joined: from `offset`,
    /// at most `limit` (at most [`crate::BATCH_PAGE_MAX`]).
    fn batch_members(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(JobId, String)>, BackendError>> + Send;

    /// A page of a batch's dead members' ids, in the order they were counted: from
    /// `offset`, at most `limit` (at most [`crate::BATCH_PAGE_MAX`]).
    fn batch_dead_jobs(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JobId>, BackendError>> + Send;

    /// Records running jobs' latest progress on their records, for leases still held (a
    /// stale item changes nothing), in one call; each recorded item is also a `Progress`
    /// event. One status per item, in order.
    fn progress(
        &self,
        items: Vec<(Lease, Progress)>,
    ) -> impl Future<Output = Result<Vec<LeaseStatus>, BackendError>> + Send;

    /// Events of `queue` strictly after `after` (from the oldest the stream still holds
    /// when `None`), from at most `max_entries` stream entries. When there are none, waits
    /// up to `wait` for some, then returns an empty list. See [`crate::event`].
    fn read_events(
        &self,
        queue: &str,
        after: Option<EventCursor>,
        max_entries: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Event>, BackendError>> + Send;

    /// The newest event of `queue`, to follow the stream from now on.
    fn last_event(
        &self,
        queue: &str,
    ) -> impl Future<Output = Result<Option<EventCursor>, BackendError>> + Send;
}
