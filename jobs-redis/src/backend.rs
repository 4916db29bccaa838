//! The [`Backend`] implementation: each call is one script per queue touched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_core::backend::{BatchAdded, CancelOutcome};
use jobs_core::backend::{
    Finish, JobInfo, JobState, Lease, LeaseStatus, NewJob, Outcome, Progress, QueueStats,
    Recovered, Reserved, RunAt,
};
use jobs_core::event::{Event, EventCursor};
use jobs_core::{BackendError, JobId, PROMOTE_BATCH, RECOVER_BATCH, Retention, TRIM_BATCH};
use jobs_core::{BatchCounts, BatchId, Callback};
use redis::Value;
use tokio::time::Instant;

use crate::combiner::Combiner;
use crate::conn::{Conn, Connections};
use crate::error;
use crate::keys::QueueKeys;
use crate::record;
use crate::reply::{self, take};
use crate::scripts::SCRIPTS;
use crate::waiter::Waiter;

/// Most jobs sent in one enqueue script call; bigger batches are split. Sized so that one
/// call holds the server for less than 5 ms (up to 13 µs a job, its event included, on a
/// small machine, measured: 500 took 6-7 ms): a batch of 100,000 or a bulk enqueue never
/// stalls other clients.
const ENQUEUE_CHUNK: usize = 250;
/// Most dead jobs retried in one script call.
const RETRY_CHUNK: usize = 1_000;
/// An idle worker with nothing due reserves again after this many idle waits (5 min with
/// the default `idle_wait`).
const IDLE_BACKSTOP: u32 = 60;
/// Most jobs looked up by one script call (under 5 ms of server time, as for enqueue).
const LOOKUP_CHUNK: usize = 250;
/// Stored jobs examined by one sweep script call.
const SWEEP_PAGE: usize = 500;
/// Most dead jobs listed in one call.
const DEAD_PAGE_MAX: usize = 1_000;
/// Most jobs leased, renewed or finished by one script call: bounds the time any one
/// script holds the server, however large a worker's concurrency.
const BATCH_MAX: usize = 1_000;

/// The Redis backend. Cheap to clone; clones share the connection pool.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use jobs_core::Client;
/// use jobs_redis::RedisBackend;
///
/// let client = Client::new(RedisBackend::connect("redis://127.0.0.1:6379").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) conns: Connections,
    pub(crate) prefix: String,
    pub(crate) retention: Retention,
    pub(crate) max_stalls: u32,
    pub(crate) events_max_len: usize,
    /// See [`crate::RedisBackendBuilder::batch_claim`].
    pub(crate) batch_claim: Duration,
    pub(crate) waiter: Arc<Waiter>,
    /// Per queue: when the earliest scheduled job or lease end is due, as learned from the
    /// last empty reservation. Idle workers block until then at most.
    pub(crate) hints: Mutex<HashMap<String, Instant>>,
    pub(crate) combiner: Combiner,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Groups items by queue, keeping each item's position so answers can be put back in order.
fn by_queue<'a, T>(
    items: impl IntoIterator<Item = (usize, &'a str, T)>,
) -> Vec<(&'a str, Vec<(usize, T)>)> {
    let mut groups: Vec<(&str, Vec<(usize, T)>)> = Vec::new();
    for (pos, queue, item) in items {
        match groups.iter_mut().find(|(q, _)| *q == queue) {
            Some((_, group)) => group.push((pos, item)),
            None => groups.push((queue, vec![(pos, item)])),
        }
    }
    groups
}

impl RedisBackend {
    pub(crate) async fn conn(&self) -> Result<Conn, BackendError> {
        self.inner.conns.get().await
    }

    pub(crate) fn keys(&self, queue: &str) -> Result<QueueKeys, BackendError> {
        QueueKeys::new(&self.inner.prefix, queue)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn set_hint(&self, queue: &str, next_in_ms: i64) {
        let mut hints = self.inner.hints.lock().unwrap_or_else(|p| p.into_inner());
        if next_in_ms >= 0 {
            hints.insert(
                queue.to_owned(),
                Instant::now() + Duration::from_millis(next_in_ms as u64),
            );
        } else {
            hints.remove(queue);
        }
    }

    /// Sends `jobs` now, in calls of at most [`ENQUEUE_CHUNK`] per queue; the first error.
    pub(crate) async fn enqueue_now(&self, jobs: Vec<NewJob>) -> Result<(), BackendError> {
        self.enqueue_each(&jobs).await.into_iter().collect()
    }

    /// Sends `jobs` in calls of at most [`ENQUEUE_CHUNK`] per queue and returns, for each
    /// job in order, the result of the call that carried it: a call that failed does not
    /// stop the others (another queue may live on another node), and a job is reported
    /// failed only when its own call failed.
    pub(crate) async fn enqueue_each(&self, jobs: &[NewJob]) -> Vec<Result<(), BackendError>> {
        let mut out: Vec<Result<(), BackendError>> = Vec::with_capacity(jobs.len());
        out.resize_with(jobs.len(), || Ok(()));
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(e) => {
                return (0..jobs.len()).map(|_| Err(error::copy(&e))).collect();
            }
        };
        let groups = by_queue(
            jobs.iter()
                .enumerate()
                .map(|(i, j)| (i, j.queue.as_str(), j)),
        );
        for (queue, group) in groups {
            let k = match self.keys(queue) {
                Ok(k) => k,
                Err(e) => {
                    for (pos, _) in &group {
                        out[*pos] = Err(error::copy(&e));
                    }
                    continue;
                }
            };
            for chunk in group.chunks(ENQUEUE_CHUNK) {
                let mut call = SCRIPTS.enqueue.prepare_invoke();
                call.key(&k.jobs)
                    .key(&k.ready)
                    .key(&k.scheduled)
                    .key(&k.wake)
                    .key(&k.events)
                    .arg(chunk.len())
                    .arg(self.inner.events_max_len);
                for (_, job) in chunk {
                    let run_at = match job.run_at {
                        RunAt::Now => String::new(),
                        RunAt::After(d) => format!("+{}", ms(d)),
                        RunAt::UnixMillis(t) => t.to_string(),
                        _ => String::new(),
                    };
                    call.arg(job.id.to_string())
                        .arg(&job.name)
                        .arg(&job.payload[..])
                        .arg(job.priority)
                        .arg(job.max_attempts.max(1))
                        .arg(run_at)
                        .arg(job.batch.map(|b| b.to_string()).unwrap_or_default());
                }
                let stored: Result<i64, _> = call.invoke_async(&mut conn).await;
                if let Err(e) = stored {
                    let e = error::map(e);
                    for (pos, _) in chunk {
                        out[*pos] = Err(error::copy(&e));
                    }
                }
            }
        }
        out
    }

    /// Looks `ids` up in calls of at most [`LOOKUP_CHUNK`]: per id, its record, `None`
    /// when not stored, or why it cannot be shown.
    async fn lookup(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> Result<Vec<Result<Option<JobInfo>, BackendError>>, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let mut call = SCRIPTS.job.prepare_invoke();
            call.key(&k.jobs)
                .key(&k.ready)
                .key(&k.scheduled)
                .key(&k.leased)
                .key(&k.succeeded)
                .key(&k.dead);
            for id in chunk {
                call.arg(id.to_string());
            }
            let reply: Value = call.invoke_async(&mut conn).await.map_err(error::map)?;
            for (id, entry) in chunk.iter().zip(reply::array(reply)?) {
                out.push(job_entry(queue, *id, entry));
            }
        }
        Ok(out)
    }

    /// One finish script call for leases of one queue (at most [`BATCH_MAX`]): a status per
    /// item, and the queue's outbox length when an item belonged to a batch (else 0).
    async fn finish_chunk(
        &self,
        conn: &mut Conn,
        k: &QueueKeys,
        items: impl Iterator<Item = FinishArgs<'_>>,
    ) -> Result<(Vec<LeaseStatus>, u64), BackendError> {
        let mut call = SCRIPTS.finish.prepare_invoke();
        call.key(&k.jobs)
            .key(&k.ready)
            .key(&k.scheduled)
            .key(&k.leased)
            .key(&k.succeeded)
            .key(&k.dead)
            .key(&k.wake)
            .key(&k.events)
            .key(&k.outbox)
            .key(&k.cancel)
            .key(&k.tokens)
            .key(&k.batch_active);
        for arg in self.retention_args() {
            call.arg(arg);
        }
        call.arg(self.inner.events_max_len);
        for item in items {
            call.arg(&item.id[..])
                .arg(item.token)
                .arg(item.kind)
                .arg(item.data)
                .arg(item.delay)
                .arg(item.batch);
        }
        let reply: Value = call.invoke_async(conn).await.map_err(error::map)?;
        let mut answers = reply::array(reply)?;
        let outbox = answers
            .pop()
            .ok_or_else(|| error::corrupt("finish: empty reply"))?;
        let statuses = answers
            .iter()
            .map(|v| {
                Ok(match reply::int(v)? {
                    -1 => LeaseStatus::Finished,
                    held if held > 0 => LeaseStatus::Held {
                        expires_at_ms: held as u64,
                    },
                    _ => LeaseStatus::Stale,
                })
            })
            .collect::<Result<_, BackendError>>()?;
        Ok((statuses, reply::uint(&outbox)?))
    }

    fn retention_args(&self) -> [u64; 5] {
        let r = &self.inner.retention;
        [
            r.succeeded_max,
            ms(r.succeeded_max_age),
            r.dead_max,
            ms(r.dead_max_age),
            TRIM_BATCH as u64,
        ]
    }

    async fn reserve_from(
        &self,
        conn: &mut Conn,
        queue: &str,
        max: usize,
        lease_for: Duration,
        out: &mut Vec<Reserved>,
        drains: &mut Vec<QueueKeys>,
    ) -> Result<(), BackendError> {
        let k = self.keys(queue)?;
        let r = &self.inner.retention;
        let reply: Value = SCRIPTS
            .reserve
            .key(&k.jobs)
            .key(&k.ready)
            .key(&k.scheduled)
            .key(&k.leased)
            .key(&k.dead)
            .key(&k.wake)
            .key(&k.seq)
            .key(&k.events)
            .key(&k.outbox)
            .key(&k.cancel)
            .key(&k.tokens)
            .key(&k.batch_active)
            .arg(max)
            .arg(ms(lease_for))
            .arg(PROMOTE_BATCH)
            .arg(RECOVER_BATCH)
            .arg(self.inner.max_stalls)
            .arg(r.dead_max)
            .arg(ms(r.dead_max_age))
            .arg(TRIM_BATCH)
            .arg(self.inner.events_max_len)
            .invoke_async(conn)
            .await
            .map_err(error::map)?;
        let mut it = reply::array(reply)?.into_iter();
        let [next_in, skipped, expires, outbox] = take::<4>(&mut it)?;
        for id in reply::array(skipped)? {
            tracing::error!(
                queue,
                job_id = %reply::string(id)?,
                "skipped a ready job whose record is missing (deleted outside the framework?)"
            );
        }
        let expires_at_ms = reply::uint(&expires)?;
        let before = out.len();
        // Jobs the worker cannot use: (raw id, token, reason). Each costs only itself: it
        // goes to dead with the reason, the others of the reply run.
        let mut unusable: Vec<(Vec<u8>, u64, String)> = Vec::new();
        while let Ok([id, raw, token]) = take::<3>(&mut it) {
            // Kept as bytes: the id goes back to finish exactly as stored, whatever it is.
            let id_bytes = reply::bytes(id)?;
            let token = reply::uint(&token)?;
            let parsed = match std::str::from_utf8(&id_bytes) {
                // Renewals and outcomes name the job by its canonical form (36 characters,
                // lower case): a job stored under another spelling could never be renewed
                // or finished. Checked without formatting the id again (hot path).
                Ok(raw) => match raw.parse::<JobId>() {
                    Ok(id) if raw.len() == 36 && !raw.bytes().any(|b| b.is_ascii_uppercase()) => {
                        Ok(id)
                    }
                    Ok(_) => Err(format!(
                        "job id {raw:?} is not in canonical form (lower-case, hyphenated UUID): written outside the framework?"
                    )),
                    Err(_) => Err(format!(
                        "job id {:?} is not a UUID: written outside the framework?",
                        cut(raw)
                    )),
                },
                Err(_) => Err(format!(
                    "job id {:?} is not UTF-8: written outside the framework?",
                    String::from_utf8_lossy(&id_bytes[..id_bytes.len().min(64)])
                )),
            };
            let id = match parsed {
                Ok(id) => id,
                Err(why) => {
                    unusable.push((id_bytes, token, why));
                    continue;
                }
            };
            let lease = Lease {
                queue: queue.to_owned(),
                id,
                token,
                expires_at_ms,
                batch: None,
            };
            match record::decode(&reply::bytes(raw)?) {
                // The record counts the deliveries that ended; this one is added here.
                Ok(rec) => out.push(Reserved {
                    lease: Lease {
                        batch: rec.batch,
                        ..lease
                    },
                    batch: rec.batch,
                    name: rec.name,
                    payload: rec.payload,
                    attempt: rec.attempts + 1,
                    max_attempts: rec.max_attempts,
                    deliveries: rec.deliveries + 1,
                }),
                Err(why) => {
                    let why = format!("the job record cannot be read: {why}");
                    unusable.push((id_bytes, token, why));
                }
            }
        }
        if !unusable.is_empty() {
            for (id, _, why) in &unusable {
                let id = String::from_utf8_lossy(id);
                tracing::error!(queue, job_id = %cut(&id), reason = %why, "moved a job the worker cannot use to dead (edited outside the framework?)");
            }
            let items = unusable.iter().map(|(id, token, why)| FinishArgs {
                id: id.clone(),
                token: *token,
                kind: "corrupt",
                data: why.as_bytes(),
                delay: String::new(),
                batch: String::new(),
            });
            // Its batch, if any, is read from the record by the script.
            self.finish_chunk(conn, &k, items).await?;
        }
        if reply::uint(&outbox)? > 0 {
            drains.push(k);
        }
        if out.len() == before {
            self.set_hint(queue, reply::int(&next_in)?);
        }
        Ok(())
    }
}

impl jobs_core::Backend for RedisBackend {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), BackendError> {
        if jobs.is_empty() {
            return Ok(());
        }
        // Refused before it can share a call (and fail) with other callers' jobs.
        for job in &jobs {
            self.keys(&job.queue)?;
        }
        if jobs.len() >= ENQUEUE_CHUNK {
            // Big enough to fill calls of its own.
            return self.enqueue_now(jobs).await;
        }
        let this = self.clone();
        self.inner
            .combiner
            .submit(jobs, move |jobs| {
                let this = this.clone();
                async move { this.enqueue_each(&jobs).await }
            })
            .await
    }

    async fn reserve(
        &self,
        queues: &[String],
        max: usize,
        lease_for: Duration,
    ) -> Result<Vec<Reserved>, BackendError> {
        let mut conn = self.conn().await?;
        let mut out = Vec::new();
        let mut drains = Vec::new();
        for queue in queues {
            if out.len() >= max {
                break;
            }
            let want = (max - out.len()).min(BATCH_MAX);
            if let Err(e) = self
                .reserve_from(&mut conn, queue, want, lease_for, &mut out, &mut drains)
                .await
            {
                // Jobs already leased from earlier queues must reach the worker: dropping
                // them would strand their leases and use up an attempt they never ran.
                if out.is_empty() {
                    return Err(e);
                }
                tracing::warn!(error = %e, queue = %queue, "reservation failed for one queue; keeping the jobs already leased");
                break;
            }
        }
        drop(conn);
        // Batch endings a finisher left behind (it died, or its drain failed). Best effort:
        // the jobs are leased already and must reach the worker; the next call retries.
        // Batch endings a finisher left behind (it died, or its drain failed), counted in
        // the background: the jobs just leased must reach the worker without waiting.
        if !drains.is_empty() {
            let this = self.clone();
            tokio::spawn(async move {
                for k in drains {
                    this.drain_quietly(&k).await;
                }
            });
        }
        Ok(out)
    }

    async fn wait_for_work(
        &self,
        queues: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        // The earliest scheduled job or lease end the queues are known to have. With none,
        // nothing comes due unannounced (a script that makes work pushes a wake-up token),
        // so the wait goes on, re-issued every `timeout`, until a token arrives.
        // A backstop all the same: a wake-up token lost with a dropped connection must not
        // leave work waiting for good, so an idle worker reserves once per IDLE_BACKSTOP
        // waits even with nothing due.
        let backstop = Instant::now() + timeout.saturating_mul(IDLE_BACKSTOP);
        let due = {
            let hints = self.inner.hints.lock().unwrap_or_else(|p| p.into_inner());
            queues.iter().filter_map(|q| hints.get(q).copied()).min()
        }
        .map_or(backstop, |due| due.min(backstop));
        if due <= Instant::now() {
            return Ok(());
        }
        let keys = queues
            .iter()
            .map(|q| self.keys(q).map(|k| k.wake))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.waiter.wait(&keys, timeout, due).await
    }

    async fn renew(
        &self,
        leases: &[Lease],
        lease_for: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let mut out = vec![LeaseStatus::Stale; leases.len()];
        if leases.is_empty() {
            return Ok(out);
        }
        let mut conn = self.conn().await?;
        for (queue, group) in by_queue(
            leases
                .iter()
                .enumerate()
                .map(|(i, l)| (i, l.queue.as_str(), l)),
        ) {
            let k = self.keys(queue)?;
            for chunk in group.chunks(BATCH_MAX) {
                let mut call = SCRIPTS.renew.prepare_invoke();
                call.key(&k.leased)
                    .key(&k.cancel)
                    .key(&k.tokens)
                    .arg(ms(lease_for));
                for (_, lease) in chunk {
                    call.arg(lease.id.to_string()).arg(lease.token);
                }
                let reply: Value = call.invoke_async(&mut conn).await.map_err(error::map)?;
                for ((pos, _), v) in chunk.iter().zip(reply::array(reply)?) {
                    let expires = reply::int(&v)?;
                    if expires > 0 {
                        out[*pos] = LeaseStatus::Held {
                            expires_at_ms: expires as u64,
                        };
                    } else if expires < 0 {
                        out[*pos] = LeaseStatus::CancelRequested {
                            expires_at_ms: expires.unsigned_abs(),
                        };
                    }
                }
            }
        }
        Ok(out)
    }

    async fn finish(&self, items: Vec<Finish>) -> Result<Vec<LeaseStatus>, BackendError> {
        let mut out = vec![LeaseStatus::Stale; items.len()];
        if items.is_empty() {
            return Ok(out);
        }
        let mut conn = self.conn().await?;
        let groups = by_queue(
            items
                .iter()
                .enumerate()
                .map(|(i, f)| (i, f.lease.queue.as_str(), f)),
        );
        let mut drains = Vec::new();
        for (queue, group) in &groups {
            let k = self.keys(queue)?;
            let mut outbox = 0;
            for chunk in group.chunks(BATCH_MAX) {
                let args = chunk.iter().map(|(_, item)| {
                    let (kind, data, delay) = finish_args(&item.outcome);
                    FinishArgs::new(&item.lease, kind, data, delay)
                });
                let (answers, left) = self.finish_chunk(&mut conn, &k, args).await?;
                outbox = outbox.max(left);
                for ((pos, _), answer) in chunk.iter().zip(answers) {
                    out[*pos] = answer;
                }
            }
            if outbox > 0 {
                drains.push(k);
            }
        }
        drop(conn);
        // Count the batch members that just ended. Should this fail or the process die
        // now, the entries stay in the outbox and the next reservation drains them.
        for k in drains {
            self.drain_quietly(&k).await;
        }
        Ok(out)
    }

    async fn recover_expired(&self, queue: &str, limit: usize) -> Result<Recovered, BackendError> {
        let k = self.keys(queue)?;
        let r = &self.inner.retention;
        let mut conn = self.conn().await?;
        let (requeued, dead, outbox): (u64, u64, u64) = SCRIPTS
            .recover
            .key(&k.jobs)
            .key(&k.ready)
            .key(&k.leased)
            .key(&k.dead)
            .key(&k.wake)
            .key(&k.events)
            .key(&k.outbox)
            .key(&k.cancel)
            .key(&k.tokens)
            .key(&k.batch_active)
            .arg(limit.min(RECOVER_BATCH))
            .arg(self.inner.max_stalls)
            .arg(r.dead_max)
            .arg(ms(r.dead_max_age))
            .arg(TRIM_BATCH)
            .arg(self.inner.events_max_len)
            .invoke_async(&mut conn)
            .await
            .map_err(error::map)?;
        drop(conn);
        if outbox > 0 {
            self.drain_quietly(&k).await;
        }
        let mut out = Recovered::default();
        out.requeued = requeued;
        out.dead = dead;
        Ok(out)
    }

    async fn job(&self, queue: &str, id: JobId) -> Result<Option<JobInfo>, BackendError> {
        self.lookup(queue, &[id]).await?.pop().unwrap_or(Ok(None))
    }

    async fn jobs(&self, queue: &str, ids: &[JobId]) -> Result<Vec<Option<JobInfo>>, BackendError> {
        // One job that cannot be shown (a record someone broke, a job in no state) must not
        // hide the page it is on: it reads as absent, and `job` tells why.
        Ok(self
            .lookup(queue, ids)
            .await?
            .into_iter()
            .map(|entry| {
                entry.unwrap_or_else(|e| {
                    tracing::warn!(queue, error = %e, "a job of the page cannot be shown");
                    None
                })
            })
            .collect())
    }

    async fn sweep_orphans(&self, queue: &str) -> Result<u64, BackendError> {
        let k = self.keys(queue)?;
        let mut cursor = "0".to_owned();
        let mut moved = 0;
        let outbox = loop {
            let mut conn = self.conn().await?;
            let (next, n, left): (String, u64, u64) = SCRIPTS
                .sweep
                .key(&k.jobs)
                .key(&k.ready)
                .key(&k.scheduled)
                .key(&k.leased)
                .key(&k.succeeded)
                .key(&k.dead)
                .key(&k.events)
                .key(&k.outbox)
                .arg(&cursor)
                .arg(SWEEP_PAGE)
                .arg(self.inner.events_max_len)
                .invoke_async(&mut conn)
                .await
                .map_err(error::map)?;
            moved += n;
            if next == "0" {
                break left;
            }
            cursor = next;
        };
        if outbox > 0 {
            self.drain_quietly(&k).await;
        }
        Ok(moved)
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let (scheduled, ready, active, succeeded, dead, orphaned): (u64, u64, u64, u64, u64, u64) =
            SCRIPTS
                .stats
                .key(&k.scheduled)
                .key(&k.ready)
                .key(&k.leased)
                .key(&k.succeeded)
                .key(&k.dead)
                .key(&k.jobs)
                .invoke_async(&mut conn)
                .await
                .map_err(error::map)?;
        let mut stats = QueueStats::default();
        stats.scheduled = scheduled;
        stats.ready = ready;
        stats.active = active;
        stats.succeeded = succeeded;
        stats.dead = dead;
        stats.orphaned = orphaned;
        Ok(stats)
    }

    async fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobInfo>, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let reply: Value = SCRIPTS
            .dead_list
            .key(&k.jobs)
            .key(&k.dead)
            .arg(offset)
            .arg(limit.min(DEAD_PAGE_MAX))
            .invoke_async(&mut conn)
            .await
            .map_err(error::map)?;
        let mut out = Vec::new();
        for entry in reply::array(reply)? {
            let mut it = reply::array(entry)?.into_iter();
            let [
                id,
                name,
                payload,
                priority,
                max_attempts,
                attempts,
                deliveries,
                stalls,
                created,
            ] = take::<9>(&mut it)?;
            let [finished, last_error, result] = take::<3>(&mut it)?;
            let progress = take::<2>(&mut it)?;
            // An id written outside the framework cannot be shown as a JobId: skipped
            // (counted in `stats`), so the rest of the page is still listed.
            let Ok(id) = reply::job_id(id.clone()) else {
                tracing::warn!(queue, id = ?id, "skipped a dead entry whose id is not a job id");
                continue;
            };
            let fixed = [
                name,
                payload,
                priority,
                max_attempts,
                attempts,
                deliveries,
                stalls,
                created,
            ];
            let varying = [
                Value::BulkString(Vec::new()),
                Value::BulkString(Vec::new()),
                finished,
                last_error,
                result,
            ];
            out.push(info(id, queue, JobState::Dead, fixed, varying, progress)?);
        }
        Ok(out)
    }

    async fn retry_dead(&self, queue: &str, ids: &[JobId]) -> Result<u64, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let mut moved = 0;
        for chunk in ids.chunks(RETRY_CHUNK) {
            let mut call = SCRIPTS.retry_dead.prepare_invoke();
            call.key(&k.jobs).key(&k.dead).key(&k.ready).key(&k.wake);
            for id in chunk {
                call.arg(id.to_string());
            }
            let n: u64 = call.invoke_async(&mut conn).await.map_err(error::map)?;
            moved += n;
        }
        Ok(moved)
    }

    async fn cancel(&self, queue: &str, id: JobId) -> Result<CancelOutcome, BackendError> {
        let k = self.keys(queue)?;
        let r = &self.inner.retention;
        let reply: Value = {
            let mut conn = self.conn().await?;
            SCRIPTS
                .cancel
                .key(&k.jobs)
                .key(&k.ready)
                .key(&k.scheduled)
                .key(&k.leased)
                .key(&k.succeeded)
                .key(&k.dead)
                .key(&k.events)
                .key(&k.outbox)
                .key(&k.cancel)
                .arg(id.to_string())
                .arg(self.inner.events_max_len)
                .arg(r.dead_max)
                .arg(ms(r.dead_max_age))
                .arg(TRIM_BATCH)
                .invoke_async(&mut conn)
                .await
                .map_err(error::map)?
        };
        let mut it = reply::array(reply)?.into_iter();
        let [what, outbox] = take::<2>(&mut it)?;
        if reply::uint(&outbox)? > 0 {
            self.drain_quietly(&k).await;
        }
        Ok(match reply::string(what)?.as_str() {
            "cancelled" => CancelOutcome::Cancelled,
            "requested" => CancelOutcome::Requested,
            "finished" => CancelOutcome::Finished,
            _ => CancelOutcome::NotFound,
        })
    }

    async fn batch_open(
        &self,
        id: BatchId,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
    ) -> Result<BatchAdded, BackendError> {
        self.batch_open_now(id, members, callbacks).await
    }

    async fn batch_add(&self, id: BatchId, jobs: Vec<NewJob>) -> Result<BatchAdded, BackendError> {
        self.batch_add_now(id, jobs).await
    }

    async fn batch(&self, id: BatchId) -> Result<Option<BatchCounts>, BackendError> {
        self.batch_counts(id).await
    }

    async fn batch_members(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(JobId, String)>, BackendError> {
        self.batch_member_page(id, offset, limit).await
    }

    async fn batch_dead_jobs(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, BackendError> {
        self.batch_dead_page(id, offset, limit).await
    }

    async fn progress(
        &self,
        items: Vec<(Lease, Progress)>,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let mut out = vec![LeaseStatus::Stale; items.len()];
        if items.is_empty() {
            return Ok(out);
        }
        let mut conn = self.conn().await?;
        for (queue, group) in by_queue(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| (i, item.0.queue.as_str(), item)),
        ) {
            let k = self.keys(queue)?;
            for chunk in group.chunks(BATCH_MAX) {
                let mut call = SCRIPTS.progress.prepare_invoke();
                call.key(&k.jobs)
                    .key(&k.leased)
                    .key(&k.events)
                    .key(&k.tokens)
                    .arg(self.inner.events_max_len);
                for (_, (lease, progress)) in chunk {
                    call.arg(lease.id.to_string())
                        .arg(lease.token)
                        .arg(progress.percent)
                        .arg(&progress.message);
                }
                let reply: Value = call.invoke_async(&mut conn).await.map_err(error::map)?;
                for ((pos, (lease, _)), v) in chunk.iter().zip(reply::array(reply)?) {
                    if reply::int(&v)? == 1 {
                        out[*pos] = LeaseStatus::Held {
                            expires_at_ms: lease.expires_at_ms,
                        };
                    }
                }
            }
        }
        Ok(out)
    }

    async fn read_events(
        &self,
        queue: &str,
        after: Option<EventCursor>,
        max_entries: usize,
        wait: Duration,
    ) -> Result<Vec<Event>, BackendError> {
        self.read_events_from(queue, after, max_entries, wait).await
    }

    async fn last_event(&self, queue: &str) -> Result<Option<EventCursor>, BackendError> {
        self.last_event_of(queue).await
    }
}

/// The `kind`, `data` and `delay_ms` arguments of finish.lua for one outcome.
fn finish_args(outcome: &Outcome) -> (&'static str, &[u8], String) {
    match outcome {
        Outcome::Succeeded { result } => {
            ("ok", result.as_deref().unwrap_or_default(), String::new())
        }
        Outcome::Failed { error, retry_after } => (
            "fail",
            error.as_bytes(),
            retry_after.map(|d| ms(d).to_string()).unwrap_or_default(),
        ),
        Outcome::Snooze { after } => ("snooze", &[], ms(*after).to_string()),
        _ => ("release", &[], String::new()),
    }
}

/// One item of a finish script call, as its six arguments.
struct FinishArgs<'a> {
    id: Vec<u8>,
    token: u64,
    kind: &'static str,
    data: &'a [u8],
    delay: String,
    batch: String,
}

impl<'a> FinishArgs<'a> {
    fn new(lease: &Lease, kind: &'static str, data: &'a [u8], delay: String) -> Self {
        FinishArgs {
            id: lease.id.to_string().into_bytes(),
            token: lease.token,
            kind,
            data,
            delay,
            batch: lease.batch.map(|b| b.to_string()).unwrap_or_default(),
        }
    }
}

/// Builds a [`JobInfo`] from the fields the `job` and `dead_list` scripts return.
fn info(
    id: JobId,
    queue: &str,
    state: JobState,
    fixed: [Value; 8],
    varying: [Value; 5],
    [percent, message]: [Value; 2],
) -> Result<JobInfo, BackendError> {
    let [
        name,
        payload,
        priority,
        max_attempts,
        attempts,
        deliveries,
        stalls,
        created,
    ] = fixed;
    let [run_at, lease_end, finished, last_error, result] = varying;
    let finished = reply::opt_uint(&finished)?.filter(|f| *f > 0);
    let mut info = JobInfo::new(id, reply::string(name)?, queue.to_owned(), state);
    info.payload = reply::bytes(payload)?;
    info.priority = reply::int(&priority)? as i8;
    info.max_attempts = reply::uint(&max_attempts)? as u32;
    info.attempts = reply::uint(&attempts)? as u32;
    info.deliveries = reply::uint(&deliveries)? as u32;
    info.stalls = reply::uint(&stalls)? as u32;
    info.created_at_ms = reply::uint(&created)?;
    info.run_at_ms = reply::opt_uint(&run_at)?;
    info.lease_expires_at_ms = reply::opt_uint(&lease_end)?;
    info.finished_at_ms = finished;
    info.last_error =
        reply::opt_bytes(last_error)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    info.result = reply::opt_bytes(result)?;
    if let Some(percent) = reply::opt_uint(&percent)? {
        info.progress = Some(Progress::new(
            percent.min(100) as u8,
            reply::string(message)?,
        ));
    }
    Ok(info)
}

/// At most 64 bytes of a string from the store, for messages.
fn cut(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One entry of the `job` script's reply.
fn job_entry(queue: &str, id: JobId, entry: Value) -> Result<Option<JobInfo>, BackendError> {
    if matches!(entry, Value::Nil | Value::Boolean(false)) {
        return Ok(None);
    }
    let fields = reply::array(entry)?;
    if fields.len() == 1 {
        return Err(error::corrupt(format!(
            "the record of job {id} in queue {queue} cannot be read"
        )));
    }
    let mut it = fields.into_iter();
    let [
        state,
        name,
        payload,
        priority,
        max_attempts,
        attempts,
        deliveries,
        stalls,
        created,
    ] = take::<9>(&mut it)?;
    let [run_at, lease_end, finished, last_error, result] = take::<5>(&mut it)?;
    let [percent, message] = take::<2>(&mut it)?;
    let state = match reply::string(state)?.as_str() {
        "ready" => JobState::Ready,
        "scheduled" => JobState::Scheduled,
        "active" => JobState::Active,
        "succeeded" => JobState::Succeeded,
        "dead" => JobState::Dead,
        "cancelled" => JobState::Cancelled,
        other => {
            return Err(error::corrupt(format!(
                "job {id} in queue {queue} is in no state ({other}): `sweep_orphans` moves it to dead"
            )));
        }
    };
    Ok(Some(info(
        id,
        queue,
        state,
        [
            name,
            payload,
            priority,
            max_attempts,
            attempts,
            deliveries,
            stalls,
            created,
        ],
        [run_at, lease_end, finished, last_error, result],
        [percent, message],
    )?))
}
