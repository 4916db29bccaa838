//! Job identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A job's identifier: a UUIDv7, made by the client at enqueue time.
///
/// Made on the client so that an enqueue retried after a timeout can reuse the same id
/// and is then idempotent; time-ordered so that ids sort roughly by creation.
///
/// ```
/// use jobs_core::JobId;
/// let id = JobId::new();
/// let parsed: JobId = id.to_string().parse().unwrap();
/// assert_eq!(id, parsed);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(uuid::Uuid);

impl JobId {
    /// A new, unique id.
    pub fn new() -> Self {
        JobId(uuid::Uuid::now_v7())
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }

    /// An id derived from this one and `n` (a name-based UUID, version 5): the same for
    /// the same pair, different for different pairs.
    pub fn child(&self, n: u64) -> JobId {
        JobId(uuid::Uuid::new_v5(&self.0, &n.to_be_bytes()))
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl From<uuid::Uuid> for JobId {
    fn from(u: uuid::Uuid) -> Self {
        JobId(u)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.as_hyphenated(), f)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A string that is not a job id.
#[derive(Debug, thiserror::Error)]
#[error("invalid job id: {0}")]
pub struct InvalidJobId(#[from] uuid::Error);

impl FromStr for JobId {
    type Err = InvalidJobId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(JobId(s.parse()?))
    }
}
