//! The backend contract: what a queue store must do, with the same semantics everywhere.
//!
//! Every state change is one atomic transition of the store (a Lua script on Redis, one
//! critical section in memory). The conformance suite in `tests/` checks each backend
//! against this contract.

use std::future::Future;
use std::time::Duration;

use super::admin::{Deleted, JobPage, ListCursor, MinuteCounts, WorkerInfo};
use super::batch::{BatchCounts, BatchId, Callback};
use super::error::BackendError;
use super::event::{Event, EventCursor};
use super::flow::QueueLimits;
use super::id::JobId;

// The values the calls take and return, at the paths users know (`jobs_core::backend::...`).
pub use super::admin::listed_state;
pub use super::batch::BatchAdded;
pub use super::lease::{Finish, Lease, LeaseStatus, Outcome, Recovered, Reserved};
pub use super::record::{
    CancelOutcome, Enqueued, InvalidState, JobInfo, JobState, NewJob, Progress, QueueStats,
    Reschedule, RescheduleOutcome, RunAt,
};

/// A queue store. Implemented by [`crate::MemoryBackend`] and by `jobs_redis::RedisBackend`.
///
/// Calls take and return batches so that a network backend can do each in one round
/// trip. Every call either applies completely or not at all. All times are taken from the
/// backend's own clock, never from the caller's.
pub trait Backend: Send + Sync + 'static {
    /// Stores new jobs. An id that is already stored is skipped, so a retried enqueue
    /// cannot create a duplicate. Uniqueness keys are not looked at here: jobs that carry
    /// one go through [`Backend::enqueue_unique`] (as [`crate::Client`] sends them).
    fn enqueue(&self, jobs: Vec<NewJob>) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Stores new jobs of which some carry a uniqueness key ([`crate::Unique`], with its
    /// key set), each checked against the key's holder in the same atomic step as its
    /// insert, so two processes never both store a job for one key. One answer per job,
    /// in order. A batch member cannot be unique
    /// ([`InvalidFlow::UniqueInBatch`](crate::InvalidFlow::UniqueInBatch)).
    fn enqueue_unique(
        &self,
        jobs: Vec<NewJob>,
    ) -> impl Future<Output = Result<Vec<Enqueued>, BackendError>> + Send;

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

    /// Stores `limits` as `queue`'s limits, replacing the ones it had (the same for every
    /// worker, kept across restarts). Refuses invalid ones ([`QueueLimits::validate`]).
    ///
    /// Lowered limits hold for jobs that start from now on (running ones finish); raised
    /// ones let jobs start at the next reservation, or, for a key held at its old limit,
    /// as soon as one of its running jobs ends.
    fn set_limits(
        &self,
        queue: &str,
        limits: QueueLimits,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// `queue`'s limits as stored (none set: [`QueueLimits::new`]).
    fn limits(&self, queue: &str)
    -> impl Future<Output = Result<QueueLimits, BackendError>> + Send;

    /// Pauses (`true`) or resumes `queue`: while it is paused no job of it starts, on any
    /// worker; running jobs finish, and enqueues, retries and recoveries go on. Kept across
    /// restarts; shown in [`QueueStats::paused`]. Resuming wakes the idle workers.
    fn set_paused(
        &self,
        queue: &str,
        paused: bool,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Counts by state.
    fn stats(&self, queue: &str) -> impl Future<Output = Result<QueueStats, BackendError>> + Send;

    /// Dead jobs of `queue`, most recent first.
    fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JobInfo>, BackendError>> + Send;

    /// A page of `queue`'s jobs in `state`, after `after` (from the start when `None`),
    /// at most `limit` (cut to [`crate::LIST_PAGE_MAX`]). Cancelled and expired jobs are
    /// listed with the dead ones ([`listed_state`]).
    ///
    /// Order: ready jobs in the order they would start (priority, then time ready);
    /// scheduled ones soonest first; active ones by lease end; succeeded and dead ones
    /// most recent first. Ready jobs waiting under a limit key or in a paused batch are
    /// counted in [`QueueStats::ready`] but kept in their own lines, and not listed (a
    /// purge of `Ready` deletes them too).
    /// Each page costs the same however long the queue is.
    fn list_jobs(
        &self,
        queue: &str,
        state: JobState,
        after: Option<ListCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<JobPage, BackendError>> + Send;

    /// Deletes jobs of `queue` with their records: waiting ones (cancelled first, so
    /// their batch counts them as ended) and ended ones. Running ones are left alone
    /// ([`Deleted::Running`]). One answer per id, in order.
    fn delete_jobs(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> impl Future<Output = Result<Vec<Deleted>, BackendError>> + Send;

    /// Deletes up to `limit` (cut to [`crate::PURGE_BATCH`]) of `queue`'s jobs in
    /// `state`, as [`Backend::delete_jobs`] would, first in the state's order (for
    /// `Ready`, then the jobs waiting under a limit key or in a paused batch: everything
    /// [`QueueStats::ready`] counts); returns how many. Call again until it returns 0 to
    /// empty the state. Refuses `Active` ([`BackendError::Refused`]): running jobs are
    /// cancelled, not deleted.
    fn purge(
        &self,
        queue: &str,
        state: JobState,
        limit: usize,
    ) -> impl Future<Output = Result<u64, BackendError>> + Send;

    /// The queues this store has seen: enqueued to, or served by a worker. Sorted.
    fn queues(&self) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;

    /// `queue`'s jobs that ended in each of the last `minutes` minutes (at most
    /// [`crate::THROUGHPUT_MINUTES`]), oldest first, the current minute last; minutes
    /// without any are included, with zero counts.
    fn throughput(
        &self,
        queue: &str,
        minutes: u32,
    ) -> impl Future<Output = Result<Vec<MinuteCounts>, BackendError>> + Send;

    /// Registers or refreshes a live worker: listed by [`Backend::workers`] until `ttl`
    /// after this call (store clock) unless it beats again. The store sets
    /// [`WorkerInfo::last_beat_ms`] and [`WorkerInfo::expires_at_ms`].
    fn worker_beat(
        &self,
        info: WorkerInfo,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Removes a worker from the list (it stopped cleanly).
    fn worker_gone(&self, id: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// The live workers (those whose last beat has not expired), by start time.
    fn workers(&self) -> impl Future<Output = Result<Vec<WorkerInfo>, BackendError>> + Send;

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

    /// Moves a waiting job (ready or scheduled) to another run-at or priority, atomically:
    /// it never runs at its old place once this returns `Moved`. A running or ended job
    /// is left alone.
    fn reschedule(
        &self,
        queue: &str,
        id: JobId,
        change: Reschedule,
    ) -> impl Future<Output = Result<RescheduleOutcome, BackendError>> + Send;

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

    /// Pauses (`true`) or resumes a batch: while it is paused none of its waiting members
    /// starts, on any worker (running ones finish; other jobs go on). Kept across
    /// restarts; shown in [`BatchCounts::paused`]. False when the batch was never opened.
    fn set_batch_paused(
        &self,
        id: BatchId,
        paused: bool,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send;

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
