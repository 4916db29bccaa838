//! The context handed to each running job.

use std::sync::{Arc, Mutex, OnceLock};

use tokio_util::sync::CancellationToken;

use super::data::{Data, DataMap};
use super::error::JobError;
use crate::store::backend::{Lease, Progress, Reserved};
use crate::store::batch::BatchId;
use crate::store::id::JobId;

/// What a running job can know and ask: its identity, its attempt, whether it should stop,
/// and the shared data registered on the worker.
///
/// Cheap to clone. Name it as a parameter of a `#[job]` function to receive it.
///
/// ```
/// use jobs_core::{DataMap, JobContext};
///
/// // Outside a worker (e.g. to unit-test a job function), make a standalone context.
/// let mut data = DataMap::new();
/// data.insert(42u32);
/// let ctx = JobContext::standalone(data);
/// assert_eq!(ctx.attempt(), 1);
/// assert_eq!(*ctx.data::<u32>().unwrap(), 42);
/// assert!(!ctx.is_cancelled());
/// ```
#[derive(Clone)]
pub struct JobContext {
    inner: Arc<Inner>,
}

struct Inner {
    id: JobId,
    name: String,
    queue: String,
    attempt: u32,
    max_attempts: u32,
    batch: Option<BatchId>,
    data: Arc<DataMap>,
    cancel: CancellationToken,
    reason: OnceLock<CancelReason>,
    /// The latest report, and whether it is yet to be sent.
    progress: Mutex<(Option<Progress>, bool)>,
}

/// Why a job was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// The worker is shutting down and the grace period is over; the job will be
    /// returned to the queue and run again.
    Shutdown,
    /// The worker lost this job's lease (it could not renew it in time); another worker
    /// may already be running it, and this run's outcome will be discarded.
    LeaseLost,
    /// The attempt ran past the job's `timeout`.
    Timeout,
    /// The application cancelled the job (`Client::cancel`): stop at the next safe point.
    /// Unless it then succeeds, it ends as cancelled, without retries.
    Cancelled,
}

impl JobContext {
    /// The context of a job a worker reserved, with the worker's shared data.
    pub(crate) fn new(job: &Reserved, data: Arc<DataMap>) -> Self {
        JobContext {
            inner: Arc::new(Inner {
                id: job.lease.id,
                name: job.name.clone(),
                queue: job.lease.queue.clone(),
                attempt: job.attempt,
                max_attempts: job.max_attempts,
                batch: job.batch,
                data,
                cancel: CancellationToken::new(),
                reason: OnceLock::new(),
                progress: Mutex::new((None, false)),
            }),
        }
    }

    /// A context not attached to any worker, for calling job functions directly in tests:
    /// the first (and last) attempt of a job of the `default` queue.
    pub fn standalone(data: DataMap) -> Self {
        let lease = Lease {
            queue: "default".into(),
            id: JobId::new(),
            token: 0,
            expires_at_ms: 0,
            batch: None,
            limit_key: None,
        };
        let job = Reserved {
            lease,
            name: String::new(),
            payload: Vec::new(),
            attempt: 1,
            max_attempts: 1,
            deliveries: 1,
            batch: None,
        };
        JobContext::new(&job, Arc::new(data))
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.inner.id
    }

    /// The job's wire name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The queue the job was reserved from.
    pub fn queue(&self) -> &str {
        &self.inner.queue
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// The attempts allowed in all.
    pub fn max_attempts(&self) -> u32 {
        self.inner.max_attempts
    }

    /// The batch this job belongs to, if any: jobs added to it with
    /// [`crate::Client::add_to_batch`] keep it open until they end too.
    pub fn batch(&self) -> Option<BatchId> {
        self.inner.batch
    }

    /// An id derived from this job's id and `n`: the same on every run of this job, so a
    /// job that adds children (to its batch, say) and is run again after a crash adds
    /// the same children, not new ones.
    ///
    /// ```
    /// use jobs_core::{DataMap, JobContext};
    /// let ctx = JobContext::standalone(DataMap::new());
    /// assert_eq!(ctx.child_id(1), ctx.child_id(1));
    /// assert_ne!(ctx.child_id(1), ctx.child_id(2));
    /// ```
    pub fn child_id(&self, n: u64) -> JobId {
        self.inner.id.child(n)
    }

    /// True on the last attempt the job will get if this one fails.
    pub fn is_last_attempt(&self) -> bool {
        self.inner.attempt >= self.inner.max_attempts
    }

    /// The shared data of type `T` registered on the worker.
    ///
    /// Errors (permanently: retrying on the same worker cannot help) when the worker has
    /// no such data. Jobs made by `#[job]` declare their data, and the worker checks it
    /// before it starts, so this does not happen to them.
    pub fn data<T: Send + Sync + 'static>(&self) -> Result<Data<T>, JobError> {
        self.inner.data.get::<T>().ok_or_else(|| {
            JobError::permanent(format!(
                "no data of type `{}` on this worker; register it with `Worker::builder(..).data(..)`",
                std::any::type_name::<T>()
            ))
        })
    }

    /// True once the job has been asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Why the job was asked to stop, once it has been.
    pub fn cancel_reason(&self) -> Option<CancelReason> {
        self.inner.reason.get().copied()
    }

    /// Resolves when the job should stop: it was cancelled by the application, or its
    /// lease was lost (another worker may run it now, and this run's outcome will be
    /// refused). Long jobs select on it at safe points (between two RPCs, say) and return
    /// early.
    ///
    /// A job that runs past its `timeout`, or is still running when a shutdown's grace
    /// period ends, is not asked: it is aborted at the await it is on (the reason is still
    /// recorded, see [`JobContext::cancel_reason`]), and the job is retried or released.
    pub async fn cancelled(&self) {
        self.inner.cancel.cancelled().await
    }

    /// Reports progress: `percent` (0 to 100) and a short message. Cheap: it only stores
    /// the latest report, which the worker sends with others every `progress_every`
    /// (coalesced), so a job may call it as often as it likes. Readable by id
    /// ([`crate::JobInfo::progress`]) and followed as `Progress` events.
    ///
    /// ```
    /// use jobs_core::{DataMap, JobContext, Progress};
    /// let ctx = JobContext::standalone(DataMap::new());
    /// ctx.progress(40, "partitioned /dev/sdb");
    /// assert_eq!(ctx.last_progress(), Some(Progress::new(40, "partitioned /dev/sdb")));
    /// ```
    pub fn progress(&self, percent: u8, message: impl Into<String>) {
        let mut slot = self.lock_progress();
        *slot = (Some(Progress::new(percent, message)), true);
    }

    /// The last progress this run reported.
    pub fn last_progress(&self) -> Option<Progress> {
        self.lock_progress().0.clone()
    }

    /// The report to send, if one is pending; it is then marked sent.
    pub(crate) fn take_unsent_progress(&self) -> Option<Progress> {
        let mut slot = self.lock_progress();
        if !slot.1 {
            return None;
        }
        slot.1 = false;
        slot.0.clone()
    }

    /// Sending failed: send the latest report again next time.
    pub(crate) fn progress_unsent(&self) {
        let mut slot = self.lock_progress();
        slot.1 = slot.0.is_some();
    }

    fn lock_progress(&self) -> std::sync::MutexGuard<'_, (Option<Progress>, bool)> {
        self.inner
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn cancel(&self, reason: CancelReason) {
        // The first reason wins: a job stopped for a lost lease stays "lease lost" even
        // if shutdown follows.
        let _ = self.inner.reason.set(reason);
        self.inner.cancel.cancel();
    }
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("queue", &self.inner.queue)
            .field("attempt", &self.inner.attempt)
            .finish()
    }
}
