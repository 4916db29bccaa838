//! Run with: `cargo run --example quickstart`
//!
//! Defines a job with `#[job]`, enqueues a few, runs a worker until they are done, and
//! prints what happened. Runs on the in-memory backend: nothing to install.

use std::time::Duration;

use anyhow::Context as _;
use jobs_core::{Client, Data, JobContext, JobError, JobState, MemoryBackend, Worker, job};
use serde::{Deserialize, Serialize};

/// Stands in for the RPC client that runs a command on a node.
struct NodeRpc;

impl NodeRpc {
    async fn run(&self, host: &str, command: &str, attempt: u32) -> Result<String, std::io::Error> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // One node drops the connection on the first try, to show a retry.
        if host == "node-3" && attempt == 1 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by node-3",
            ));
        }
        Ok(format!("{host}: `{command}` done"))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct FormatReport {
    host: String,
    output: String,
}

/// Partition and format one disk on one node.
#[job(
    queue = "disks",
    max_attempts = 3,
    backoff = "fixed(300ms)",
    timeout = "2h"
)]
async fn format_disk(
    host: String,
    device: String,
    rpc: Data<NodeRpc>,
    ctx: JobContext,
) -> Result<FormatReport, JobError> {
    println!(
        "  [{host}] attempt {} of {}: formatting {device}",
        ctx.attempt(),
        ctx.max_attempts()
    );
    let output = rpc
        .run(&host, &format!("mkfs.ext4 {device}"), ctx.attempt())
        .await?;
    Ok(FormatReport { host, output })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    println!("backend: in-memory (jobs live in this process only)");
    let client = Client::new(MemoryBackend::new());

    // What a web handler does: enqueue and return at once with the ids.
    let hosts = (1..=5).map(|i| format!("node-{i}"));
    let mut ids = client
        .enqueue_many(hosts.map(|host| FormatDisk {
            host,
            device: "/dev/sdb".into(),
        }))
        .await
        .context("enqueue")?;
    let late = FormatDisk {
        host: "node-6".into(),
        device: "/dev/sdc".into(),
    };
    ids.push(client.enqueue(late).delay(Duration::from_secs(1)).await?);
    println!("enqueued {} jobs (one delayed by 1 s)", ids.len());

    // What a worker daemon does: run them, many at once.
    let worker = Worker::builder(client.clone())
        .register::<FormatDisk>()
        .data(NodeRpc)
        .concurrency(4)
        .build();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));

    // An example may poll; an application would use the job's id later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = client.stats("disks").await?;
        if stats.ready + stats.scheduled + stats.active == 0 {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "jobs did not finish in 30 s: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    running.await??;

    println!("results:");
    for id in ids {
        let info = client.job("disks", id).await?.context("job record")?;
        let result = info
            .result
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        println!(
            "  {id} {:?} after {} attempt(s): {result}",
            info.state, info.attempts
        );
        anyhow::ensure!(
            info.state == JobState::Succeeded,
            "job {id} did not succeed: {:?}",
            info.last_error
        );
    }
    println!("all done");
    Ok(())
}
