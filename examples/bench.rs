//! Run with: `cargo run --release --example bench` (add `-- --quick` for a run under a
//! minute, `-- --json` for one JSON line per scenario).
//!
//! Starts its own `redis-server` on a free loopback port (or uses `REDIS_URL`), runs each
//! scenario with no-op jobs carrying a 42-byte payload
//! (`{"host":"node-123","device":"/dev/sdb"}`), and prints a table. Redis costs come from
//! `INFO commandstats`, `INFO cpu` and `INFO memory` deltas.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use jobs_core::{Backend, Client, DEFAULT_EVENTS_MAX_LEN, Data, JobError, Retention, Worker, job};
use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;
use tokio::sync::Notify;

#[derive(Parser)]
struct Args {
    /// Smaller scenarios: the whole run takes under a minute.
    #[arg(long)]
    quick: bool,
    /// Also print one JSON line per scenario.
    #[arg(long)]
    json: bool,
    /// Run only the scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Runtime worker threads for the client and worker. One by default: on a small
    /// machine that also runs Redis, a second thread mostly adds cross-thread wake-ups
    /// (measured: 2 threads are slower on 2 cores); give more when Redis runs elsewhere.
    #[arg(long, default_value_t = 1)]
    threads: usize,
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

fn job() -> FormatDisk {
    FormatDisk {
        host: "node-123".into(),
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
    cpu_secs: f64,
    used_memory: u64,
}

impl Bench {
    async fn counters(&mut self) -> anyhow::Result<Counters> {
        let info: String = redis::cmd("INFO")
            .arg("all")
            .query_async(&mut self.redis)
            .await?;
        let mut calls = BTreeMap::new();
        let (mut cpu_secs, mut used_memory) = (0.0, 0);
        for line in info.lines() {
            if let Some(rest) = line.strip_prefix("cmdstat_") {
                let (name, stats) = rest.split_once(':').unwrap_or_default();
                let n = stats
                    .split("calls=")
                    .nth(1)
                    .and_then(|v| v.split(',').next()?.parse().ok());
                calls.insert(name.to_owned(), n.unwrap_or(0));
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
            cpu_secs,
            used_memory,
        })
    }

    /// A client on a fresh key prefix, so scenarios do not see each other's jobs.
    async fn client(&mut self) -> anyhow::Result<Client<RedisBackend>> {
        self.client_with(DEFAULT_EVENTS_MAX_LEN).await
    }

    /// A client whose event streams keep `events` entries (0: events off).
    async fn client_with(&mut self, events: usize) -> anyhow::Result<Client<RedisBackend>> {
        self.prefix_n += 1;
        let backend = RedisBackend::builder(&self.url)
            .prefix(format!("bench{}", self.prefix_n))
            .retention(Retention::DEFAULT.succeeded(0, Duration::from_secs(60)))
            .events_max_len(events)
            .pool_size(64)
            .connect()
            .await?;
        Ok(Client::new(backend))
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

    /// A batch of `n` members: open and enqueue, one status read, every member read in
    /// pages, the time until the callback ran, and the slowest single Redis call seen
    /// meanwhile (SLOWLOG, threshold lowered for the run).
    async fn batch(&mut self, n: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let mut slow = self.redis.clone();
        let config = |k: &str, v: &str| redis::cmd("CONFIG").arg("SET").arg(k).arg(v).clone();
        config("slowlog-log-slower-than", "1000")
            .query_async::<()>(&mut slow)
            .await?;
        config("slowlog-max-len", "100000")
            .query_async::<()>(&mut slow)
            .await?;
        redis::cmd("SLOWLOG")
            .arg("RESET")
            .query_async::<()>(&mut slow)
            .await?;
        let fired = Arc::new(Notify::new());
        let t = Instant::now();
        let (batch, _) = client
            .batch()
            .jobs((0..n).map(|_| job()))
            .on_complete(BatchFired {
                batch: jobs_core::BatchSummary::default(),
            })
            .enqueue()
            .await?;
        let open_secs = t.elapsed().as_secs_f64();
        let before = self.counters().await?;
        let t = Instant::now();
        let status = client.batch_status(batch).await?.context("no batch")?;
        let status_ms = t.elapsed().as_secs_f64() * 1e3;
        let status_calls = self.counters().await?;
        anyhow::ensure!(status.total == n, "status total {}", status.total);
        let t = Instant::now();
        let (mut read, mut pages) = (0, 0);
        loop {
            let page = client.batch_jobs(batch, read, 1_000).await?;
            if page.is_empty() {
                break;
            }
            read += page.len();
            pages += 1;
        }
        let pages_secs = t.elapsed().as_secs_f64();
        let paged = self.counters().await?;
        anyhow::ensure!(read as u64 == n, "read {read} members");
        let done = Arc::new(Done::default());
        done.expect(n);
        let worker = Worker::builder(client.clone())
            .register::<FormatDisk>()
            .register::<BatchFired>()
            .data_arc(done.clone())
            .data_arc(fired.clone())
            .concurrency(256)
            .build();
        let stop = tokio_util::sync::CancellationToken::new();
        let notified = fired.notified();
        let t = Instant::now();
        let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
        tokio::time::timeout(Duration::from_secs(600), notified)
            .await
            .context("batch callback not run in 10 min")?;
        let complete_secs = t.elapsed().as_secs_f64();
        stop.cancel();
        running.await??;
        let entries: Vec<redis::Value> = redis::cmd("SLOWLOG")
            .arg("GET")
            .arg(-1)
            .query_async(&mut slow)
            .await?;
        // Each entry: [id, timestamp, duration µs, [command, args...], ...].
        let slowest = entries
            .iter()
            .filter_map(|e| match e {
                redis::Value::Array(fields) => match fields.get(2) {
                    Some(redis::Value::Int(us)) => Some(*us),
                    _ => None,
                },
                _ => None,
            })
            .max()
            .unwrap_or(0);
        if std::env::var_os("BENCH_SLOWLOG").is_some() {
            // The slowest calls, to see which scripts they were: (µs, the call's words).
            let mut calls: Vec<(i64, String)> = entries
                .iter()
                .filter_map(|e| match e {
                    redis::Value::Array(f) => match (f.get(2), f.get(3)) {
                        (Some(redis::Value::Int(us)), Some(redis::Value::Array(args))) => {
                            let words: Vec<String> = args
                                .iter()
                                .take(5)
                                .map(|a| match a {
                                    redis::Value::BulkString(b) => {
                                        String::from_utf8_lossy(&b[..b.len().min(40)]).into()
                                    }
                                    other => format!("{other:?}"),
                                })
                                .collect();
                            Some((*us, format!("{} ({} args)", words.join(" "), args.len())))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            calls.sort_by_key(|c| std::cmp::Reverse(c.0));
            for (us, call) in calls.iter().take(15) {
                eprintln!("slow: {us} µs {call}");
            }
        }
        config("slowlog-log-slower-than", "10000")
            .query_async::<()>(&mut slow)
            .await?;
        // Script calls (each one round trip); commands run inside scripts are not counted.
        // A status read also sends one HGET per queue its members span.
        let calls = |a: &Counters, b: &Counters| -> f64 {
            b.calls.get("evalsha").copied().unwrap_or(0) as f64
                - a.calls.get("evalsha").copied().unwrap_or(0) as f64
        };
        let mut row = Row {
            scenario: format!("batch of {n}: open, status, pages, completion"),
            jobs: n,
            secs: complete_secs,
            ..Row::default()
        };
        row.extra.insert("open_s", open_secs);
        row.extra.insert("status_ms", status_ms);
        row.extra
            .insert("status_script_calls", calls(&before, &status_calls));
        row.extra.insert("member_pages", pages as f64);
        row.extra.insert("all_pages_s", pages_secs);
        row.extra
            .insert("pages_script_calls", calls(&status_calls, &paged));
        row.extra.insert("slowest_call_ms", slowest as f64 / 1e3);
        row.extra
            .insert("slowlog_entries_over_1ms", entries.len() as f64);
        self.push(row);
        Ok(())
    }

    /// `calls` job lookups (`Client::job`) of a running job while `leased` jobs of the
    /// queue are leased: the cost of a lookup must not grow with the running jobs.
    async fn lookups(&mut self, leased: u64, calls: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let queue = vec!["bench".to_owned()];
        let ids = client
            .enqueue_many((0..leased.max(1)).map(|_| job()))
            .await?;
        let mut taken = 0;
        while taken < ids.len() {
            let got = client
                .backend()
                .reserve(&queue, 1_000, Duration::from_secs(600))
                .await?;
            anyhow::ensure!(!got.is_empty(), "reserved {taken} of {}", ids.len());
            taken += got.len();
        }
        let before = self.counters().await?;
        let t = Instant::now();
        for i in 0..calls {
            let id = ids[(i as usize * 7919) % ids.len()];
            let info = client.job("bench", id).await?;
            anyhow::ensure!(info.is_some_and(|i| i.state == jobs_core::JobState::Active));
        }
        let secs = t.elapsed().as_secs_f64();
        let after = self.counters().await?;
        let mut row = Row {
            scenario: format!("job lookups with {leased} jobs leased"),
            jobs: calls,
            secs,
            ..Row::default()
        };
        cost(&mut row, &before, &after, calls);
        self.push(row);
        Ok(())
    }

    async fn enqueue_single(&mut self, n: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let before = self.counters().await?;
        let t = Instant::now();
        for _ in 0..n {
            client.enqueue(job()).await?;
        }
        let secs = t.elapsed().as_secs_f64();
        let after = self.counters().await?;
        let mut row = Row {
            scenario: "enqueue one at a time".into(),
            jobs: n,
            secs,
            ..Row::default()
        };
        cost(&mut row, &before, &after, n);
        self.push(row);
        Ok(())
    }

    async fn enqueue_concurrent(&mut self, n: u64, tasks: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let before = self.counters().await?;
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..tasks {
            let client = client.clone();
            set.spawn(async move {
                for _ in 0..n / tasks {
                    client.enqueue(job()).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        let secs = t.elapsed().as_secs_f64();
        let after = self.counters().await?;
        let mut row = Row {
            scenario: format!("enqueue, {tasks} concurrent enqueuers"),
            jobs: n / tasks * tasks,
            secs,
            ..Row::default()
        };
        let jobs = row.jobs;
        cost(&mut row, &before, &after, jobs);
        self.push(row);
        Ok(())
    }

    async fn enqueue_bulk(&mut self, n: u64, chunk: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let before = self.counters().await?;
        let t = Instant::now();
        bulk(&client, n, chunk).await?;
        let secs = t.elapsed().as_secs_f64();
        let after = self.counters().await?;
        let mut row = Row {
            scenario: format!("enqueue bulk ({chunk} per call)"),
            jobs: n,
            secs,
            ..Row::default()
        };
        cost(&mut row, &before, &after, n);
        row.extra.insert(
            "bytes_per_job",
            (after.used_memory.saturating_sub(before.used_memory)) as f64 / n as f64,
        );
        self.push(row);
        Ok(())
    }

    /// Fills a backlog of `n` jobs (plus `scheduled` future ones), then times one worker
    /// at `concurrency` draining it.
    async fn process(&mut self, n: u64, concurrency: usize, scheduled: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        if scheduled > 0 {
            schedule_far(&client, scheduled).await?;
        }
        bulk(&client, n, 1_000).await?;
        let done = Arc::new(Done::default());
        done.expect(n);
        let before = self.counters().await?;
        let worker = Worker::builder(client.clone())
            .register::<FormatDisk>()
            .data_arc(done.clone())
            .concurrency(concurrency)
            .build();
        let stop = tokio_util::sync::CancellationToken::new();
        let t = Instant::now();
        let reached = done.reached.notified();
        let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
        tokio::time::timeout(Duration::from_secs(600), reached)
            .await
            .context("backlog not drained in 10 min")?;
        let secs = t.elapsed().as_secs_f64();
        let after = self.counters().await?;
        stop.cancel();
        running.await??;
        let mut row = Row {
            jobs: n,
            secs,
            ..Row::default()
        };
        row.scenario = match scheduled {
            0 => format!("process backlog, concurrency {concurrency}"),
            s => format!("process backlog, concurrency {concurrency}, {s} scheduled present"),
        };
        cost(&mut row, &before, &after, n);
        self.push(row);
        Ok(())
    }

    async fn steady(&mut self, n: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let done = Arc::new(Done::default());
        done.expect(n);
        let worker = Worker::builder(client.clone())
            .register::<FormatDisk>()
            .data_arc(done.clone())
            .concurrency(64)
            .build();
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
        let reached = done.reached.notified();
        let t = Instant::now();
        bulk(&client, n, 100).await?;
        tokio::time::timeout(Duration::from_secs(600), reached)
            .await
            .context("not drained in 10 min")?;
        let secs = t.elapsed().as_secs_f64();
        stop.cancel();
        running.await??;
        self.push(Row {
            scenario: "enqueue (chunks of 100) while processing, c=64".into(),
            jobs: n,
            secs,
            ..Row::default()
        });
        Ok(())
    }

    async fn latency(&mut self, n: u64) -> anyhow::Result<()> {
        let client = self.client().await?;
        let done = Arc::new(Done::default());
        let worker = Worker::builder(client.clone())
            .register::<FormatDisk>()
            .data_arc(done.clone())
            .concurrency(64)
            .build();
        let stop = tokio_util::sync::CancellationToken::new();
        let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
        // Let the worker reach its idle wait before measuring.
        warm(&client, &done).await?;
        let mut samples = Vec::with_capacity(n as usize);
        let t = Instant::now();
        for _ in 0..n {
            let seen = done.start_seen.notified();
            let sent = Instant::now();
            client.enqueue(job()).await?;
            tokio::time::timeout(Duration::from_secs(10), seen)
                .await
                .context("a job did not start in 10 s")?;
            let started = done.started.lock().unwrap().unwrap_or(sent);
            samples.push(started.duration_since(sent).as_secs_f64() * 1000.0);
            // Idle again before the next one: the worker must be back in its wait.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        stop.cancel();
        running.await??;
        samples.sort_by(f64::total_cmp);
        let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        let mut row = Row {
            scenario: "latency enqueue to start, idle worker".into(),
            jobs: n,
            secs,
            ..Row::default()
        };
        row.extra.insert("p50_ms", pick(0.5));
        row.extra.insert("p99_ms", pick(0.99));
        row.extra.insert("max_ms", pick(1.0));
        self.push(row);
        Ok(())
    }

    /// Memory per waiting job, with the enqueue events kept (the default) or events off.
    async fn memory(&mut self, n: u64, events: usize) -> anyhow::Result<()> {
        let client = self.client_with(events).await?;
        let before = self.counters().await?;
        bulk(&client, n, 1_000).await?;
        let after = self.counters().await?;
        let mut row = Row {
            scenario: match events {
                0 => "Redis memory per waiting job, events off".into(),
                _ => "Redis memory per waiting job, events kept".into(),
            },
            jobs: n,
            secs: f64::NAN,
            ..Row::default()
        };
        cost(&mut row, &before, &after, n);
        row.extra.insert(
            "bytes_per_job",
            (after.used_memory.saturating_sub(before.used_memory)) as f64 / n as f64,
        );
        self.push(row);
        Ok(())
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
        .worker_threads(args.threads.max(1))
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
        "Redis {version} at {url}; {} CPUs; {} runtime thread(s); {}",
        std::thread::available_parallelism()?,
        args.threads,
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
    if b.wanted("enqueue") {
        b.enqueue_single(if q { 5_000 } else { 20_000 }).await?;
        b.enqueue_concurrent(if q { 20_000 } else { 100_000 }, 64)
            .await?;
        b.enqueue_bulk(if q { 50_000 } else { 200_000 }, 1_000)
            .await?;
    }
    if b.wanted("process") {
        for c in [1, 16, 64, 256] {
            let n = if c == 1 { backlog / 5 } else { backlog };
            b.process(n, c, 0).await?;
        }
        b.process(backlog, 64, if q { 100_000 } else { 1_000_000 })
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
