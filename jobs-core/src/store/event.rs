//! Lifecycle events: a durable, bounded, resumable stream per queue.
//!
//! Backends append events in the same atomic step as the transition they describe, one
//! entry per step and kind (a reservation of 50 jobs is one entry of 50 `Started`
//! events), so following the work costs Redis little. An [`EventCursor`] names one event
//! (its entry and its place in it): a subscriber that stores the cursor of the last event
//! it handled resumes exactly after it, as long as the stream still holds it.

use std::fmt;
use std::str::FromStr;

use super::id::JobId;

/// How many entries a queue's event stream keeps by default. An entry holds the events of
/// one transition of one kind (one reservation, one batch of outcomes), so this is usually
/// several times as many events.
pub const DEFAULT_EVENTS_MAX_LEN: usize = 10_000;

/// Where an event sits in its queue's stream. Opaque; store it as text (`Display` /
/// `FromStr`) to resume a subscription later.
///
/// ```
/// use jobs_core::event::EventCursor;
/// let c: EventCursor = "1700000000000-0/3".parse().unwrap();
/// assert_eq!(c.to_string(), "1700000000000-0/3");
/// assert!(c > "1700000000000-0/2".parse().unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventCursor {
    /// The stream entry's id (`ms-seq`).
    pub entry: EntryId,
    /// The event's position in the entry, from 0.
    pub index: u32,
}

/// A stream entry's id: milliseconds and a sequence number, as Redis streams number them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId {
    /// Milliseconds since the Unix epoch on the backend's clock.
    pub ms: u64,
    /// Order among entries of the same millisecond.
    pub seq: u64,
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for EntryId {
    type Err = InvalidCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ms, seq) = parse_pair(s, '-')?;
        Ok(EntryId { ms, seq })
    }
}

impl PartialOrd for EventCursor {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventCursor {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.entry, self.index).cmp(&(other.entry, other.index))
    }
}

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.entry, self.index)
    }
}

impl FromStr for EventCursor {
    type Err = InvalidCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (entry, index) = parse_pair(s, '/')?;
        Ok(EventCursor { entry, index })
    }
}

/// `a{sep}b` parsed as the two values; the first `sep` splits.
fn parse_pair<A: FromStr, B: FromStr>(s: &str, sep: char) -> Result<(A, B), InvalidCursor> {
    let (a, b) = s.split_once(sep).ok_or(InvalidCursor)?;
    Ok((
        a.parse().map_err(|_| InvalidCursor)?,
        b.parse().map_err(|_| InvalidCursor)?,
    ))
}

/// Text that is not an [`EventCursor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an event cursor (expected `ms-seq/index`)")]
pub struct InvalidCursor;

/// One lifecycle event of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// Where it sits in the stream: resume after it.
    pub cursor: EventCursor,
    /// The job.
    pub job: JobId,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// An event; for backends.
    pub fn new(cursor: EventCursor, job: JobId, kind: EventKind) -> Self {
        Event { cursor, job, kind }
    }

    /// When it happened, ms since the Unix epoch on the backend's clock.
    pub fn at_ms(&self) -> u64 {
        self.cursor.entry.ms
    }

    /// True for the events after which the job does not run again unless retried by hand.
    pub fn is_final(&self) -> bool {
        matches!(
            self.kind,
            EventKind::Succeeded | EventKind::Dead { .. } | EventKind::Cancelled
        )
    }
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// Stored (ready or scheduled).
    Enqueued,
    /// Leased to a worker.
    Started,
    /// Reported progress (coalesced: not every report becomes an event).
    Progress {
        /// 0 to 100.
        percent: u8,
        /// The job's message.
        message: String,
    },
    /// Succeeded; the result, if kept, is on the record.
    Succeeded,
    /// An attempt failed with this error chain; `Retrying` or `Dead` follows.
    Failed {
        /// The error chain.
        error: String,
    },
    /// It will run again: after a failed attempt, or after its lease expired.
    Retrying {
        /// Why it runs again.
        reason: String,
    },
    /// Failed for good: in the dead set.
    Dead {
        /// Why.
        reason: String,
    },
    /// Cancelled: it will not run (again).
    Cancelled,
}

impl EventKind {
    /// The kind's wire name, as backends store it.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Enqueued => "enqueued",
            EventKind::Started => "started",
            EventKind::Progress { .. } => "progress",
            EventKind::Succeeded => "succeeded",
            EventKind::Failed { .. } => "failed",
            EventKind::Retrying { .. } => "retrying",
            EventKind::Dead { .. } => "dead",
            EventKind::Cancelled => "cancelled",
        }
    }

    /// Rebuilds a kind from its wire name and per-job data; `None` for a name this version
    /// does not know (written by a newer one), which readers skip.
    pub fn from_wire(name: &str, data: String) -> Option<Self> {
        Some(match name {
            "enqueued" => EventKind::Enqueued,
            "started" => EventKind::Started,
            "progress" => {
                let (percent, message) = data.split_once(' ').unwrap_or((&data, ""));
                EventKind::Progress {
                    percent: percent.parse().ok()?,
                    message: message.to_owned(),
                }
            }
            "succeeded" => EventKind::Succeeded,
            "failed" => EventKind::Failed { error: data },
            "retrying" => EventKind::Retrying { reason: data },
            "dead" => EventKind::Dead { reason: data },
            "cancelled" => EventKind::Cancelled,
            _ => return None,
        })
    }

    /// The per-job data stored with the kind.
    pub fn data(&self) -> String {
        match self {
            EventKind::Progress { percent, message } => format!("{percent} {message}"),
            EventKind::Failed { error } => error.clone(),
            EventKind::Retrying { reason } | EventKind::Dead { reason } => reason.clone(),
            _ => String::new(),
        }
    }
}
