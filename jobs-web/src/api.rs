//! The routes: the pages and their assets, and the JSON API under `api/` (the table in the
//! crate docs lists it).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jobs_core::event::EntryId;
use jobs_core::{
    BATCH_PAGE_MAX, Backend, BackendError, BatchId, Client, Deleted, EventCursor, JobId, JobState,
    LIST_PAGE_MAX, ListCursor, MinuteCounts, THROUGHPUT_MINUTES, WorkerInfo,
    backend::CancelOutcome, validate_queue_name,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::refuse;
use crate::view::{
    BatchView, EventView, JobDetailView, JobPageView, JobView, QueueView, parse_listed_state,
};

/// Jobs per page when the request does not say.
const DEFAULT_PAGE: usize = 50;
/// Batch members per page when the request does not say.
const DEFAULT_BATCH_PAGE: usize = 100;
/// A job's events are looked for in its queue's stream from its enqueue time, less this
/// (the record's and the stream's clocks may differ a little).
const EVENT_CLOCK_SLACK_MS: u64 = 5_000;
/// Stream entries read per call when looking for a job's events.
const EVENT_SCAN_ENTRIES: usize = 500;
/// Calls at most per job detail: the scan is bounded on a busy queue.
const EVENT_SCAN_READS: usize = 20;
/// Events kept per job detail: the most recent.
const EVENTS_MAX: usize = 200;

/// The handlers' shared state.
pub(crate) struct App<B> {
    pub(crate) client: Client<B>,
    pub(crate) read_only: bool,
}

type Shared<B> = Arc<App<B>>;

/// An error answer: a status and a message, sent as `{"error": message}`.
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        refuse(self.0, &self.1)
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        tracing::warn!(error = %e, "dashboard: store call failed");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, message.into())
}

type ApiResult<T = Value> = Result<Json<T>, ApiError>;

pub(crate) fn routes<B: Backend>(state: Shared<B>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
        .route("/api/config", get(config::<B>))
        .route("/api/queues", get(queues::<B>))
        .route("/api/throughput", get(throughput_all::<B>))
        .route("/api/workers", get(workers::<B>))
        .route("/api/queues/{queue}", get(queue::<B>))
        .route("/api/queues/{queue}/throughput", get(throughput::<B>))
        .route("/api/queues/{queue}/jobs", get(list::<B>))
        .route("/api/queues/{queue}/jobs/{id}", get(job::<B>))
        .route("/api/queues/{queue}/jobs/{id}/retry", post(retry_one::<B>))
        .route(
            "/api/queues/{queue}/jobs/{id}/delete",
            post(delete_one::<B>),
        )
        .route("/api/queues/{queue}/jobs/{id}/cancel", post(cancel::<B>))
        .route("/api/queues/{queue}/retry", post(retry_many::<B>))
        .route("/api/queues/{queue}/delete", post(delete_many::<B>))
        .route("/api/queues/{queue}/purge", post(purge::<B>))
        .route("/api/queues/{queue}/pause", post(pause::<B>))
        .route("/api/queues/{queue}/resume", post(resume::<B>))
        .route("/api/batches/{id}", get(batch::<B>))
        .route("/api/batches/{id}/pause", post(batch_pause::<B>))
        .route("/api/batches/{id}/resume", post(batch_resume::<B>))
        .route("/api/batches/{id}/cancel", post(batch_cancel::<B>))
        .with_state(state)
}

/// The page. Its links and requests are relative to the dashboard's root: `""` when the
/// page is served at a path ending in `/`, else the path's last segment and a `/` (mounted
/// with `.nest("/jobs", ..)`, the page is `/jobs` and its script `jobs/assets/app.js`).
async fn index(OriginalUri(uri): OriginalUri) -> Response {
    let root = match uri.path().rsplit_once('/') {
        Some((_, "")) | None => String::new(),
        Some((_, last)) => format!("{}/", escape_attribute(last)),
    };
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::response::Html(crate::assets::INDEX.replace("{{root}}", &root)),
    )
        .into_response()
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn asset(Path(file): Path<String>) -> Response {
    match crate::assets::get(&file) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The query string's parameters (the last one of each name wins).
fn params(query: Option<String>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A number parameter, `default` when absent, clamped to `min..=max`.
fn number(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map(|n| n.clamp(min, max))
            .map_err(|_| bad_request(format!("{name} must be a number, not {v:?}"))),
    }
}

fn checked_queue(queue: &str) -> Result<(), ApiError> {
    validate_queue_name(queue).map_err(|e| bad_request(e.to_string()))
}

fn job_id(id: &str) -> Result<JobId, ApiError> {
    id.parse()
        .map_err(|_| not_found(format!("{id:?} is not a job id")))
}

fn batch_id(id: &str) -> Result<BatchId, ApiError> {
    id.parse()
        .map_err(|_| not_found(format!("{id:?} is not a batch id")))
}

async fn config<B: Backend>(State(app): State<Shared<B>>) -> ApiResult {
    Ok(Json(json!({ "read_only": app.read_only })))
}

async fn queues<B: Backend>(State(app): State<Shared<B>>) -> ApiResult<Vec<QueueView>> {
    let mut out = Vec::new();
    for name in app.client.queues().await? {
        let stats = app.client.stats(&name).await?;
        out.push(QueueView::new(name, stats));
    }
    Ok(Json(out))
}

async fn queue<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
) -> ApiResult<QueueView> {
    checked_queue(&queue)?;
    let stats = app.client.stats(&queue).await?;
    Ok(Json(QueueView::new(queue, stats)))
}

fn minutes(query: Option<String>) -> Result<u32, ApiError> {
    let max = THROUGHPUT_MINUTES as usize;
    Ok(number(&params(query), "minutes", max, 1, max)? as u32)
}

async fn throughput<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Vec<MinuteCounts>> {
    checked_queue(&queue)?;
    let minutes = minutes(query)?;
    let counts = app.client.throughput(&queue, minutes).await?;
    Ok(Json(counts))
}

/// Every queue's throughput, summed minute by minute.
async fn throughput_all<B: Backend>(
    State(app): State<Shared<B>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Vec<MinuteCounts>> {
    let minutes = minutes(query)?;
    let mut sum: BTreeMap<u64, MinuteCounts> = BTreeMap::new();
    for name in app.client.queues().await? {
        for m in app.client.throughput(&name, minutes).await? {
            let slot = sum
                .entry(m.minute_ms)
                .or_insert(MinuteCounts::new(m.minute_ms, 0, 0));
            slot.succeeded += m.succeeded;
            slot.failed += m.failed;
            slot.stalled += m.stalled;
        }
    }
    // Each queue reports the same minutes, up to a minute turning between two calls.
    let skip = sum.len().saturating_sub(minutes as usize);
    Ok(Json(sum.into_values().skip(skip).collect()))
}

async fn list<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<JobPageView> {
    checked_queue(&queue)?;
    let params = params(query);
    let state_text = params.get("state").map_or("ready", String::as_str);
    let state = parse_listed_state(state_text).ok_or_else(|| {
        bad_request(format!(
            "state must be scheduled, ready, active, succeeded or dead, not {state_text:?}"
        ))
    })?;
    let limit = number(&params, "limit", DEFAULT_PAGE, 1, LIST_PAGE_MAX)?;
    let after = match params.get("after").filter(|a| !a.is_empty()) {
        Some(a) => Some(
            a.parse::<ListCursor>()
                .map_err(|e| bad_request(e.to_string()))?,
        ),
        None => None,
    };
    let page = app.client.list_jobs(&queue, state, after, limit).await?;
    Ok(Json(JobPageView {
        jobs: page.jobs.into_iter().map(JobView::from).collect(),
        next: page.next.map(|c| c.to_string()),
    }))
}

async fn job<B: Backend>(
    State(app): State<Shared<B>>,
    Path((queue, id)): Path<(String, String)>,
) -> ApiResult<JobDetailView> {
    checked_queue(&queue)?;
    let id = job_id(&id)?;
    let Some(info) = app.client.job(&queue, id).await? else {
        return Err(not_found(format!("no job {id} in queue {queue}")));
    };
    // The stream is per queue and read forward only: scan it from the job's enqueue,
    // a bounded number of reads, keeping this job's events.
    let start = info.created_at_ms.saturating_sub(EVENT_CLOCK_SLACK_MS);
    let mut after = Some(EventCursor {
        entry: EntryId { ms: start, seq: 0 },
        index: 0,
    });
    let mut events = Vec::new();
    let mut complete = false;
    for _ in 0..EVENT_SCAN_READS {
        let got = app
            .client
            .backend()
            .read_events(&queue, after.clone(), EVENT_SCAN_ENTRIES, Duration::ZERO)
            .await?;
        let Some(last) = got.last() else {
            complete = true;
            break;
        };
        after = Some(last.cursor.clone());
        events.extend(got.iter().filter(|e| e.job == id).map(EventView::from));
    }
    let skip = events.len().saturating_sub(EVENTS_MAX);
    events.drain(..skip);
    Ok(Json(JobDetailView {
        job: JobView::from(info),
        events,
        events_complete: complete,
    }))
}

async fn retry_one<B: Backend>(
    State(app): State<Shared<B>>,
    Path((queue, id)): Path<(String, String)>,
) -> ApiResult {
    checked_queue(&queue)?;
    let id = job_id(&id)?;
    match app.client.retry_dead(&queue, &[id]).await? {
        0 => Err(ApiError(
            StatusCode::CONFLICT,
            format!("job {id} is not dead (nor cancelled, nor expired)"),
        )),
        n => Ok(Json(json!({ "retried": n }))),
    }
}

async fn delete_one<B: Backend>(
    State(app): State<Shared<B>>,
    Path((queue, id)): Path<(String, String)>,
) -> ApiResult {
    checked_queue(&queue)?;
    let id = job_id(&id)?;
    match app.client.delete_jobs(&queue, &[id]).await?.first() {
        Some(Deleted::Deleted) => Ok(Json(json!({ "deleted": 1 }))),
        Some(Deleted::Running) => Err(ApiError(
            StatusCode::CONFLICT,
            format!("job {id} is running: cancel it first"),
        )),
        _ => Err(not_found(format!("no job {id} in queue {queue}"))),
    }
}

async fn cancel<B: Backend>(
    State(app): State<Shared<B>>,
    Path((queue, id)): Path<(String, String)>,
) -> ApiResult {
    checked_queue(&queue)?;
    let id = job_id(&id)?;
    let outcome = match app.client.cancel(&queue, id).await? {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => "requested",
        CancelOutcome::Finished => "finished",
        CancelOutcome::NotFound => return Err(not_found(format!("no job {id} in queue {queue}"))),
        _ => "unknown",
    };
    Ok(Json(json!({ "outcome": outcome })))
}

/// Which jobs a bulk call is about: `ids`, or `all` of them.
#[derive(Deserialize)]
struct Selection {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    all: bool,
}

impl Selection {
    fn ids(&self) -> Result<Vec<JobId>, ApiError> {
        self.ids
            .iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| bad_request(format!("{id:?} is not a job id")))
            })
            .collect()
    }
}

async fn retry_many<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
    Json(selection): Json<Selection>,
) -> ApiResult {
    checked_queue(&queue)?;
    let retried = if selection.all {
        app.client.retry_dead_where(&queue, None).await?
    } else {
        app.client.retry_dead(&queue, &selection.ids()?).await?
    };
    Ok(Json(json!({ "retried": retried })))
}

async fn delete_many<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
    Json(selection): Json<Selection>,
) -> ApiResult {
    checked_queue(&queue)?;
    if selection.all {
        return Err(bad_request(
            "to delete every job in a state, use purge with {\"state\": ...}",
        ));
    }
    let (mut deleted, mut running, mut not_found) = (0, 0, 0);
    for outcome in app.client.delete_jobs(&queue, &selection.ids()?).await? {
        match outcome {
            Deleted::Deleted => deleted += 1,
            Deleted::Running => running += 1,
            _ => not_found += 1,
        }
    }
    Ok(Json(
        json!({ "deleted": deleted, "running": running, "not_found": not_found }),
    ))
}

#[derive(Deserialize)]
struct PurgeRequest {
    state: String,
}

async fn purge<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
    Json(request): Json<PurgeRequest>,
) -> ApiResult {
    checked_queue(&queue)?;
    let state = parse_listed_state(&request.state)
        .filter(|s| *s != JobState::Active)
        .ok_or_else(|| {
            bad_request(format!(
                "state must be scheduled, ready, succeeded or dead, not {:?}",
                request.state
            ))
        })?;
    let deleted = app.client.purge(&queue, state).await?;
    Ok(Json(json!({ "deleted": deleted, "state": state.name() })))
}

async fn pause<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
) -> ApiResult<QueueView> {
    checked_queue(&queue)?;
    app.client.pause(&queue).await?;
    let stats = app.client.stats(&queue).await?;
    Ok(Json(QueueView::new(queue, stats)))
}

async fn resume<B: Backend>(
    State(app): State<Shared<B>>,
    Path(queue): Path<String>,
) -> ApiResult<QueueView> {
    checked_queue(&queue)?;
    app.client.resume(&queue).await?;
    let stats = app.client.stats(&queue).await?;
    Ok(Json(QueueView::new(queue, stats)))
}

async fn batch<B: Backend>(
    State(app): State<Shared<B>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<BatchView> {
    let id = batch_id(&id)?;
    let params = params(query);
    let offset = number(&params, "offset", 0, 0, usize::MAX)?;
    let limit = number(&params, "limit", DEFAULT_BATCH_PAGE, 1, BATCH_PAGE_MAX)?;
    let Some(status) = app.client.batch_status(id).await? else {
        return Err(not_found(format!("no batch {id}")));
    };
    let members = app.client.batch_jobs(id, offset, limit).await?;
    let next = (members.len() == limit).then_some(offset + limit);
    Ok(Json(BatchView::new(status, members, next)))
}

async fn batch_pause<B: Backend>(
    State(app): State<Shared<B>>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = batch_id(&id)?;
    if !app.client.pause_batch(id).await? {
        return Err(not_found(format!("no batch {id}")));
    }
    Ok(Json(json!({ "paused": true })))
}

async fn batch_resume<B: Backend>(
    State(app): State<Shared<B>>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = batch_id(&id)?;
    if !app.client.resume_batch(id).await? {
        return Err(not_found(format!("no batch {id}")));
    }
    Ok(Json(json!({ "paused": false })))
}

async fn batch_cancel<B: Backend>(
    State(app): State<Shared<B>>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = batch_id(&id)?;
    if app.client.batch_status(id).await?.is_none() {
        return Err(not_found(format!("no batch {id}")));
    }
    let (cancelled, requested) = app.client.cancel_batch(id).await?;
    Ok(Json(
        json!({ "cancelled": cancelled, "requested": requested }),
    ))
}

async fn workers<B: Backend>(State(app): State<Shared<B>>) -> ApiResult<Vec<WorkerInfo>> {
    let workers = app.client.workers().await?;
    Ok(Json(workers))
}
