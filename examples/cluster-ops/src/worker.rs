//! `ops-worker`: runs the format jobs and the callbacks. Run several, on several machines:
//! `cargo run -p cluster-ops --bin ops-worker`.
//!
//! Every worker stores the `disks` queue's limits when it starts (the last one started
//! sets them for the whole fleet): at most `--max-formats` formats run at once across
//! all workers, and one at a time per host.

use std::time::Duration;

use clap::Parser;
use cluster_ops::{CALLBACKS, DISKS, FormatDisk, NodeCommand, OperationDone};
use jobs_core::{Client, QueueLimits, Worker};

/// Runs the cluster operations' jobs: the disk formats and the completion callbacks.
///
/// Formats are limited across the whole fleet, whatever the number of workers: at most
/// --max-formats at once, and never two at once on one host (a host listed in two
/// operations has its disks formatted one after the other). A format over a limit waits
/// in Redis without holding up the other hosts' formats.
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
    /// Formats running at once across all workers (one at a time per host whatever this
    /// is). Stored in Redis when the worker starts: the last worker started sets it for
    /// the fleet, so give every worker the same value.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    max_formats: u32,
    /// Lease length in ms: how soon another worker takes over the jobs of one that died,
    /// and the fleet gets back the format slots it held (a node may still be finishing a
    /// format the dead worker had started).
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
    // The store enforces a queue's limits, and `disks` holds the formats only (the
    // callbacks have their own queue), so its concurrency limit counts formats. The
    // per-key limit applies to FormatDisk's limit key, its host.
    let format_limits = QueueLimits::new().concurrency(args.max_formats).per_key(1);
    println!("worker {} ready", std::process::id());
    Worker::builder(Client::new(backend))
        .register::<FormatDisk>()
        .register::<OperationDone>()
        .data(node)
        .queues([DISKS, CALLBACKS])
        .limits(DISKS, format_limits)
        .concurrency(args.concurrency)
        .lease(Duration::from_millis(args.lease_ms))
        .build()
        .run()
        .await?;
    Ok(())
}
