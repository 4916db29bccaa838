//! `ops-worker`: runs the format jobs and the callbacks. Run several, on several machines:
//! `cargo run -p cluster-ops --bin ops-worker`.

use std::time::Duration;

use clap::Parser;
use cluster_ops::{CALLBACKS, DISKS, FormatDisk, NodeCommand, OperationDone};
use jobs_core::{Client, Worker};

#[derive(Parser)]
struct Args {
    /// Redis to take the jobs from.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Key prefix in Redis (as the web application's).
    #[arg(long, env = "JOBS_PREFIX", default_value = "ops")]
    prefix: String,
    /// Jobs run at once by this process.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Lease length in ms: how soon another worker takes over the jobs of one that died.
    #[arg(long, default_value_t = 30_000)]
    lease_ms: u64,
    /// The node command (default: the script shipped with the example).
    #[arg(long)]
    command: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cluster_ops::init_tracing();
    let args = Args::parse();
    let backend = cluster_ops::connect(&args.redis_url, &args.prefix).await?;
    let node = match args.command {
        Some(program) => NodeCommand { program },
        None => NodeCommand::shipped(),
    };
    println!("worker {} ready", std::process::id());
    Worker::builder(Client::new(backend))
        .register::<FormatDisk>()
        .register::<OperationDone>()
        .data(node)
        .queues([DISKS, CALLBACKS])
        .concurrency(args.concurrency)
        .lease(Duration::from_millis(args.lease_ms))
        .build()
        .run()
        .await?;
    Ok(())
}
