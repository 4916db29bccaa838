//! The scenarios of the bench: each runs jobs through a fresh key prefix and pushes one
//! row (or a few) of figures.

use super::*;

impl Bench {
    /// A batch of `n` members: open and enqueue, one status read, every member read in
    /// pages, the time until the callback ran, and the slowest single Redis call seen
    /// meanwhile (SLOWLOG, threshold lowered for the run).
    pub(super) async fn batch(&mut self, n: u64) -> anyhow::Result<()> {
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
    pub(super) async fn lookups(&mut self, leased: u64, calls: u64) -> anyhow::Result<()> {
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

    pub(super) async fn enqueue_single(&mut self, n: u64) -> anyhow::Result<()> {
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

    pub(super) async fn enqueue_concurrent(&mut self, n: u64, tasks: u64) -> anyhow::Result<()> {
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

    pub(super) async fn enqueue_bulk(&mut self, n: u64, chunk: u64) -> anyhow::Result<()> {
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
    pub(super) async fn process(
        &mut self,
        n: u64,
        concurrency: usize,
        scheduled: u64,
    ) -> anyhow::Result<()> {
        let client = self.client().await?;
        if scheduled > 0 {
            schedule_far(&client, scheduled).await?;
        }
        bulk(&client, n, 1_000).await?;
        let mut row = self.drain::<FormatDisk>(&client, n, concurrency).await?;
        row.scenario = match scheduled {
            0 => format!("process backlog, concurrency {concurrency}"),
            s => format!("process backlog, concurrency {concurrency}, {s} scheduled present"),
        };
        self.push(row);
        Ok(())
    }

    /// As [`Bench::process`], with flow control: `n` jobs over `keys` limit keys (see
    /// [`keyed_job`] for the order), at most one running per key and at most `limit` in
    /// the queue, enqueued in calls of 1,000 like the plain backlog.
    pub(super) async fn process_limited(
        &mut self,
        n: u64,
        concurrency: usize,
        keys: u64,
        limit: u32,
        grouped: bool,
    ) -> anyhow::Result<()> {
        let client = self.client().await?;
        client
            .set_limits("bench", QueueLimits::new().concurrency(limit).per_key(1))
            .await?;
        let mut i = 0;
        while i < n {
            let k = (n - i).min(1_000);
            client
                .enqueue_many((i..i + k).map(|j| keyed_job(j, n, keys, grouped)))
                .await?;
            i += k;
        }
        // Every job waits in its key's line, and every key is listed: the reservations
        // below go through the limit keys, not the plain ready line.
        let flow = format!("bench{}:{{bench}}:", self.prefix_n);
        let waiting: u64 = redis::cmd("HGET")
            .arg(format!("{flow}flow"))
            .arg("waiting")
            .query_async(&mut self.redis)
            .await?;
        let listed: u64 = redis::cmd("ZCARD")
            .arg(format!("{flow}groups"))
            .query_async(&mut self.redis)
            .await?;
        anyhow::ensure!(
            waiting == n && listed == keys,
            "{waiting} jobs waiting under {listed} keys, not {n} under {keys}"
        );
        let mut row = self.drain::<FormatHost>(&client, n, concurrency).await?;
        row.scenario = format!(
            "process backlog, concurrency {concurrency}, limits 1/key {limit}/queue, {keys} keys {}",
            if grouped { "grouped" } else { "interleaved" }
        );
        self.push(row);
        Ok(())
    }

    /// Times one worker at `concurrency` running the `n` jobs of type `J` waiting in
    /// `client`'s queue: a row with the time and the Redis costs per job.
    async fn drain<J: Job>(
        &mut self,
        client: &Client<RedisBackend>,
        n: u64,
        concurrency: usize,
    ) -> anyhow::Result<Row> {
        let done = Arc::new(Done::default());
        done.expect(n);
        let before = self.counters().await?;
        let worker = Worker::builder(client.clone())
            .register::<J>()
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
        cost(&mut row, &before, &after, n);
        if std::env::var_os("BENCH_COMMANDS").is_some() {
            print_commands(&before, &after, n);
        }
        Ok(row)
    }

    pub(super) async fn steady(&mut self, n: u64) -> anyhow::Result<()> {
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

    pub(super) async fn latency(&mut self, n: u64) -> anyhow::Result<()> {
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
    pub(super) async fn memory(&mut self, n: u64, events: usize) -> anyhow::Result<()> {
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
