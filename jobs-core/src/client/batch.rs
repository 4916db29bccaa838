//! The client side of batches: opening one, adding to it, reading its status.

use std::borrow::Cow;

use super::Client;
use super::enqueue::{EnqueueError, EnqueueOptions};
use crate::job::Job;
use crate::store::backend::{Backend, BatchAdded, CancelOutcome, JobInfo, NewJob};
use crate::store::batch::{BATCH_PAGE_MAX, BatchId, Callback, CallbackKind};
use crate::store::error::BackendError;
use crate::store::id::JobId;
use crate::store::queue_name::validate_queue_name;

/// A batch being put together; see [`Client::batch`]. Nothing is sent until
/// [`BatchBuilder::enqueue`].
#[must_use = "a batch does nothing until it is enqueued"]
pub struct BatchBuilder<'a, B> {
    client: &'a Client<B>,
    id: BatchId,
    jobs: Vec<NewJob>,
    callbacks: Vec<Callback>,
    error: Option<EnqueueError>,
}

impl<B: Backend> Client<B> {
    /// Starts a batch: add jobs and callbacks, then [`BatchBuilder::enqueue`].
    ///
    /// ```
    /// use jobs_core::{job, BatchSummary, Client, JobError, MemoryBackend};
    /// # #[job(queue = "disks")] async fn format_disk(host: String) -> Result<(), JobError> { Ok(()) }
    /// #[job]
    /// async fn operation_done(operation: String, batch: BatchSummary) -> Result<(), JobError> {
    ///     println!("{operation}: {} of {} succeeded", batch.succeeded, batch.total);
    ///     Ok(())
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// let done = OperationDone { operation: "op-1".into(), batch: BatchSummary::default() };
    /// let (batch, jobs) = client
    ///     .batch()
    ///     .jobs(["node-1", "node-2"].map(|h| FormatDisk { host: h.into() }))
    ///     .on_complete(done)
    ///     .enqueue()
    ///     .await?;
    /// assert_eq!(client.batch_status(batch).await?.unwrap().pending, 2);
    /// # let _ = jobs; Ok(()) }
    /// ```
    pub fn batch(&self) -> BatchBuilder<'_, B> {
        BatchBuilder {
            client: self,
            id: BatchId::new(),
            jobs: Vec::new(),
            callbacks: Vec::new(),
            error: None,
        }
    }

    /// Adds `job` (with id `id`) to an open batch and enqueues it, as one step: should
    /// the caller die in between, the backend enqueues the job itself (on Redis, within a
    /// grace period), so the batch never waits for a member that was never enqueued. From
    /// inside one of the batch's running jobs, use [`crate::JobContext::batch`] and
    /// [`crate::JobContext::child_id`]: a re-run then adds the same job, not another,
    /// and the batch stays open until it ends.
    pub async fn add_to_batch<J: Job>(
        &self,
        batch: BatchId,
        job: J,
        id: JobId,
    ) -> Result<JobId, BatchError> {
        let new = self.new_member(&job, id, &EnqueueOptions::of::<J>(), batch)?;
        match self.backend().batch_add(batch, vec![new]).await? {
            BatchAdded::Added => Ok(id),
            BatchAdded::Finished => Err(BatchError::Finished(batch)),
            _ => Err(BatchError::NotFound(batch)),
        }
    }

    /// A batch's counts, in one backend call whatever its size (the counts are kept as
    /// members end; `running` is read per queue the members span).
    pub async fn batch_status(&self, id: BatchId) -> Result<Option<BatchStatus>, BackendError> {
        let Some(counts) = self.backend().batch(id).await? else {
            return Ok(None);
        };
        let pending = counts.total.saturating_sub(counts.succeeded + counts.dead);
        Ok(Some(BatchStatus {
            id,
            total: counts.total,
            pending,
            running: counts.running.min(pending),
            succeeded: counts.succeeded,
            dead: counts.dead,
            dead_jobs: counts.dead_jobs,
            finished: counts.finished,
            paused: counts.paused,
        }))
    }

    /// Pauses a batch for every worker: none of its waiting members starts until
    /// [`Client::resume_batch`]; running members finish, and members can still be added
    /// (they wait too). Kept across restarts, shown in [`BatchStatus::paused`]. Other
    /// jobs of the same queues go on. False when the batch was never opened.
    ///
    /// ```
    /// # use jobs_core::{job, Client, JobError, MemoryBackend};
    /// # #[job] async fn reboot(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client = Client::new(MemoryBackend::new());
    /// let (batch, _) = client.batch().job(Reboot { host: "node-1".into() }).enqueue().await?;
    /// assert!(client.pause_batch(batch).await?);
    /// assert!(client.batch_status(batch).await?.unwrap().paused);
    /// client.resume_batch(batch).await?;
    /// # Ok(()) }
    /// ```
    pub async fn pause_batch(&self, id: BatchId) -> Result<bool, BackendError> {
        self.backend().set_batch_paused(id, true).await
    }

    /// Resumes a paused batch: its waiting members start again, on every worker. False
    /// when the batch was never opened.
    pub async fn resume_batch(&self, id: BatchId) -> Result<bool, BackendError> {
        self.backend().set_batch_paused(id, false).await
    }

    /// Cancels every member of a batch that has not ended ([`Client::cancel`] for each,
    /// walking the members a page at a time): returns how many were cancelled at once and
    /// how many running ones were asked to stop. The batch then finishes as its members
    /// end (cancelled ones count as not succeeded), and its callbacks fire as usual.
    pub async fn cancel_batch(&self, id: BatchId) -> Result<(u64, u64), BackendError> {
        let (mut cancelled, mut requested) = (0, 0);
        let mut offset = 0;
        loop {
            let page = self
                .backend()
                .batch_members(id, offset, BATCH_PAGE_MAX)
                .await?;
            for (job, queue) in &page {
                match self.cancel(queue, *job).await? {
                    CancelOutcome::Cancelled => cancelled += 1,
                    CancelOutcome::Requested => requested += 1,
                    _ => {}
                }
            }
            if page.len() < BATCH_PAGE_MAX {
                return Ok((cancelled, requested));
            }
            offset += page.len();
        }
    }

    /// A page of a batch's members (job id, queue), in the order they joined: from
    /// `offset`, at most `limit` (cut to [`BATCH_PAGE_MAX`]). One backend call per page.
    pub async fn batch_members(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(JobId, String)>, BackendError> {
        self.backend()
            .batch_members(id, offset, limit.min(BATCH_PAGE_MAX))
            .await
    }

    /// A page of a batch's members with their records (state, progress, error), as
    /// [`Client::batch_members`] pages them: for a status page listing each member.
    pub async fn batch_jobs(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<BatchMember>, BackendError> {
        let members = self.batch_members(id, offset, limit).await?;
        let mut infos: Vec<Option<JobInfo>> = vec![None; members.len()];
        // One lookup call per queue the page spans, whatever the page's size.
        let mut queues: Vec<&str> = Vec::new();
        for (_, queue) in &members {
            if !queues.contains(&queue.as_str()) {
                queues.push(queue);
            }
        }
        for queue in queues {
            let (positions, ids): (Vec<usize>, Vec<JobId>) = members
                .iter()
                .enumerate()
                .filter(|(_, (_, q))| q == queue)
                .map(|(i, (job, _))| (i, *job))
                .unzip();
            for (pos, info) in positions.into_iter().zip(self.jobs(queue, &ids).await?) {
                infos[pos] = info;
            }
        }
        Ok(members
            .into_iter()
            .zip(infos)
            .map(|((id, queue), info)| BatchMember { id, queue, info })
            .collect())
    }

    /// A page of a batch's dead members' ids, in the order they were counted: from
    /// `offset`, at most `limit` (cut to [`BATCH_PAGE_MAX`]). The summary and the status
    /// carry only the first [`crate::BATCH_DEAD_JOBS_MAX`].
    pub async fn batch_dead_jobs(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, BackendError> {
        self.backend()
            .batch_dead_jobs(id, offset, limit.min(BATCH_PAGE_MAX))
            .await
    }
}

impl<B: Backend> BatchBuilder<'_, B> {
    /// Uses this id (to retry an interrupted enqueue without opening a second batch).
    pub fn id(mut self, id: BatchId) -> Self {
        self.id = id;
        self
    }

    /// Adds a job with its type's options.
    pub fn job<J: Job>(self, job: J) -> Self {
        self.job_with_id(job, JobId::new())
    }

    /// Adds a job with an id of your own (to retry an interrupted enqueue).
    pub fn job_with_id<J: Job>(self, job: J, id: JobId) -> Self {
        self.job_on(J::OPTIONS.queue, job, id)
    }

    /// Adds a job to another queue than its type's (members may sit on any queues).
    pub fn job_on<J: Job>(mut self, queue: &str, job: J, id: JobId) -> Self {
        let options = EnqueueOptions {
            queue: Cow::Borrowed(queue),
            ..EnqueueOptions::of::<J>()
        };
        match self.client.new_member(&job, id, &options, self.id) {
            Ok(new) => {
                self.jobs.push(new);
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Adds many jobs of one type.
    pub fn jobs<J: Job>(mut self, jobs: impl IntoIterator<Item = J>) -> Self {
        for job in jobs {
            self = self.job(job);
        }
        self
    }

    /// Enqueued once every job succeeded.
    pub fn on_success<J: Job>(self, job: J) -> Self {
        self.callback(CallbackKind::Success, job)
    }

    /// Enqueued once every job ended, succeeded or dead.
    pub fn on_complete<J: Job>(self, job: J) -> Self {
        self.callback(CallbackKind::Complete, job)
    }

    /// Enqueued once every job ended, if some are dead.
    pub fn on_failure<J: Job>(self, job: J) -> Self {
        self.callback(CallbackKind::Failure, job)
    }

    fn callback<J: Job>(mut self, kind: CallbackKind, job: J) -> Self {
        // Refused now rather than when the batch ends.
        if let Err(e) = validate_queue_name(J::OPTIONS.queue) {
            self.error.get_or_insert(e.into());
            return self;
        }
        match serde_json::to_string(&job) {
            Ok(payload) => self.callbacks.push(Callback {
                kind,
                id: self.id.callback_id(kind),
                queue: J::OPTIONS.queue.to_owned(),
                name: J::NAME.to_owned(),
                payload,
                priority: J::OPTIONS.priority,
                max_attempts: J::OPTIONS.max_attempts,
            }),
            Err(source) => {
                self.error.get_or_insert(EnqueueError::Serialize {
                    name: J::NAME,
                    source,
                });
            }
        }
        self
    }

    /// Opens the batch with its members and callbacks, then enqueues the jobs. Returns the
    /// batch id and the jobs' ids, in order. Opening first means every ending of a member
    /// is counted through the durable outbox, and a running member can add to the batch.
    /// If this fails part-way, retrying with the same batch and job ids
    /// ([`BatchBuilder::id`], [`BatchBuilder::job_with_id`]) completes it.
    pub async fn enqueue(self) -> Result<(BatchId, Vec<JobId>), BatchError> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let backend = self.client.backend();
        let ids: Vec<JobId> = self.jobs.iter().map(|j| j.id).collect();
        let members = self.jobs.iter().map(|j| (j.id, j.queue.clone())).collect();
        if backend.batch_open(self.id, members, self.callbacks).await? == BatchAdded::Finished {
            return Err(BatchError::Finished(self.id));
        }
        let tally = crate::metrics::Tally::of(&self.jobs);
        backend.enqueue(self.jobs).await.map_err(|e| {
            crate::metrics::backend_error("enqueue");
            EnqueueError::Backend(e)
        })?;
        tally.all();
        Ok((self.id, ids))
    }
}

/// One member of a batch with its record, as [`crate::Client::batch_jobs`] pages them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchMember {
    /// The job.
    pub id: JobId,
    /// Its queue.
    pub queue: String,
    /// Its record (state, progress, error, ...); `None` once retention removed it, or
    /// while an added member is being enqueued.
    pub info: Option<JobInfo>,
}

/// A batch's status, as [`crate::Client::batch_status`] reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchStatus {
    /// The batch.
    pub id: BatchId,
    /// Members in all.
    pub total: u64,
    /// Members not ended yet (waiting, scheduled or running).
    pub pending: u64,
    /// Of the pending, those running now.
    pub running: u64,
    /// Members that succeeded.
    pub succeeded: u64,
    /// Members that ended dead.
    pub dead: u64,
    /// The first [`crate::BATCH_DEAD_JOBS_MAX`] dead members' ids, in the order they were counted
    /// (all of them with [`crate::Client::batch_dead_jobs`]).
    pub dead_jobs: Vec<JobId>,
    /// Every member ended and the callbacks fired.
    pub finished: bool,
    /// Paused ([`crate::Client::pause_batch`]): no waiting member starts until resumed.
    pub paused: bool,
}

/// Why a batch call was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// No such batch.
    #[error("batch {0} not found")]
    NotFound(BatchId),
    /// Every member has ended and the callbacks fired: nothing can join any more.
    #[error("batch {0} has finished; no job can be added to it")]
    Finished(BatchId),
    /// Enqueueing failed.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}
