//! The operator's side of the client: pages of jobs in any state, deletions, purges,
//! retries by filter, the queues, their throughput and the live workers.

use super::Client;
use crate::store::admin::{Deleted, JobPage, ListCursor, MinuteCounts, WorkerInfo};
use crate::store::backend::{Backend, JobState};
use crate::store::error::BackendError;
use crate::store::id::JobId;

/// Jobs retried per call by [`Client::retry_dead_where`].
const RETRY_CHUNK: usize = 200;

impl<B: Backend> Client<B> {
    /// A page of `queue`'s jobs in `state`: pass the page's `next` back as `after` for the
    /// next one. See [`Backend::list_jobs`] for the orders.
    ///
    /// ```
    /// use jobs_core::{job, Client, JobError, JobState, MemoryBackend};
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// for host in ["a", "b", "c"] {
    ///     client.enqueue(Ping { host: host.into() }).await?;
    /// }
    /// let first = client.list_jobs("default", JobState::Ready, None, 2).await?;
    /// assert_eq!(first.jobs.len(), 2);
    /// let rest = client.list_jobs("default", JobState::Ready, first.next, 2).await?;
    /// assert_eq!((rest.jobs.len(), rest.next), (1, None));
    /// # Ok(()) }
    /// ```
    pub async fn list_jobs(
        &self,
        queue: &str,
        state: JobState,
        after: Option<ListCursor>,
        limit: usize,
    ) -> Result<JobPage, BackendError> {
        self.backend.list_jobs(queue, state, after, limit).await
    }

    /// Deletes jobs that are waiting or ended (running ones are left: cancel them first).
    /// One answer per id, in order.
    pub async fn delete_jobs(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> Result<Vec<Deleted>, BackendError> {
        self.backend.delete_jobs(queue, ids).await
    }

    /// Deletes every job of `queue` in `state` (not `Active`), in bounded steps; returns
    /// how many. Jobs that enter the state meanwhile may be deleted too.
    ///
    /// ```
    /// use jobs_core::{job, Client, JobError, JobState, MemoryBackend};
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// client.enqueue(Ping { host: "a".into() }).await?;
    /// assert_eq!(client.purge("default", JobState::Ready).await?, 1);
    /// assert_eq!(client.stats("default").await?.ready, 0);
    /// # Ok(()) }
    /// ```
    pub async fn purge(&self, queue: &str, state: JobState) -> Result<u64, BackendError> {
        let mut total = 0;
        loop {
            let n = self
                .backend
                .purge(queue, state, crate::store::admin::PURGE_BATCH)
                .await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Retries every dead (or cancelled, or expired) job of `queue` that ended at or
    /// after `since_ms` (ms since the Unix epoch; `None`: all of them), in bounded steps;
    /// returns how many moved back to ready.
    ///
    /// ```
    /// use jobs_core::{job, Client, JobError, MemoryBackend};
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// let id = client.enqueue(Ping { host: "a".into() }).await?;
    /// client.cancel("default", id).await?; // kept with the dead jobs
    /// assert_eq!(client.retry_dead_where("default", None).await?, 1);
    /// assert_eq!(client.stats("default").await?.ready, 1);
    /// # Ok(()) }
    /// ```
    pub async fn retry_dead_where(
        &self,
        queue: &str,
        since_ms: Option<u64>,
    ) -> Result<u64, BackendError> {
        let mut moved = 0;
        let mut after = None;
        loop {
            // Most recent first, paging forward: jobs retried leave the dead set, and one
            // that dies again lands before the cursor, so the walk ends however busy the
            // queue. A record too broken to tell when it ended does not stop the walk.
            let page = self
                .backend
                .list_jobs(queue, JobState::Dead, after, RETRY_CHUNK)
                .await?;
            let in_range = |j: &&crate::JobInfo| {
                since_ms.is_none_or(|t| j.finished_at_ms.is_none_or(|f| f >= t))
            };
            let ids: Vec<JobId> = page.jobs.iter().filter(in_range).map(|j| j.id).collect();
            let older = page.jobs.len() > ids.len();
            if !ids.is_empty() {
                moved += self.backend.retry_dead(queue, &ids).await?;
            }
            match page.next {
                Some(next) if !older => after = Some(next),
                _ => return Ok(moved),
            }
        }
    }

    /// The queues the store has seen (enqueued to, or served by a worker), sorted.
    pub async fn queues(&self) -> Result<Vec<String>, BackendError> {
        self.backend.queues().await
    }

    /// `queue`'s ended jobs per minute over the last `minutes` minutes (at most
    /// [`crate::THROUGHPUT_MINUTES`]), oldest first.
    pub async fn throughput(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<Vec<MinuteCounts>, BackendError> {
        self.backend.throughput(queue, minutes).await
    }

    /// The live worker processes, each as its last heartbeat registered it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = jobs_core::Client::new(jobs_core::MemoryBackend::new());
    /// assert!(client.workers().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        self.backend.workers().await
    }
}
