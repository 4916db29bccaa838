//! Run with: `cargo run --example quickstart`
//! or, against Redis: `REDIS_URL=redis://127.0.0.1:6379 cargo run --example quickstart`
//!
//! Defines a job with `#[job]` (in `shared/disks.rs`), enqueues a few, runs a worker until
//! they are done, and prints what happened. Without `REDIS_URL` it runs on the in-memory
//! backend: nothing to install.

#[path = "shared/disks.rs"]
mod disks;

use std::time::Duration;

use anyhow::Context as _;
use disks::{FormatDisk, NodeRpc};
use jobs_core::{Backend, Client, JobState, MemoryBackend, Worker};
use jobs_redis::RedisBackend;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            println!("backend: Redis at {url} (key prefix `quickstart`)");
            let backend = RedisBackend::builder(&url)
                .prefix("quickstart")
                .connect()
                .await?;
            run(Client::new(backend)).await
        }
        _ => {
            println!(
                "backend: in-memory (jobs live in this process only; set REDIS_URL to use Redis)"
            );
            run(Client::new(MemoryBackend::new())).await
        }
    }
}

async fn run<B: Backend>(client: Client<B>) -> anyhow::Result<()> {
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
    let rpc = NodeRpc {
        latency: Duration::from_millis(200),
    };
    let worker = Worker::builder(client.clone())
        .register::<FormatDisk>()
        .data(rpc)
        .concurrency(4)
        .build();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));

    // An example may poll; an application would look the job up by id when it needs to.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for &id in &ids {
        loop {
            let state = client.job("disks", id).await?.map(|info| info.state);
            if matches!(state, Some(JobState::Succeeded | JobState::Dead)) {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "job {id} not finished after 30 s: {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
