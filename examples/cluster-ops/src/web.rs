//! `ops-web`: the web application. Run: `cargo run -p cluster-ops --bin ops-web`.
//!
//! - `POST /operations` `{"hosts": ["node-1", ...], "device": "/dev/sdb"}`: enqueues one
//!   format job per host as a batch and answers `202 {"operation": "<id>"}` at once. The
//!   formats then run within the workers' limits (`ops-worker --max-formats` at once
//!   across the fleet, one at a time per host, whatever the operation): a host in two
//!   operations at once waits for its first format to end before its second starts.
//! - `GET /operations/{id}?offset=0&limit=1000`: the batch's counts (one call, whatever
//!   the number of hosts), whether it is `paused`, and a page of hosts with their state
//!   and progress, in the order they were given (`next_offset` names the next page).
//! - `POST /operations/{id}/pause`: pauses the operation's remaining hosts on every
//!   worker: no format of it starts until it is resumed; the formats already running end
//!   as usual, and other operations go on. Kept in Redis, so it survives restarts of the
//!   web application and the workers. Answers `200 {"operation": id, "paused": true}`,
//!   or 404 for an unknown operation.
//! - `POST /operations/{id}/resume`: lets the operation's waiting hosts start again, within
//!   the workers' limits. Answers `200 {"operation": id, "paused": false}`, or 404.
//! - `POST /callbacks/operations/{id}`: called by the batch's callback job when every host
//!   has ended; the operation is then recorded as done.
//! - `GET /jobs`: the jobs dashboard (`jobs-web`, read-only), mounted in this application.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use cluster_ops::{FormatDisk, OperationDone, OperationReport};
use jobs_core::{BATCH_PAGE_MAX, BatchId, BatchSummary, Client, JobState};
use jobs_redis::RedisBackend;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The cluster operations' web application: formats the disks of many servers through
/// background jobs run by `ops-worker`.
///
/// POST /operations {"hosts": [...], "device": "/dev/sdb"} starts an operation (202
/// {"operation": id}); GET /operations/{id} shows its counts, whether it is paused, and
/// its hosts; POST /operations/{id}/pause stops its remaining hosts from starting on any
/// worker (running formats end) until POST /operations/{id}/resume.
#[derive(Parser)]
struct Args {
    /// Redis to keep the jobs in.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Key prefix in Redis.
    #[arg(long, env = "JOBS_PREFIX", default_value = "ops")]
    prefix: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// How workers reach this application for callbacks (default: http://LISTEN).
    #[arg(long)]
    public_url: Option<String>,
}

struct App {
    client: Client<RedisBackend>,
    public_url: String,
    /// Operations reported done by their callback: the report, and how many times it came.
    done: Mutex<HashMap<String, (OperationReport, u32)>>,
}

type Shared = Arc<App>;

#[derive(Deserialize)]
struct NewOperation {
    hosts: Vec<String>,
    device: String,
}

/// Which hosts of an operation to show: `offset=N&limit=N` (default: the first
/// [`BATCH_PAGE_MAX`]).
struct Page {
    offset: usize,
    limit: usize,
}

impl Page {
    fn parse(query: Option<&str>) -> Result<Page, (StatusCode, String)> {
        let mut page = Page {
            offset: 0,
            limit: BATCH_PAGE_MAX,
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "offset" => &mut page.offset,
                "limit" => &mut page.limit,
                _ => continue,
            };
            *slot = value.parse().map_err(|_| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("{name} must be a number, not {value:?}"),
                )
            })?;
        }
        page.limit = page.limit.clamp(1, BATCH_PAGE_MAX);
        Ok(page)
    }
}

#[derive(Serialize)]
struct HostView {
    host: String,
    job: String,
    state: &'static str,
    progress: Option<u8>,
    message: Option<String>,
    attempts: u32,
    deliveries: u32,
    error: Option<String>,
}

type Reply = Result<(StatusCode, Json<serde_json::Value>), (StatusCode, String)>;

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn create(State(app): State<Shared>, Json(op): Json<NewOperation>) -> Reply {
    if op.hosts.is_empty() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "no hosts".into()));
    }
    let batch = BatchId::new();
    let done = OperationDone {
        operation: batch.to_string(),
        callback_url: format!("{}/callbacks/operations/{batch}", app.public_url),
        batch: BatchSummary::default(),
    };
    let device = op.device;
    let (batch, jobs) = app
        .client
        .batch()
        .id(batch)
        .jobs(op.hosts.into_iter().map(|host| FormatDisk {
            host,
            device: device.clone(),
        }))
        .on_complete(done)
        .enqueue()
        .await
        .map_err(internal)?;
    tracing::info!(operation = %batch, hosts = jobs.len(), "operation accepted");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "operation": batch.to_string(), "jobs": jobs.len() })),
    ))
}

fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Scheduled => "scheduled",
        JobState::Ready => "waiting",
        JobState::Active => "running",
        JobState::Succeeded => "formatted",
        JobState::Dead => "failed",
        JobState::Cancelled => "cancelled",
        _ => "unknown",
    }
}

async fn show(
    State(app): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Reply {
    let page = Page::parse(query.as_deref())?;
    let batch: BatchId = id
        .parse()
        .map_err(|_| (StatusCode::NOT_FOUND, "no such operation".into()))?;
    // Done first: once the callback came, every state read after it is final.
    let done = app.done.lock().unwrap().get(&id).cloned();
    let Some(status) = app.client.batch_status(batch).await.map_err(internal)? else {
        return Err((StatusCode::NOT_FOUND, "no such operation".into()));
    };
    let members = app
        .client
        .batch_jobs(batch, page.offset, page.limit)
        .await
        .map_err(internal)?;
    let next_offset = (members.len() == page.limit).then_some(page.offset + page.limit);
    let mut hosts = Vec::with_capacity(members.len());
    for member in members {
        let Some(info) = member.info else {
            continue;
        };
        let args: FormatDisk = serde_json::from_slice(&info.payload).map_err(internal)?;
        hosts.push(HostView {
            host: args.host,
            job: member.id.to_string(),
            state: state_name(info.state),
            progress: info.progress.as_ref().map(|p| p.percent),
            message: info.progress.map(|p| p.message),
            attempts: info.attempts,
            deliveries: info.deliveries,
            error: (info.state == JobState::Dead)
                .then_some(info.last_error)
                .flatten(),
        });
    }
    Ok((
        StatusCode::OK,
        Json(json!({
            "operation": id,
            "total": status.total,
            "pending": status.pending,
            "running": status.running,
            "succeeded": status.succeeded,
            "dead": status.dead,
            "paused": status.paused,
            "done": done.is_some(),
            "callbacks_received": done.as_ref().map_or(0, |d| d.1),
            "summary": done.map(|d| d.0.summary),
            "offset": page.offset,
            "next_offset": next_offset,
            "hosts": hosts,
        })),
    ))
}

/// Pauses (`paused`) or resumes an operation's batch, for every worker.
async fn set_paused(app: &App, id: String, paused: bool) -> Reply {
    let batch: BatchId = id
        .parse()
        .map_err(|_| (StatusCode::NOT_FOUND, "no such operation".into()))?;
    let known = if paused {
        app.client.pause_batch(batch).await
    } else {
        app.client.resume_batch(batch).await
    }
    .map_err(internal)?;
    if !known {
        return Err((StatusCode::NOT_FOUND, "no such operation".into()));
    }
    tracing::info!(operation = %id, paused, "operation paused or resumed");
    Ok((
        StatusCode::OK,
        Json(json!({ "operation": id, "paused": paused })),
    ))
}

async fn pause(State(app): State<Shared>, Path(id): Path<String>) -> Reply {
    set_paused(&app, id, true).await
}

async fn resume(State(app): State<Shared>, Path(id): Path<String>) -> Reply {
    set_paused(&app, id, false).await
}

async fn callback(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Json(report): Json<OperationReport>,
) -> StatusCode {
    tracing::info!(
        operation = %id,
        succeeded = report.summary.succeeded,
        dead = report.summary.dead,
        "operation done"
    );
    let mut done = app.done.lock().unwrap();
    done.entry(id)
        .and_modify(|d| d.1 += 1)
        .or_insert((report, 1));
    StatusCode::OK
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cluster_ops::init_tracing();
    let args = Args::parse();
    let backend = cluster_ops::connect(&args.redis_url, &args.prefix).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let client = Client::new(backend);
    // The jobs dashboard, mounted in this application at /jobs (read-only here: the
    // operations' own endpoints pause and resume; `jobs web` serves one that can change).
    let dashboard = jobs_web::Dashboard::new(client.clone())
        .read_only(true)
        .router();
    let app = Arc::new(App {
        client,
        public_url: args.public_url.unwrap_or_else(|| format!("http://{addr}")),
        done: Mutex::default(),
    });
    let router = Router::new()
        .route("/operations", post(create))
        .route("/operations/{id}", get(show))
        .route("/operations/{id}/pause", post(pause))
        .route("/operations/{id}/resume", post(resume))
        .route("/callbacks/operations/{id}", post(callback))
        .route("/health", get(|| async { "ok" }))
        .with_state(app)
        .nest("/jobs", dashboard);
    // The address on stdout, for scripts and tests that asked for port 0.
    println!("listening on http://{addr}");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = jobs_core::shutdown_signal().await;
        })
        .await?;
    Ok(())
}
