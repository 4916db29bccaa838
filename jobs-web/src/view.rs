//! The wire format of the JSON API: views of the store's types, snake_case, ids as
//! strings, arguments and results decoded as JSON values when they parse.

use jobs_core::{BatchMember, BatchStatus, Event, EventKind, JobInfo, JobState, QueueStats};
use serde::Serialize;
use serde_json::Value;

/// The states a page of jobs can be asked for (where jobs are kept: cancelled and expired
/// ones are listed with the dead).
pub(crate) fn parse_listed_state(name: &str) -> Option<JobState> {
    let state: JobState = name.parse().ok()?;
    (jobs_core::backend::listed_state(state) == state).then_some(state)
}

/// Stored bytes as JSON: the value when they parse, else the text they hold.
fn decoded(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

#[derive(Serialize)]
pub(crate) struct QueueView {
    pub(crate) name: String,
    pub(crate) paused: bool,
    pub(crate) scheduled: u64,
    pub(crate) ready: u64,
    pub(crate) active: u64,
    pub(crate) succeeded: u64,
    pub(crate) dead: u64,
    pub(crate) orphaned: u64,
}

impl QueueView {
    pub(crate) fn new(name: String, stats: QueueStats) -> Self {
        QueueView {
            name,
            paused: stats.paused,
            scheduled: stats.scheduled,
            ready: stats.ready,
            active: stats.active,
            succeeded: stats.succeeded,
            dead: stats.dead,
            orphaned: stats.orphaned,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ProgressView {
    percent: u8,
    message: String,
}

/// A job as pages list it, and as its detail shows it (with `events`).
#[derive(Serialize)]
pub(crate) struct JobView {
    id: String,
    name: String,
    queue: String,
    state: &'static str,
    args: Value,
    priority: i8,
    attempts: u32,
    max_attempts: u32,
    deliveries: u32,
    stalls: u32,
    created_at_ms: u64,
    run_at_ms: Option<u64>,
    lease_expires_at_ms: Option<u64>,
    finished_at_ms: Option<u64>,
    error: Option<String>,
    result: Option<Value>,
    progress: Option<ProgressView>,
    /// The batch it belongs to, if any.
    batch: Option<String>,
}

impl From<JobInfo> for JobView {
    fn from(job: JobInfo) -> Self {
        JobView {
            id: job.id.to_string(),
            state: job.state.name(),
            args: decoded(&job.payload),
            priority: job.priority,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            deliveries: job.deliveries,
            stalls: job.stalls,
            created_at_ms: job.created_at_ms,
            run_at_ms: job.run_at_ms,
            lease_expires_at_ms: job.lease_expires_at_ms,
            finished_at_ms: job.finished_at_ms,
            error: job.last_error,
            result: job.result.as_deref().map(decoded),
            progress: job.progress.map(|p| ProgressView {
                percent: p.percent,
                message: p.message,
            }),
            batch: job.batch.map(|b| b.to_string()),
            name: job.name,
            queue: job.queue,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct JobPageView {
    pub(crate) jobs: Vec<JobView>,
    /// The next page's cursor (`after=`), `None` at the end.
    pub(crate) next: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct EventView {
    at_ms: u64,
    kind: &'static str,
    /// The error, reason or progress message, if the kind has one.
    detail: Option<String>,
    percent: Option<u8>,
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> Self {
        let percent = match &event.kind {
            EventKind::Progress { percent, .. } => Some(*percent),
            _ => None,
        };
        let data = match &event.kind {
            EventKind::Progress { message, .. } => message.clone(),
            other => other.data(),
        };
        EventView {
            at_ms: event.at_ms(),
            kind: event.kind.name(),
            detail: (!data.is_empty()).then_some(data),
            percent,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct JobDetailView {
    #[serde(flatten)]
    pub(crate) job: JobView,
    /// Its events, oldest first, as far as the queue's stream still holds them and the
    /// scan reached.
    pub(crate) events: Vec<EventView>,
    /// False when the scan stopped before the end of the stream (a busy queue): later
    /// events may be missing.
    pub(crate) events_complete: bool,
}

#[derive(Serialize)]
pub(crate) struct BatchView {
    id: String,
    total: u64,
    pending: u64,
    running: u64,
    succeeded: u64,
    dead: u64,
    finished: bool,
    paused: bool,
    members: Vec<MemberView>,
    /// The next page's `offset`, `None` at the end.
    next_offset: Option<usize>,
}

impl BatchView {
    pub(crate) fn new(
        status: BatchStatus,
        members: Vec<BatchMember>,
        next_offset: Option<usize>,
    ) -> Self {
        BatchView {
            id: status.id.to_string(),
            total: status.total,
            pending: status.pending,
            running: status.running,
            succeeded: status.succeeded,
            dead: status.dead,
            finished: status.finished,
            paused: status.paused,
            members: members.into_iter().map(MemberView::from).collect(),
            next_offset,
        }
    }
}

/// A batch member: its record, or only its id and queue once retention removed it.
#[derive(Serialize)]
pub(crate) struct MemberView {
    id: String,
    queue: String,
    job: Option<JobView>,
}

impl From<BatchMember> for MemberView {
    fn from(member: BatchMember) -> Self {
        MemberView {
            id: member.id.to_string(),
            queue: member.queue,
            job: member.info.map(JobView::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_decode_as_json_or_text() {
        assert_eq!(decoded(br#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(decoded(b"not json"), Value::String("not json".into()));
    }
}
