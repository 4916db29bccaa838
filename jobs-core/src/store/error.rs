//! The store's errors: what a backend call reports.

use std::error::Error as StdError;

use super::flow::InvalidFlow;
use super::queue_name::InvalidQueueName;

/// A boxed error, as kept in a [`crate::JobError`] and in backend errors.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error from a backend operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend could not be reached or timed out. Transient: callers may retry. A call
    /// whose answer was lost may still have been applied: retries must be idempotent
    /// (enqueue with the same id; outcomes are fenced by their lease).
    #[error("backend unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The store is out of memory and refused the write; nothing was written. Transient:
    /// workers keep finishing (and so freeing) jobs, and a later retry may succeed.
    #[error("backend full, write refused: {0}")]
    Full(String),
    /// The backend's data is not what the framework wrote (e.g. a key of the wrong type).
    #[error("corrupt backend data: {0}")]
    Corrupt(String),
    /// A queue name that cannot be stored.
    #[error(transparent)]
    InvalidQueue(#[from] InvalidQueueName),
    /// Flow-control settings or a job's limit key that the store refuses.
    #[error(transparent)]
    InvalidFlow(#[from] InvalidFlow),
    /// A call the store refuses as asked, whatever its data (e.g. purging running jobs);
    /// the message says what to do instead.
    #[error("refused: {0}")]
    Refused(String),
    /// Any other backend failure.
    #[error("backend error: {0}")]
    Other(#[source] BoxError),
}

impl BackendError {
    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, BackendError::Unavailable(_) | BackendError::Full(_))
    }
}
