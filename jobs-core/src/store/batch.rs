//! Batches: many jobs followed as one, with callback jobs when they have all ended.
//!
//! A batch counts each member once, when it ends for good (succeeded, or dead), however
//! many times it was retried or re-delivered. When every member has ended, the callbacks
//! fire exactly once: `on_complete` always, `on_success` when none is dead, `on_failure`
//! when some are. A callback is an ordinary job enqueued then, with a [`BatchSummary`]
//! put in its payload's `batch` field: give the callback job a `batch: BatchSummary`
//! argument to receive it.
//!
//! Members may sit on several queues (on Redis Cluster, on several nodes): the batch's
//! own state lives apart from the queues, and each member's ending reaches it through a
//! durable outbox written in the same step as the ending, so nothing is counted twice or
//! lost when a worker dies in between.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::id::{InvalidJobId, JobId};

/// Most dead member ids a [`BatchSummary`] or [`crate::BatchStatus`] carries: a batch of 100,000
/// dead members must not put 100,000 ids into one callback payload or one status read.
/// [`crate::Client::batch_dead_jobs`] pages through all of them.
pub const BATCH_DEAD_JOBS_MAX: usize = 1_000;

/// Most members (or dead ids) one page of [`crate::Client::batch_members`],
/// [`crate::Client::batch_jobs`] or [`crate::Client::batch_dead_jobs`] returns: a larger
/// `limit` is cut to this, so each page is one bounded call.
pub const BATCH_PAGE_MAX: usize = 1_000;

/// A batch's id.
///
/// ```
/// use jobs_core::BatchId;
/// let id = BatchId::new();
/// assert_eq!(id.to_string().parse::<BatchId>().unwrap(), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BatchId(JobId);

impl BatchId {
    /// A new, unique id.
    pub fn new() -> Self {
        BatchId(JobId::new())
    }

    /// The id of this batch's callback of `kind`: fixed, so it is enqueued once however
    /// many times the batch's end is seen.
    pub fn callback_id(&self, kind: CallbackKind) -> JobId {
        self.0.child(kind as u64 + 1)
    }
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchId({})", self.0)
    }
}

impl FromStr for BatchId {
    type Err = InvalidJobId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(BatchId)
    }
}

/// When a callback fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// Every member ended, none dead.
    Success,
    /// Every member ended, whatever the outcome.
    Complete,
    /// Every member ended, some dead.
    Failure,
}

impl CallbackKind {
    /// Whether a callback of this kind fires for a batch that ended with `dead` members dead.
    pub fn fires(self, dead: u64) -> bool {
        match self {
            CallbackKind::Success => dead == 0,
            CallbackKind::Complete => true,
            CallbackKind::Failure => dead > 0,
        }
    }

    /// The kind of this wire name.
    ///
    /// ```
    /// use jobs_core::CallbackKind;
    /// assert_eq!(CallbackKind::from_name("failure"), Some(CallbackKind::Failure));
    /// assert_eq!(CallbackKind::from_name("other"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        [
            CallbackKind::Success,
            CallbackKind::Complete,
            CallbackKind::Failure,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// Its wire name.
    pub fn name(self) -> &'static str {
        match self {
            CallbackKind::Success => "success",
            CallbackKind::Complete => "complete",
            CallbackKind::Failure => "failure",
        }
    }
}

/// What a callback job receives in its `batch` field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// The batch.
    pub id: BatchId,
    /// Members in all.
    pub total: u64,
    /// Members that succeeded.
    pub succeeded: u64,
    /// Members that ended dead.
    pub dead: u64,
    /// The dead members' ids, in the order they were counted: the first
    /// [`BATCH_DEAD_JOBS_MAX`] of them (all of them with [`crate::Client::batch_dead_jobs`]).
    pub dead_jobs: Vec<JobId>,
}

impl BatchSummary {
    /// `payload` (a callback's JSON arguments) with this summary in its `batch` field.
    /// A payload that is not a JSON object is returned as it is.
    pub fn inject(&self, payload: &[u8]) -> Vec<u8> {
        let Ok(serde_json::Value::Object(mut args)) = serde_json::from_slice(payload) else {
            return payload.to_vec();
        };
        args.insert(
            "batch".into(),
            serde_json::to_value(self).unwrap_or_default(),
        );
        serde_json::to_vec(&args).unwrap_or_else(|_| payload.to_vec())
    }
}

/// A callback job as stored with its batch until it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// When it fires.
    pub kind: CallbackKind,
    /// Its id, fixed when the batch is opened: firing twice enqueues it once.
    pub id: JobId,
    /// Queue.
    pub queue: String,
    /// Wire name.
    pub name: String,
    /// JSON arguments, before the summary is added.
    pub payload: String,
    /// Priority.
    pub priority: i8,
    /// Attempts allowed.
    pub max_attempts: u32,
}

/// A batch's counts, as [`crate::Backend::batch`] reports them: kept as members end, so
/// reading them costs the same for ten members as for a hundred thousand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchCounts {
    /// Members in all.
    pub total: u64,
    /// Members that succeeded.
    pub succeeded: u64,
    /// Members that ended dead.
    pub dead: u64,
    /// The first [`BATCH_DEAD_JOBS_MAX`] dead members' ids, in the order they were counted.
    pub dead_jobs: Vec<JobId>,
    /// Every member ended and the callbacks fired.
    pub finished: bool,
    /// Members leased to a worker right now.
    pub running: u64,
    /// Paused ([`Backend::set_batch_paused`](crate::Backend::set_batch_paused)): no waiting member starts.
    pub paused: bool,
}

impl BatchCounts {
    /// Counts; for backends.
    pub fn new(
        total: u64,
        succeeded: u64,
        dead: u64,
        dead_jobs: Vec<JobId>,
        finished: bool,
    ) -> Self {
        BatchCounts {
            total,
            succeeded,
            dead,
            dead_jobs,
            finished,
            running: 0,
            paused: false,
        }
    }

    /// Paused or not; for backends.
    pub fn with_paused(mut self, paused: bool) -> Self {
        self.paused = paused;
        self
    }

    /// With `running` members leased right now; for backends.
    pub fn with_running(mut self, running: u64) -> Self {
        self.running = running;
        self
    }
}

/// What [`crate::Backend::batch_open`] or [`crate::Backend::batch_add`] did.
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
