//! Run with: `cargo run --example worker` (start as many as you like, on any machine)
//!
//! The worker daemon of the two-process example: takes disk-format jobs from Redis
//! (`REDIS_URL`, default `redis://127.0.0.1:6379`) and runs up to `--concurrency` at once,
//! until ctrl-c or SIGTERM, then shuts down gracefully. Enqueue with
//! `cargo run --example enqueue`.
//!
//! Operations:
//!
//! - `--burst`: run until the queue has no job ready and none running, then exit;
//! - `--health-listen 127.0.0.1:8081`: `GET /health` answers 200 with the worker's health
//!   as JSON while it is healthy, 503 otherwise;
//! - `--metrics-listen 127.0.0.1:9100`: `GET /metrics` in the Prometheus text format;
//! - `--queue-depths`: this worker refreshes the `jobs_queue_depth` gauges (run it in one
//!   worker only).

#[path = "shared/disks.rs"]
mod disks;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use clap::Parser;
use disks::{FormatDisk, NodeRpc};
use jobs_core::{Client, Worker, WorkerHealth};
use jobs_redis::RedisBackend;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

#[derive(Parser)]
struct Args {
    /// Redis URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Key prefix, shared with the enqueuer.
    #[arg(long, default_value = "example")]
    prefix: String,
    /// Jobs run at once by this process.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long each simulated RPC takes, in ms.
    #[arg(long, default_value_t = 2000)]
    rpc_ms: u64,
    /// Burst mode: exit once no job is ready and none is running.
    #[arg(long)]
    burst: bool,
    /// Serve `GET /health` on this address (200 when healthy, 503 otherwise).
    #[arg(long, value_name = "ADDR")]
    health_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Refresh the queue-depth gauges from this worker (one worker of the fleet only).
    #[arg(long)]
    queue_depths: bool,
    /// Seconds this worker stays in the list of live workers without a beat.
    #[arg(long, default_value_t = 30)]
    registry_ttl_secs: u64,
}

/// Serves `router` on `addr` in the background.
async fn serve(addr: SocketAddr, router: Router, what: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("{what} on http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(())
}

fn health_router(health: WorkerHealth) -> Router {
    Router::new().route(
        "/health",
        get(move || {
            let status = health.status();
            let code = if status.is_healthy() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            std::future::ready((code, axum::Json(status)))
        }),
    )
}

fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new().route("/metrics", get(move || std::future::ready(handle.render())))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    // `build` rather than `connect`: a worker may start before Redis does, and waits for it.
    let backend = RedisBackend::builder(&args.redis_url)
        .prefix(args.prefix)
        .build()?;
    println!(
        "worker {} on Redis {}; ctrl-c to stop",
        std::process::id(),
        args.redis_url
    );
    let client = Client::new(backend);
    if let Some(addr) = args.metrics_listen {
        let handle = PrometheusBuilder::new().install_recorder()?;
        // Histograms are kept in buckets that need draining now and then.
        let upkeep = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        serve(addr, metrics_router(handle), "metrics").await?;
    }
    if args.queue_depths {
        jobs_core::metrics::spawn_queue_depths(client.clone(), None, Duration::from_secs(15));
    }
    let worker = Worker::builder(client)
        .register::<FormatDisk>()
        .data(NodeRpc {
            latency: Duration::from_millis(args.rpc_ms),
        })
        .concurrency(args.concurrency)
        .registry_ttl(Duration::from_secs(args.registry_ttl_secs))
        .build();
    if let Some(addr) = args.health_listen {
        serve(addr, health_router(worker.health()), "health").await?;
    }
    if args.burst {
        worker.run_until_empty().await?;
    } else {
        worker.run().await?;
    }
    Ok(())
}
