//! The worker's side of the store: a reserved job and its [`Lease`], how an attempt ended
//! ([`Outcome`]), and what the store answers for a lease.

use std::time::Duration;

use super::batch::BatchId;
use super::id::JobId;

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
    /// The job's limit key, if any: the slot it holds under its key's limit is given
    /// back when the lease ends.
    pub limit_key: Option<String>,
}

/// A job handed to a worker by [`Backend::reserve`](crate::Backend::reserve).
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

/// How an attempt ended, as reported by [`Backend::finish`](crate::Backend::finish).
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
    /// Rate limited by what the job calls (an HTTP 429, say): run again after `after`
    /// without using up an attempt, and hold back every job with the same limit key
    /// until then too.
    RateLimited {
        /// Delay before the job, and its key's other jobs, may start again.
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

/// The backend's answer for one lease in [`Backend::finish`](crate::Backend::finish) or [`Backend::renew`](crate::Backend::renew).
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
    /// From [`Backend::renew`](crate::Backend::renew) only: the lease is extended as for `Held`, and the job was
    /// asked to stop ([`Backend::cancel`](crate::Backend::cancel)): tell it.
    CancelRequested {
        /// The lease's new end.
        expires_at_ms: u64,
    },
    /// From [`Backend::finish`](crate::Backend::finish) only: this delivery's outcome was already recorded (a
    /// retried call whose first answer was lost), or the job is no longer stored at all.
    /// Nothing was changed, and nothing will run the job again because of this lease.
    Finished,
}

/// What one [`Backend::recover_expired`](crate::Backend::recover_expired) call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Recovered {
    /// Jobs whose lease expired that are ready again.
    pub requeued: u64,
    /// Jobs whose lease expired too often (or on their last attempt) that are now dead.
    pub dead: u64,
}
