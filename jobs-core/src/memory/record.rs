//! One job as the memory store keeps it.

use crate::store::backend::{JobInfo, JobState, NewJob, Progress};
use crate::store::batch::BatchId;
use crate::store::flow::JobFlow;
use crate::store::id::JobId;

/// One stored job: what [`JobInfo`] reports, plus the lease and the bookkeeping the
/// transitions need.
pub(super) struct Record {
    pub(super) id: JobId,
    pub(super) name: String,
    pub(super) queue: String,
    pub(super) payload: Vec<u8>,
    pub(super) priority: i8,
    pub(super) max_attempts: u32,
    pub(super) attempts: u32,
    pub(super) deliveries: u32,
    pub(super) stalls: u32,
    pub(super) state: JobState,
    pub(super) created_at: u64,
    /// Ordering key while ready: when the job was due.
    pub(super) ready_at: u64,
    pub(super) run_at: Option<u64>,
    pub(super) lease: Option<(u64, u64)>,
    /// The token of the delivery whose outcome was recorded last: a repeat of that
    /// finish is answered `Finished`, not `Stale`.
    pub(super) done_token: Option<u64>,
    pub(super) finished_at: Option<u64>,
    pub(super) last_error: Option<String>,
    pub(super) result: Option<Vec<u8>>,
    pub(super) progress: Option<Progress>,
    pub(super) batch: Option<BatchId>,
    /// The application cancelled it while it ran.
    pub(super) cancel_requested: bool,
    pub(super) flow: JobFlow,
    /// Its deadline (from `flow.expires`, on the store's clock).
    pub(super) expires_at: Option<u64>,
}

impl Record {
    /// A new job's record, in no state yet (the caller schedules it for `due`).
    pub(super) fn new(job: NewJob, now: u64, due: u64) -> Self {
        Record {
            id: job.id,
            name: job.name,
            queue: job.queue,
            payload: job.payload,
            priority: job.priority,
            max_attempts: job.max_attempts.max(1),
            attempts: 0,
            deliveries: 0,
            stalls: 0,
            state: JobState::Scheduled,
            created_at: now,
            ready_at: due,
            run_at: None,
            lease: None,
            done_token: None,
            finished_at: None,
            last_error: None,
            result: None,
            progress: None,
            batch: job.batch,
            cancel_requested: false,
            flow: job.flow,
            expires_at: None,
        }
    }

    /// The record as [`crate::Backend::job`] reports it.
    pub(super) fn info(&self) -> JobInfo {
        JobInfo {
            id: self.id,
            name: self.name.clone(),
            queue: self.queue.clone(),
            state: self.state,
            payload: self.payload.clone(),
            priority: self.priority,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            deliveries: self.deliveries,
            stalls: self.stalls,
            created_at_ms: self.created_at,
            run_at_ms: self.run_at,
            lease_expires_at_ms: self.lease.map(|(_, exp)| exp),
            finished_at_ms: self.finished_at,
            last_error: self.last_error.clone(),
            result: self.result.clone(),
            progress: self.progress.clone(),
            batch: self.batch,
        }
    }
}
