//! The client: a handle on a store to enqueue jobs (`enqueue.rs`), run batches
//! (`batch.rs`), follow the work (`follow.rs`), look jobs up (here), and steer queues as an
//! operator (`admin.rs`).

mod admin;
pub(crate) mod batch;
pub(crate) mod enqueue;
pub(crate) mod follow;

use std::sync::Arc;

use crate::store::backend::{
    Backend, CancelOutcome, JobInfo, QueueStats, Reschedule, RescheduleOutcome,
};
use crate::store::error::BackendError;
use crate::store::flow::QueueLimits;
use crate::store::id::JobId;

/// Default largest serialized payload accepted by [`Client::enqueue`]: 512 KiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 512 * 1024;

/// A handle to a backend for enqueueing and inspecting jobs. Cheap to clone.
///
/// ```
/// use jobs_core::{job, Client, JobError, MemoryBackend};
///
/// #[job(queue = "disks")]
/// async fn format_disk(host: String, device: String) -> Result<(), JobError> {
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(MemoryBackend::new());
/// let id = client.enqueue(FormatDisk { host: "node-1".into(), device: "/dev/sdb".into() }).await?;
/// let info = client.job("disks", id).await?.expect("stored");
/// assert_eq!(info.name, "format_disk");
/// # Ok(()) }
/// ```
pub struct Client<B> {
    backend: Arc<B>,
    max_payload_bytes: usize,
}

impl<B> Clone for Client<B> {
    fn clone(&self) -> Self {
        Client {
            backend: self.backend.clone(),
            max_payload_bytes: self.max_payload_bytes,
        }
    }
}

impl<B> std::fmt::Debug for Client<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("max_payload_bytes", &self.max_payload_bytes)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Client<B> {
    /// A client over `backend`.
    pub fn new(backend: B) -> Self {
        Self::from_arc(Arc::new(backend))
    }

    /// A client over a shared backend.
    pub fn from_arc(backend: Arc<B>) -> Self {
        Client {
            backend,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }

    /// Refuses payloads above `bytes` with [`crate::EnqueueError::PayloadTooLarge`].
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The shared backend.
    pub fn backend_arc(&self) -> &Arc<B> {
        &self.backend
    }

    /// A job by queue and id; `None` once it is deleted (e.g. by retention).
    pub async fn job(&self, queue: &str, id: JobId) -> Result<Option<JobInfo>, BackendError> {
        self.backend.job(queue, id).await
    }

    /// Several jobs of `queue` by id, in one call on Redis: one entry per id, in order.
    ///
    /// ```
    /// use jobs_core::{job, Client, JobError, JobId, MemoryBackend};
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// let id = client.enqueue(Ping { host: "a".into() }).await?;
    /// let found = client.jobs("default", &[id, JobId::new()]).await?;
    /// assert!(found[0].is_some() && found[1].is_none());
    /// # Ok(()) }
    /// ```
    pub async fn jobs(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> Result<Vec<Option<JobInfo>>, BackendError> {
        self.backend.jobs(queue, ids).await
    }

    /// Moves the jobs of `queue` that are stored in no state (left behind by a failure
    /// outside the framework; counted in [`QueueStats::orphaned`]) to dead with the
    /// reason. Walks every stored job of the queue in bounded steps: an operator's tool.
    pub async fn sweep_orphans(&self, queue: &str) -> Result<u64, BackendError> {
        self.backend.sweep_orphans(queue).await
    }

    /// Moves a waiting job of `queue` to another run-at or priority, atomically (see
    /// [`Reschedule`]); a running or ended job is left alone.
    ///
    /// ```
    /// # use jobs_core::{job, Client, JobError, MemoryBackend};
    /// # use jobs_core::backend::{Reschedule, RescheduleOutcome};
    /// # use std::time::Duration;
    /// # #[job] async fn reboot(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client = Client::new(MemoryBackend::new());
    /// let id = client.enqueue(Reboot { host: "node-7".into() }).delay(Duration::from_secs(3600)).await?;
    /// // The maintenance window moved: now, and ahead of the rest.
    /// let moved = client.reschedule("default", id, Reschedule::new().now().priority(10)).await?;
    /// assert_eq!(moved, RescheduleOutcome::Moved);
    /// # Ok(()) }
    /// ```
    pub async fn reschedule(
        &self,
        queue: &str,
        id: JobId,
        change: Reschedule,
    ) -> Result<RescheduleOutcome, BackendError> {
        self.backend.reschedule(queue, id, change).await
    }

    /// Stores `limits` as `queue`'s limits, for every worker of the fleet (replacing the
    /// ones it had). A limit of 0 is refused ([`QueueLimits::validate`]).
    ///
    /// ```
    /// # use jobs_core::{Client, MemoryBackend, QueueLimits};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), jobs_core::BackendError> {
    /// # let client = Client::new(MemoryBackend::new());
    /// // At most 50 formats at once across the fleet, one at a time per host.
    /// client.set_limits("disks", QueueLimits::new().concurrency(50).per_key(1)).await?;
    /// assert_eq!(client.limits("disks").await?.per_key, Some(1));
    /// # Ok(()) }
    /// ```
    pub async fn set_limits(&self, queue: &str, limits: QueueLimits) -> Result<(), BackendError> {
        self.backend.set_limits(queue, limits).await
    }

    /// `queue`'s limits as stored.
    pub async fn limits(&self, queue: &str) -> Result<QueueLimits, BackendError> {
        self.backend.limits(queue).await
    }

    /// Pauses `queue` for every worker: no job of it starts until [`Client::resume`];
    /// running jobs finish, enqueues go on. Kept across restarts, shown in
    /// [`QueueStats::paused`].
    ///
    /// ```
    /// # use jobs_core::{Client, MemoryBackend};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), jobs_core::BackendError> {
    /// # let client = Client::new(MemoryBackend::new());
    /// client.pause("disks").await?;
    /// assert!(client.stats("disks").await?.paused);
    /// client.resume("disks").await?;
    /// # Ok(()) }
    /// ```
    pub async fn pause(&self, queue: &str) -> Result<(), BackendError> {
        self.backend.set_paused(queue, true).await
    }

    /// Resumes a paused `queue`: its jobs start again, on every worker.
    pub async fn resume(&self, queue: &str) -> Result<(), BackendError> {
        self.backend.set_paused(queue, false).await
    }

    /// Counts by state for `queue`.
    pub async fn stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        self.backend.stats(queue).await
    }

    /// Dead jobs of `queue`, most recent first.
    pub async fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobInfo>, BackendError> {
        self.backend.dead_jobs(queue, offset, limit).await
    }

    /// Cancels a job: a waiting one never runs; a running one is asked to stop (its
    /// context's `cancelled()` fires at its worker's next lease renewal, within a third of
    /// the lease) and, unless it then succeeds, ends as cancelled without retries.
    ///
    /// ```
    /// use jobs_core::{backend::CancelOutcome, job, Client, JobError, JobState, MemoryBackend};
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// let id = client.enqueue(Ping { host: "a".into() }).await?;
    /// assert_eq!(client.cancel("default", id).await?, CancelOutcome::Cancelled);
    /// assert_eq!(client.job("default", id).await?.unwrap().state, JobState::Cancelled);
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self, queue: &str, id: JobId) -> Result<CancelOutcome, BackendError> {
        self.backend.cancel(queue, id).await
    }

    /// Moves dead jobs back to ready with fresh attempts.
    pub async fn retry_dead(&self, queue: &str, ids: &[JobId]) -> Result<u64, BackendError> {
        self.backend.retry_dead(queue, ids).await
    }
}
