//! Run with: `cargo run --release --example bench` (add `-- --quick` for a run under a
//! minute, `-- --json` for one JSON line per scenario).
//!
//! Starts its own `redis-server` on a free loopback port (or uses `REDIS_URL`), prints a
//! machine baseline (a trivial `EVALSHA`, one at a time and pipelined), runs each scenario
//! with no-op jobs carrying a 42-byte payload (`{"host":"node-123","device":"/dev/sdb"}`),
//! and prints a table. Redis costs come from `INFO commandstats`, `INFO cpu` and
//! `INFO memory` deltas.
//!
//! By default it measures what a user gets: `RedisBackend::connect(url)` (each scenario on
//! its own key prefix, nothing else set), `Worker::builder(..).concurrency(c)`, and a
//! multi-thread runtime with a thread per core, as `#[tokio::main]` gives. `--tuned`
//! measures the set-up the earlier figures came from: succeeded jobs deleted at once, a
//! 64-connection pool, one runtime thread.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use jobs_core::{
    Backend, Client, DEFAULT_EVENTS_MAX_LEN, Data, Job, JobError, QueueLimits, Retention, Worker,
    job,
};
use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;
use tokio::sync::Notify;

mod scenarios;

#[derive(Parser)]
struct Args {
    /// Smaller scenarios: the whole run takes under a minute.
    #[arg(long)]
    quick: bool,
    /// Also print one JSON line per scenario.
    #[arg(long)]
    json: bool,
    /// Run only the scenarios whose name contains this (the machine baseline always
    /// runs). Names: enqueue, process c1,
    /// process c16, process c64, process c256, process scheduled c64, process c64 limits
    /// interleaved, process c64 limits grouped, steady, latency, batch, lookups, memory.
    #[arg(long)]
    only: Option<String>,
    /// Runtime worker threads for the client and worker [default: one per core, as
    /// `#[tokio::main]`; with `--tuned`, one: on a small machine that also runs Redis a
    /// second thread mostly adds cross-thread wake-ups].
    #[arg(long)]
    threads: Option<usize>,
    /// The tuned set-up instead of the defaults: succeeded jobs deleted at once (no
    /// retention), a 64-connection pool, one runtime thread.
    #[arg(long)]
    tuned: bool,
}

impl Args {
    /// The runtime's worker threads: as asked, else as the set-up gives.
    fn runtime_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.threads
            .unwrap_or(if self.tuned { 1 } else { cores })
            .max(1)
    }
}

/// Counts finished jobs and wakes the bench when a target is reached.
#[derive(Default)]
struct Done {
    count: AtomicU64,
    target: AtomicU64,
    reached: Notify,
    /// For latency: when the last job started.
    started: std::sync::Mutex<Option<Instant>>,
    start_seen: Notify,
}

impl Done {
    fn hit(&self) {
        *self.started.lock().unwrap() = Some(Instant::now());
        self.start_seen.notify_one();
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.target.load(Ordering::SeqCst) {
            self.reached.notify_one();
        }
    }

    fn expect(&self, target: u64) {
        self.count.store(0, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
    }
}

/// The benchmark's job: does nothing but count.
#[job(queue = "bench")]
async fn format_disk(host: String, device: String, done: Data<Done>) -> Result<(), JobError> {
    let _ = (host, device);
    done.hit();
    Ok(())
}

/// The batch scenario's callback: wakes the bench when the batch has fired.
#[job(queue = "bench")]
async fn batch_fired(batch: jobs_core::BatchSummary, fired: Data<Notify>) -> Result<(), JobError> {
    let _ = batch;
    fired.notify_one();
    Ok(())
}

/// The flow-control scenarios' job: the same no-op, its `host` its limit key.
#[job(queue = "bench", limit_key = "host")]
async fn format_host(host: String, device: String, done: Data<Done>) -> Result<(), JobError> {
    let _ = (host, device);
    done.hit();
    Ok(())
}

fn job() -> FormatDisk {
    FormatDisk {
        host: "node-123".into(),
        device: "/dev/sdb".into(),
    }
}

/// Job `i` of `n` spread over `keys` limit keys: key `i % keys` (interleaved, each key's
/// jobs spread through the backlog) or `i / (n / keys)` (each key's jobs enqueued
/// together). The host name has the usual job's 8 bytes (`node0042`), so the payload
/// keeps its 42 bytes.
fn keyed_job(i: u64, n: u64, keys: u64, grouped: bool) -> FormatHost {
    let key = if grouped {
        i / (n / keys).max(1)
    } else {
        i % keys
    };
    FormatHost {
        host: format!("node{key:04}"),
        device: "/dev/sdb".into(),
    }
}

#[derive(Default)]
struct Row {
    scenario: String,
    jobs: u64,
    secs: f64,
    extra: BTreeMap<&'static str, f64>,
}

impl Row {
    fn rate(&self) -> f64 {
        self.jobs as f64 / self.secs
    }
}

struct Bench {
    args: Args,
    url: String,
    redis: redis::aio::MultiplexedConnection,
    prefix_n: u64,
    rows: Vec<Row>,
}

/// Redis server counters, for deltas.
struct Counters {
    calls: BTreeMap<String, u64>,
    /// Server time per command (µs), those run by scripts included.
    usec: BTreeMap<String, u64>,
    cpu_secs: f64,
    used_memory: u64,
}

impl Bench {
    async fn counters(&mut self) -> anyhow::Result<Counters> {
        let info: String = redis::cmd("INFO")
            .arg("all")
            .query_async(&mut self.redis)
            .await?;
        let (mut calls, mut usec) = (BTreeMap::new(), BTreeMap::new());
        let (mut cpu_secs, mut used_memory) = (0.0, 0);
        for line in info.lines() {
            if let Some(rest) = line.strip_prefix("cmdstat_") {
                let (name, stats) = rest.split_once(':').unwrap_or_default();
                let field = |f: &str| -> u64 {
                    stats
                        .split(',')
                        .find_map(|kv| kv.strip_prefix(f)?.strip_prefix('=')?.parse().ok())
                        .unwrap_or(0)
                };
                calls.insert(name.to_owned(), field("calls"));
                usec.insert(name.to_owned(), field("usec"));
            } else if let Some(v) = line
                .strip_prefix("used_cpu_sys:")
                .or(line.strip_prefix("used_cpu_user:"))
            {
                cpu_secs += v.trim().parse::<f64>().unwrap_or(0.0);
            } else if let Some(v) = line.strip_prefix("used_memory:") {
                used_memory = v.trim().parse().unwrap_or(0);
            }
        }
        Ok(Counters {
            calls,
            usec,
            cpu_secs,
            used_memory,
        })
    }

    /// A client on a fresh key prefix, so scenarios do not see each other's jobs.
    async fn client(&mut self) -> anyhow::Result<Client<RedisBackend>> {
        self.client_with(DEFAULT_EVENTS_MAX_LEN).await
    }

    /// A client whose event streams keep `events` entries (0: events off); with
    /// `--tuned`, no retention of succeeded jobs and a pool of 64.
    async fn client_with(&mut self, events: usize) -> anyhow::Result<Client<RedisBackend>> {
        self.prefix_n += 1;
        let mut builder =
            RedisBackend::builder(&self.url).prefix(format!("bench{}", self.prefix_n));
        if events != DEFAULT_EVENTS_MAX_LEN {
            builder = builder.events_max_len(events);
        }
        if self.args.tuned {
            builder = builder
                .retention(Retention::DEFAULT.succeeded(0, Duration::from_secs(60)))
                .pool_size(64);
        }
        Ok(Client::new(builder.connect().await?))
    }

    /// The machine baseline: a trivial script's rate one call at a time, and pipelined
    /// 100 calls deep, on this Redis, over a plain blocking connection on its own thread
    /// (so the runtime's set-up does not change it): scale for figures taken on other
    /// days or machines.
    async fn baseline(&mut self) -> anyhow::Result<()> {
        let url = self.url.clone();
        let n: u64 = if self.args.quick { 5_000 } else { 20_000 };
        let (single, piped) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut conn = redis::Client::open(url.as_str())?.get_connection()?;
            let script = redis::Script::new("return 1");
            let started = Instant::now();
            for _ in 0..n {
                let _: i64 = script.invoke(&mut conn)?;
            }
            let single = started.elapsed().as_secs_f64();
            let hash = script.get_hash().to_owned();
            let started = Instant::now();
            // Ten times as many: pipelined calls go that much faster.
            for _ in 0..n / 10 {
                let mut pipe = redis::pipe();
                for _ in 0..100 {
                    pipe.cmd("EVALSHA").arg(&hash).arg(0);
                }
                let _: Vec<i64> = pipe.query(&mut conn)?;
            }
            Ok((single, started.elapsed().as_secs_f64()))
        })
        .await??;
        self.push(Row {
            scenario: "baseline: EVALSHA return 1, one at a time".into(),
            jobs: n,
            secs: single,
            extra: BTreeMap::new(),
        });
        self.push(Row {
            scenario: "baseline: EVALSHA return 1, pipelined 100 deep".into(),
            jobs: n * 10,
            secs: piped,
            extra: BTreeMap::new(),
        });
        Ok(())
    }

    fn wanted(&self, name: &str) -> bool {
        self.args.only.as_deref().is_none_or(|o| name.contains(o))
    }

    fn push(&mut self, row: Row) {
        print_row(&row);
        if self.args.json {
            let mut fields = vec![
                format!("\"scenario\":\"{}\"", row.scenario),
                format!("\"jobs\":{}", row.jobs),
                format!("\"secs\":{:.3}", row.secs),
                format!("\"jobs_per_sec\":{:.0}", row.rate()),
            ];
            fields.extend(row.extra.iter().map(|(k, v)| format!("\"{k}\":{v:.3}")));
            println!("{{{}}}", fields.join(","));
        }
        self.rows.push(row);
    }
}

async fn warm(client: &Client<RedisBackend>, done: &Done) -> anyhow::Result<()> {
    let seen = done.start_seen.notified();
    client.enqueue(job()).await?;
    tokio::time::timeout(Duration::from_secs(10), seen)
        .await
        .context("warm-up job did not start")?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

async fn bulk(client: &Client<RedisBackend>, n: u64, chunk: u64) -> anyhow::Result<()> {
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk);
        client.enqueue_many((0..k).map(|_| job())).await?;
        left -= k;
    }
    Ok(())
}

/// Enqueues `n` jobs due in a day, in bulk.
async fn schedule_far(client: &Client<RedisBackend>, n: u64) -> anyhow::Result<()> {
    let mut left = n;
    while left > 0 {
        let k = left.min(1_000);
        client
            .enqueue_many((0..k).map(|_| job()))
            .delay(Duration::from_secs(86_400))
            .await?;
        left -= k;
    }
    Ok(())
}

fn cost(row: &mut Row, before: &Counters, after: &Counters, n: u64) {
    let delta = |name: &str| {
        after.calls.get(name).copied().unwrap_or(0) as f64
            - before.calls.get(name).copied().unwrap_or(0) as f64
    };
    let all: f64 = after
        .calls
        .iter()
        .map(|(k, v)| *v as f64 - before.calls.get(k).copied().unwrap_or(0) as f64)
        .sum();
    let n = n as f64;
    row.extra
        .insert("script_calls_per_job", delta("evalsha") / n);
    // EVALSHA and BLPOP each take a round trip; PING is counted too, should any client
    // health check send one.
    row.extra.insert(
        "round_trips_per_job",
        (delta("evalsha") + delta("blpop") + delta("ping")) / n,
    );
    row.extra.insert("calls_per_job", all / n);
    row.extra.insert(
        "redis_cpu_us_per_job",
        (after.cpu_secs - before.cpu_secs) * 1e6 / n,
    );
}

/// Each command's calls and server time per job between two readings, most time first
/// (to stderr; `BENCH_COMMANDS=1`). A script's own commands are counted under their
/// names, and again, in all, under `evalsha`.
fn print_commands(before: &Counters, after: &Counters, n: u64) {
    let delta = |m: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, k: &str| {
        m.get(k)
            .copied()
            .unwrap_or(0)
            .saturating_sub(b.get(k).copied().unwrap_or(0)) as f64
    };
    let mut rows: Vec<(String, f64, f64)> = after
        .calls
        .keys()
        .map(|k| {
            (
                k.clone(),
                delta(&after.calls, &before.calls, k) / n as f64,
                delta(&after.usec, &before.usec, k) / n as f64,
            )
        })
        .filter(|r| r.1 > 0.0)
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    for (name, calls, us) in rows {
        eprintln!("  {name:<18} {calls:>8.3} calls/job {us:>8.3} µs/job");
    }
}

fn print_row(row: &Row) {
    let rate = if row.secs.is_nan() {
        "-".to_owned()
    } else {
        format!("{:>10.0}", row.rate())
    };
    let extra: Vec<_> = row
        .extra
        .iter()
        .map(|(k, v)| format!("{k}={v:.2}"))
        .collect();
    println!(
        "{:<58} {:>9} {:>8} {:>10}  {}",
        row.scenario,
        row.jobs,
        fmt_secs(row.secs),
        rate,
        extra.join(" ")
    );
}

fn fmt_secs(s: f64) -> String {
    if s.is_nan() {
        "-".into()
    } else {
        format!("{s:.2}s")
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.runtime_threads())
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (_server, url) = match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => (None, url),
        _ => {
            let server = RedisServer::start()?;
            let url = server.url();
            (Some(server), url)
        }
    };
    let redis = redis::Client::open(url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let version: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut redis.clone())
        .await?;
    let version = version
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .to_owned();
    println!(
        "Redis {version} at {url}; {} CPUs; {} runtime thread(s); {}; {}",
        std::thread::available_parallelism()?,
        args.runtime_threads(),
        if args.tuned {
            "tuned (no retention of succeeded jobs, pool of 64)"
        } else {
            "defaults"
        },
        if args.quick { "quick run" } else { "full run" }
    );
    println!(
        "{:<58} {:>9} {:>8} {:>10}  extra",
        "scenario", "jobs", "time", "jobs/s"
    );
    let q = args.quick;
    let mut b = Bench {
        args,
        url,
        redis,
        prefix_n: 0,
        rows: Vec::new(),
    };
    let backlog = if q { 10_000 } else { 100_000 };
    // Always: it is what the rest of the run is read against.
    b.baseline().await?;
    if b.wanted("enqueue") {
        b.enqueue_single(if q { 5_000 } else { 20_000 }).await?;
        b.enqueue_concurrent(if q { 20_000 } else { 100_000 }, 64)
            .await?;
        b.enqueue_bulk(if q { 50_000 } else { 200_000 }, 1_000)
            .await?;
    }
    // The process scenarios answer to `process` and to their own names: `process c64`,
    // say, runs the plain one at 64 and the limited ones (`process c64 limits ...`).
    for c in [1, 16, 64, 256] {
        if b.wanted(&format!("process c{c}")) {
            let n = if c == 1 { backlog / 5 } else { backlog };
            b.process(n, c, 0).await?;
        }
    }
    if b.wanted("process scheduled c64") {
        b.process(backlog, 64, if q { 100_000 } else { 1_000_000 })
            .await?;
    }
    // 10 jobs per limit key, one running per key, a queue limit above the worker's 64.
    if b.wanted("process c64 limits interleaved") {
        b.process_limited(backlog, 64, backlog / 10, 1_000, false)
            .await?;
    }
    if b.wanted("process c64 limits grouped") {
        b.process_limited(backlog, 64, backlog / 10, 1_000, true)
            .await?;
    }
    if b.wanted("steady") {
        b.steady(backlog).await?;
    }
    if b.wanted("latency") {
        b.latency(if q { 300 } else { 1_000 }).await?;
    }
    if b.wanted("batch") {
        b.batch(if q { 20_000 } else { 100_000 }).await?;
    }
    if b.wanted("lookups") {
        let calls = if q { 2_000 } else { 10_000 };
        b.lookups(1, calls).await?;
        b.lookups(10_000, calls).await?;
    }
    if b.wanted("memory") {
        let n = if q { 20_000 } else { 100_000 };
        b.memory(n, DEFAULT_EVENTS_MAX_LEN).await?;
        b.memory(n, 0).await?;
    }
    Ok(())
}
