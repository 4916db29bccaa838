//! Run with: `cargo run --example worker` (start as many as you like, on any machine)
//!
//! The worker daemon of the two-process example: takes disk-format jobs from Redis
//! (`REDIS_URL`, default `redis://127.0.0.1:6379`) and runs up to `--concurrency` at once,
//! until ctrl-c or SIGTERM, then shuts down gracefully. Enqueue with
//! `cargo run --example enqueue`.

#[path = "shared/disks.rs"]
mod disks;

use std::time::Duration;

use clap::Parser;
use disks::{FormatDisk, NodeRpc};
use jobs_core::{Client, Worker};
use jobs_redis::RedisBackend;

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
    Worker::builder(Client::new(backend))
        .register::<FormatDisk>()
        .data(NodeRpc {
            latency: Duration::from_millis(args.rpc_ms),
        })
        .concurrency(args.concurrency)
        .build()
        .run()
        .await?;
    Ok(())
}
