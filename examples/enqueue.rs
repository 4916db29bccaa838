//! Run with: `cargo run --example enqueue -- --hosts 20`
//!
//! The web-application side of the two-process example: enqueues one disk-format job per
//! host into Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`) and returns at once;
//! with `--follow` it then watches the jobs until they finish. Run workers with
//! `cargo run --example worker`.

#[path = "shared/disks.rs"]
mod disks;

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use disks::FormatDisk;
use jobs_core::Client;
use jobs_redis::RedisBackend;

#[derive(Parser)]
struct Args {
    /// Redis URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Key prefix, shared with the workers.
    #[arg(long, default_value = "example")]
    prefix: String,
    /// Number of hosts (node-1 ... node-N), one job each.
    #[arg(long, default_value_t = 10)]
    hosts: usize,
    /// Device to format on each host.
    #[arg(long, default_value = "/dev/sdb")]
    device: String,
    /// Watch the jobs until all have finished.
    #[arg(long)]
    follow: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backend = RedisBackend::builder(&args.redis_url)
        .prefix(args.prefix)
        .connect()
        .await?;
    let client = Client::new(backend);
    let jobs = (1..=args.hosts).map(|i| FormatDisk {
        host: format!("node-{i}"),
        device: args.device.clone(),
    });
    let started = std::time::Instant::now();
    let ids = client.enqueue_many(jobs).await?;
    println!("enqueued {} jobs in {:?}", ids.len(), started.elapsed());
    if !args.follow {
        return Ok(());
    }
    loop {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for &id in &ids {
            let state = client
                .job("disks", id)
                .await?
                .map_or("gone".to_owned(), |i| format!("{:?}", i.state));
            *counts.entry(state).or_default() += 1;
        }
        println!("{:>6.1}s {counts:?}", started.elapsed().as_secs_f64());
        let finished = ["Succeeded", "Dead"]
            .iter()
            .filter_map(|s| counts.get(*s))
            .sum::<usize>();
        if finished == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let stats = client.stats("disks").await?;
    println!("queue `disks`: {stats:?}");
    Ok(())
}
