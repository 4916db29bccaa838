//! The cluster-operations example: the jobs shared by the web application (`ops-web`,
//! which enqueues them) and the worker (`ops-worker`, which runs them).
//!
//! - [`FormatDisk`]: formats one disk of one server by running a command for it (here
//!   `scripts/format-disk.sh`, standing in for an RPC to the node) and forwards the
//!   command's progress lines as job progress. Its limit key is the host: with the limits
//!   `ops-worker` stores for the [`DISKS`] queue, at most `--max-formats` formats run at
//!   once across all workers, and one at a time per host.
//! - [`OperationDone`]: the batch's completion callback: tells the web application, over
//!   HTTP, how the operation ended.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use jobs_core::{BatchSummary, Data, JobContext, JobError, job};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The queue of the format jobs, and of nothing else: its limits (see `ops-worker
/// --max-formats`) then count formats only.
pub const DISKS: &str = "disks";
/// The queue of the callbacks.
pub const CALLBACKS: &str = "callbacks";

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// The Redis backend both binaries use, under `prefix`.
pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<jobs_redis::RedisBackend> {
    use anyhow::Context as _;
    jobs_redis::RedisBackend::builder(url)
        .prefix(prefix)
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// How the worker runs the node command.
#[derive(Debug, Clone)]
pub struct NodeCommand {
    /// The program: called as `program HOST DEVICE`.
    pub program: PathBuf,
}

impl NodeCommand {
    /// The script shipped with the example.
    pub fn shipped() -> Self {
        NodeCommand {
            program: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/format-disk.sh"),
        }
    }
}

/// What formatting one disk produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Formatted {
    /// The server.
    pub host: String,
    /// The disk.
    pub device: String,
    /// The new filesystem's id, as the node reported it.
    pub filesystem: String,
    /// False when the node found the disk already formatted (a re-run after a crash).
    pub formatted_now: bool,
}

/// Partitions and formats `device` on `host`. Retried on failure (a node that is down
/// now may be up later), up to 3 attempts.
///
/// The host is the job's limit key: under the [`DISKS`] queue's `per_key(1)` limit, a
/// host listed in two operations at once has its disks formatted one after the other,
/// while the other hosts' formats go on.
#[job(
    queue = "disks",
    limit_key = "host",
    max_attempts = 3,
    backoff = "exponential(1s, 30s)",
    timeout = "30m"
)]
pub async fn format_disk(
    host: String,
    device: String,
    node: Data<NodeCommand>,
    ctx: JobContext,
) -> Result<Formatted, JobError> {
    let mut child = tokio::process::Command::new(&node.program)
        .arg(&host)
        .arg(&device)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A job stopped by a timeout or shutdown stops its command too.
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| JobError::permanent(format!("cannot run {}: {e}", node.program.display())))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut stderr = child.stderr.take().expect("piped");
    let mut result = None;
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line.map_err(JobError::retry)?,
            _ = ctx.cancelled() => {
                let _ = child.kill().await;
                return Err(JobError::permanent(format!("stopped ({:?})", ctx.cancel_reason())));
            }
        };
        let Some(line) = line else { break };
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("PROGRESS"), Some(pct), rest) => {
                let pct = pct.parse().unwrap_or(0);
                ctx.progress(pct, rest.unwrap_or_default());
            }
            (Some("FORMATTED"), Some(id), _) => result = Some((id.to_owned(), true)),
            (Some("ALREADY"), Some(id), _) => result = Some((id.to_owned(), false)),
            _ => {}
        }
    }
    let status = child.wait().await.map_err(JobError::retry)?;
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err).await;
    match (status.success(), result) {
        (true, Some((filesystem, formatted_now))) => Ok(Formatted {
            host,
            device,
            filesystem,
            formatted_now,
        }),
        _ => Err(JobError::retry(format!(
            "format of {device} on {host} failed ({status}): {}",
            err.trim()
        ))),
    }
}

/// What the web application receives when an operation has ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationReport {
    /// The operation (the batch id).
    pub operation: String,
    /// How its jobs ended.
    pub summary: BatchSummary,
}

/// The batch callback: posts the summary to the web application. Retried until the web
/// application answers 2xx.
#[job(
    queue = "callbacks",
    max_attempts = 20,
    backoff = "exponential(1s, 1m)"
)]
pub async fn operation_done(
    operation: String,
    callback_url: String,
    batch: BatchSummary,
) -> Result<(), JobError> {
    let body = serde_json::to_vec(&OperationReport {
        operation,
        summary: batch,
    })
    .map_err(JobError::permanent)?;
    let request = hyper::Request::post(&callback_url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(JobError::permanent)?;
    let client = HttpClient::builder(TokioExecutor::new()).build_http();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| JobError::retry(format!("no answer from {callback_url} in 10 s")))?
        .map_err(JobError::retry)?;
    let status = response.status();
    if !status.is_success() {
        let body = response.into_body().collect().await.map(|b| b.to_bytes());
        return Err(JobError::retry(format!(
            "{callback_url} answered {status}: {}",
            body.map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        )));
    }
    Ok(())
}
