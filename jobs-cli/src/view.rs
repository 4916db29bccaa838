//! What `--json` prints: the CLI's own serializable shapes, stable across versions of the
//! framework's types. Field names are snake_case, ids are strings, times are ms since the
//! Unix epoch, payloads and results are JSON values when they parse as JSON, else strings.

use jobs_core::event::EventKind;
use jobs_core::{BatchStatus, Event, JobInfo, MinuteCounts, QueueStats, WorkerInfo};
use serde::Serialize;
use serde_json::Value;

/// A job's record (`show`, `list`, `wait`).
#[derive(Debug, Serialize)]
pub struct JobView {
    /// The job's id.
    pub id: String,
    /// The job type's wire name.
    pub name: String,
    /// Its queue.
    pub queue: String,
    /// `scheduled`, `ready`, `active`, `succeeded`, `dead`, `cancelled` or `expired`.
    pub state: &'static str,
    /// Higher runs first.
    pub priority: i8,
    /// Attempts used.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Times handed to a worker.
    pub deliveries: u32,
    /// Times its lease expired while it ran.
    pub stalls: u32,
    /// Enqueued at.
    pub created_at_ms: u64,
    /// Scheduled jobs: ready at.
    pub run_at_ms: Option<u64>,
    /// Running jobs: lease ends at.
    pub lease_expires_at_ms: Option<u64>,
    /// Ended jobs: ended at.
    pub finished_at_ms: Option<u64>,
    /// The arguments.
    pub payload: Value,
    /// The last error chain.
    pub error: Option<String>,
    /// A succeeded job's output.
    pub result: Option<Value>,
    /// The last progress reported.
    pub progress: Option<ProgressView>,
}

/// A job's last progress report.
#[derive(Debug, Serialize)]
pub struct ProgressView {
    /// 0 to 100.
    pub percent: u8,
    /// The job's message.
    pub message: String,
}

/// Bytes as a JSON value if they are JSON, else as a (lossy) string.
pub fn decoded(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl From<&JobInfo> for JobView {
    fn from(job: &JobInfo) -> Self {
        JobView {
            id: job.id.to_string(),
            name: job.name.clone(),
            queue: job.queue.clone(),
            state: job.state.name(),
            priority: job.priority,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            deliveries: job.deliveries,
            stalls: job.stalls,
            created_at_ms: job.created_at_ms,
            run_at_ms: job.run_at_ms,
            lease_expires_at_ms: job.lease_expires_at_ms,
            finished_at_ms: job.finished_at_ms,
            payload: decoded(&job.payload),
            error: job.last_error.clone(),
            result: job.result.as_deref().map(decoded),
            progress: job.progress.as_ref().map(|p| ProgressView {
                percent: p.percent,
                message: p.message.clone(),
            }),
        }
    }
}

/// One page of `list`.
#[derive(Debug, Serialize)]
pub struct PageView {
    /// The queue.
    pub queue: String,
    /// The state listed.
    pub state: &'static str,
    /// The jobs, in the state's order.
    pub jobs: Vec<JobView>,
    /// Pass to `--after` for the next page; `null` at the end.
    pub next: Option<String>,
}

/// One queue in `stats`.
#[derive(Debug, Serialize)]
pub struct QueueView {
    /// The queue.
    pub queue: String,
    /// Waiting for their run-at time.
    pub scheduled: u64,
    /// Waiting for a worker.
    pub ready: u64,
    /// Running.
    pub active: u64,
    /// Succeeded, as retention keeps them.
    pub succeeded: u64,
    /// Dead, cancelled and expired.
    pub dead: u64,
    /// Stored in no state (see `Client::sweep_orphans`).
    pub orphaned: u64,
    /// Paused: no job of it starts.
    pub paused: bool,
    /// Ended jobs over the last 1, 5 and 15 minutes.
    pub throughput: Vec<WindowView>,
}

/// Jobs that ended over the last `minutes` minutes (the current one included).
#[derive(Debug, Serialize)]
pub struct WindowView {
    /// The window's length.
    pub minutes: u32,
    /// Succeeded in it.
    pub succeeded: u64,
    /// Attempts that failed in it.
    pub failed: u64,
    /// Leases that expired in it and were recovered (a worker died or hung mid-job).
    pub stalled: u64,
    /// (succeeded + failed) / minutes.
    pub per_minute: f64,
}

/// The windows `stats` shows, in minutes.
pub const WINDOWS: [u32; 3] = [1, 5, 15];

impl QueueView {
    /// A queue's counts and its throughput (`minutes`: oldest first, at least the largest
    /// window long).
    pub fn new(queue: &str, stats: &QueueStats, minutes: &[MinuteCounts]) -> Self {
        let throughput = WINDOWS
            .iter()
            .map(|&window| {
                let recent = &minutes[minutes.len().saturating_sub(window as usize)..];
                let succeeded = recent.iter().map(|m| m.succeeded).sum();
                let failed = recent.iter().map(|m| m.failed).sum();
                WindowView {
                    minutes: window,
                    succeeded,
                    failed,
                    stalled: recent.iter().map(|m| m.stalled).sum(),
                    per_minute: (succeeded + failed) as f64 / f64::from(window),
                }
            })
            .collect();
        QueueView {
            queue: queue.to_owned(),
            scheduled: stats.scheduled,
            ready: stats.ready,
            active: stats.active,
            succeeded: stats.succeeded,
            dead: stats.dead,
            orphaned: stats.orphaned,
            paused: stats.paused,
            throughput,
        }
    }
}

/// `stats`.
#[derive(Debug, Serialize)]
pub struct StatsView {
    /// One entry per queue.
    pub queues: Vec<QueueView>,
}

/// `workers`.
#[derive(Debug, Serialize)]
pub struct WorkersView {
    /// The live workers, as they registered (`jobs_core::WorkerInfo`'s fields).
    pub workers: Vec<WorkerInfo>,
}

/// One line of `events --json`.
#[derive(Debug, Serialize)]
pub struct EventView {
    /// Resume after this event with `--from`.
    pub cursor: String,
    /// When (the store's clock).
    pub at_ms: u64,
    /// The job.
    pub job: String,
    /// `enqueued`, `started`, `progress`, `succeeded`, `failed`, `retrying`, `dead` or
    /// `cancelled`.
    pub kind: &'static str,
    /// `progress`: 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    /// `progress`: the job's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `failed`: the error chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `retrying`, `dead`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        let mut view = EventView {
            cursor: e.cursor.to_string(),
            at_ms: e.at_ms(),
            job: e.job.to_string(),
            kind: e.kind.name(),
            percent: None,
            message: None,
            error: None,
            reason: None,
        };
        match &e.kind {
            EventKind::Progress { percent, message } => {
                view.percent = Some(*percent);
                view.message = Some(message.clone());
            }
            EventKind::Failed { error } => view.error = Some(error.clone()),
            EventKind::Retrying { reason } | EventKind::Dead { reason } => {
                view.reason = Some(reason.clone())
            }
            _ => {}
        }
        view
    }
}

/// `wait` on a job, at its end.
#[derive(Debug, Serialize)]
pub struct WaitJobView {
    /// The job.
    pub id: String,
    /// How it ended.
    pub state: &'static str,
    /// Its record; `null` when retention kept nothing of it.
    pub job: Option<JobView>,
}

/// `wait --batch`, at its end.
#[derive(Debug, Serialize)]
pub struct BatchView {
    /// The batch.
    pub batch: String,
    /// Members in all.
    pub total: u64,
    /// Members not ended yet.
    pub pending: u64,
    /// Members that succeeded.
    pub succeeded: u64,
    /// Members that ended dead (or cancelled, or expired).
    pub dead: u64,
    /// The first dead members' ids.
    pub dead_jobs: Vec<String>,
    /// Every member ended and the callbacks fired.
    pub finished: bool,
}

impl From<&BatchStatus> for BatchView {
    fn from(b: &BatchStatus) -> Self {
        BatchView {
            batch: b.id.to_string(),
            total: b.total,
            pending: b.pending,
            succeeded: b.succeeded,
            dead: b.dead,
            dead_jobs: b.dead_jobs.iter().map(ToString::to_string).collect(),
            finished: b.finished,
        }
    }
}
