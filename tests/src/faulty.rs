//! A backend wrapper that counts calls and can fail them on demand: for tests of how the
//! worker uses its backend (batching, outages, lost leases).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use jobs_core::backend::{
    BatchAdded, CancelOutcome, Finish, Lease, LeaseStatus, NewJob, Recovered, Reserved,
};
use jobs_core::{
    Backend, BackendError, BatchCounts, BatchId, Callback, Deleted, Event, EventCursor, JobId,
    JobInfo, JobPage, JobState, ListCursor, MinuteCounts, Progress, QueueStats, WorkerInfo,
};

/// Calls made through a [`Faulty`] backend.
#[derive(Debug, Default)]
pub struct Calls {
    /// `reserve` calls.
    pub reserve: AtomicU64,
    /// `renew` calls.
    pub renew: AtomicU64,
    /// Leases passed to `renew`, over all calls.
    pub renewed_leases: AtomicU64,
    /// `finish` calls.
    pub finish: AtomicU64,
    /// `job` calls.
    pub job: AtomicU64,
    /// `batch` calls.
    pub batch: AtomicU64,
    /// `batch_members` calls.
    pub batch_members: AtomicU64,
}

/// Wraps a backend; counts calls; fails the worker-side calls while switched off.
#[derive(Clone)]
pub struct Faulty<B> {
    inner: B,
    /// Counters.
    pub calls: Arc<Calls>,
    down: Arc<AtomicBool>,
    renew_down: Arc<AtomicBool>,
}

impl<B: Backend> Faulty<B> {
    /// Wraps `inner`, working.
    pub fn new(inner: B) -> Self {
        Faulty {
            inner,
            calls: Arc::default(),
            down: Arc::default(),
            renew_down: Arc::default(),
        }
    }

    /// The wrapped backend, which never fails.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// While true, reserve, wait, renew and finish fail as if the backend were unreachable.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// While true, only renewals fail (a worker cut off from its leases).
    pub fn set_renew_down(&self, down: bool) {
        self.renew_down.store(down, Ordering::SeqCst);
    }

    fn check(&self, flag: &AtomicBool) -> Result<(), BackendError> {
        if flag.load(Ordering::SeqCst) {
            return Err(BackendError::Unavailable("injected outage".into()));
        }
        Ok(())
    }
}

impl<B: Backend> Backend for Faulty<B> {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), BackendError> {
        self.check(&self.down)?;
        self.inner.enqueue(jobs).await
    }

    async fn reserve(
        &self,
        queues: &[String],
        max: usize,
        lease_for: Duration,
    ) -> Result<Vec<Reserved>, BackendError> {
        self.calls.reserve.fetch_add(1, Ordering::SeqCst);
        self.check(&self.down)?;
        self.inner.reserve(queues, max, lease_for).await
    }

    async fn wait_for_work(
        &self,
        queues: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        self.check(&self.down)?;
        self.inner.wait_for_work(queues, timeout).await
    }

    async fn renew(
        &self,
        leases: &[Lease],
        lease_for: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        self.calls.renew.fetch_add(1, Ordering::SeqCst);
        self.calls
            .renewed_leases
            .fetch_add(leases.len() as u64, Ordering::SeqCst);
        self.check(&self.down)?;
        self.check(&self.renew_down)?;
        self.inner.renew(leases, lease_for).await
    }

    async fn finish(&self, items: Vec<Finish>) -> Result<Vec<LeaseStatus>, BackendError> {
        self.calls.finish.fetch_add(1, Ordering::SeqCst);
        self.check(&self.down)?;
        self.inner.finish(items).await
    }

    async fn recover_expired(&self, queue: &str, limit: usize) -> Result<Recovered, BackendError> {
        self.inner.recover_expired(queue, limit).await
    }

    async fn job(&self, queue: &str, id: JobId) -> Result<Option<JobInfo>, BackendError> {
        self.calls.job.fetch_add(1, Ordering::SeqCst);
        self.inner.job(queue, id).await
    }

    async fn jobs(&self, queue: &str, ids: &[JobId]) -> Result<Vec<Option<JobInfo>>, BackendError> {
        self.inner.jobs(queue, ids).await
    }

    async fn list_jobs(
        &self,
        queue: &str,
        state: JobState,
        after: Option<ListCursor>,
        limit: usize,
    ) -> Result<JobPage, BackendError> {
        self.inner.list_jobs(queue, state, after, limit).await
    }

    async fn delete_jobs(&self, queue: &str, ids: &[JobId]) -> Result<Vec<Deleted>, BackendError> {
        self.inner.delete_jobs(queue, ids).await
    }

    async fn purge(&self, queue: &str, state: JobState, limit: usize) -> Result<u64, BackendError> {
        self.inner.purge(queue, state, limit).await
    }

    async fn queues(&self) -> Result<Vec<String>, BackendError> {
        self.inner.queues().await
    }

    async fn throughput(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<Vec<MinuteCounts>, BackendError> {
        self.inner.throughput(queue, minutes).await
    }

    async fn worker_beat(&self, info: WorkerInfo, ttl: Duration) -> Result<(), BackendError> {
        self.check(&self.down)?;
        self.inner.worker_beat(info, ttl).await
    }

    async fn worker_gone(&self, id: &str) -> Result<(), BackendError> {
        self.inner.worker_gone(id).await
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        self.inner.workers().await
    }

    async fn sweep_orphans(&self, queue: &str) -> Result<u64, BackendError> {
        self.inner.sweep_orphans(queue).await
    }

    async fn enqueue_unique(
        &self,
        jobs: Vec<NewJob>,
    ) -> Result<Vec<jobs_core::backend::Enqueued>, BackendError> {
        self.inner.enqueue_unique(jobs).await
    }

    async fn set_batch_paused(
        &self,
        id: jobs_core::BatchId,
        paused: bool,
    ) -> Result<bool, BackendError> {
        self.inner.set_batch_paused(id, paused).await
    }

    async fn reschedule(
        &self,
        queue: &str,
        id: jobs_core::JobId,
        change: jobs_core::backend::Reschedule,
    ) -> Result<jobs_core::backend::RescheduleOutcome, BackendError> {
        self.inner.reschedule(queue, id, change).await
    }

    async fn set_limits(
        &self,
        queue: &str,
        limits: jobs_core::QueueLimits,
    ) -> Result<(), BackendError> {
        self.inner.set_limits(queue, limits).await
    }

    async fn limits(&self, queue: &str) -> Result<jobs_core::QueueLimits, BackendError> {
        self.inner.limits(queue).await
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> Result<(), BackendError> {
        self.inner.set_paused(queue, paused).await
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        self.inner.stats(queue).await
    }

    async fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobInfo>, BackendError> {
        self.inner.dead_jobs(queue, offset, limit).await
    }

    async fn retry_dead(&self, queue: &str, ids: &[JobId]) -> Result<u64, BackendError> {
        self.inner.retry_dead(queue, ids).await
    }

    async fn cancel(&self, queue: &str, id: JobId) -> Result<CancelOutcome, BackendError> {
        self.check(&self.down)?;
        self.inner.cancel(queue, id).await
    }

    async fn batch_open(
        &self,
        id: BatchId,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
    ) -> Result<BatchAdded, BackendError> {
        self.check(&self.down)?;
        self.inner.batch_open(id, members, callbacks).await
    }

    async fn batch_add(&self, id: BatchId, jobs: Vec<NewJob>) -> Result<BatchAdded, BackendError> {
        self.check(&self.down)?;
        self.inner.batch_add(id, jobs).await
    }

    async fn batch(&self, id: BatchId) -> Result<Option<BatchCounts>, BackendError> {
        self.calls.batch.fetch_add(1, Ordering::SeqCst);
        self.inner.batch(id).await
    }

    async fn batch_members(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(JobId, String)>, BackendError> {
        self.calls.batch_members.fetch_add(1, Ordering::SeqCst);
        self.inner.batch_members(id, offset, limit).await
    }

    async fn batch_dead_jobs(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, BackendError> {
        self.inner.batch_dead_jobs(id, offset, limit).await
    }

    async fn progress(
        &self,
        items: Vec<(Lease, Progress)>,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        self.check(&self.down)?;
        self.inner.progress(items).await
    }

    async fn read_events(
        &self,
        queue: &str,
        after: Option<EventCursor>,
        max_entries: usize,
        wait: Duration,
    ) -> Result<Vec<Event>, BackendError> {
        self.inner
            .read_events(queue, after, max_entries, wait)
            .await
    }

    async fn last_event(&self, queue: &str) -> Result<Option<EventCursor>, BackendError> {
        self.inner.last_event(queue).await
    }
}
