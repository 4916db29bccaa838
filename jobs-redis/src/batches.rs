//! Batches on Redis: the batch's keys live under their own hash tag, apart from the
//! members' queues (possibly on other cluster nodes), so a batch step is one script on
//! the batch's keys and the queue steps are scripts on the queues' keys.
//!
//! A member's final ending is written to its queue's *outbox* in the same script as the
//! ending: a sorted set of batch work scored by when it is due. Draining the due entries
//! counts the endings in their batches (idempotent per member); the drainer that sees a
//! batch complete claims its firing for [`DEFAULT_BATCH_CLAIM`], enqueues the callbacks
//! (fixed ids: enqueued once) and confirms. Entries are removed only once their batch no
//! longer needs them: while another drainer's claim is live they are kept and due again
//! when it ends, so a firing whose drainer died (or whose calls failed) is taken up then,
//! with no further member ending needed.
//!
//! Firing that no ending anchors (a batch complete when it is opened, a job added from a
//! running job whose adder died before enqueueing it) is anchored by a *check* entry
//! written before the step that could leave it behind, and due after the claim.

use std::time::Duration;

use jobs_core::backend::{BatchAdded, NewJob, RunAt};
use jobs_core::{
    BATCH_DEAD_JOBS_MAX, BATCH_PAGE_MAX, BackendError, BatchCounts, BatchId, BatchSummary,
    Callback, JobId,
};
use redis::Value;

use crate::backend::RedisBackend;
use crate::error;
use crate::keys::{BatchKeys, QueueKeys};
use crate::reply::{self, take};
use crate::scripts::SCRIPTS;

/// How long a drainer has to fire a complete batch before another may take the firing
/// over; see [`crate::RedisBackendBuilder::batch_claim`].
pub const DEFAULT_BATCH_CLAIM: Duration = Duration::from_secs(30);

/// Outbox entries read per round.
const DRAIN_PAGE: usize = 100;
/// Rounds one drain goes on for at most; the next drain takes the rest.
const DRAIN_ROUNDS: usize = 100;
/// Members recorded per script call: bounds the time any one batch script holds Redis.
const REGISTER_CHUNK: usize = 500;
/// Added jobs one check hands out to enqueue, per batch and call.
const RECOVER_MAX: usize = 100;
/// When a batch's drain failed, its entries are due again this much later.
const DRAIN_RETRY_MS: u64 = 1_000;
/// A check is due this long after the claim it waits for could end.
const CHECK_MARGIN_MS: u64 = 1_000;
/// Entries kept for a live claim are due again this long after it ends.
const CLAIM_MARGIN_MS: u64 = 50;
/// How long the keys of a batch that was never opened live (its opener died while
/// recording its members).
const UNOPENED_TTL_MS: u64 = 24 * 3600 * 1000;

/// What a drain does next with a batch's outbox entries.
enum Next {
    /// Remove them: the batch has counted them, and needs nothing more from them.
    Remove,
    /// Keep them all, due again in this many ms (a live claim, or a failure).
    Retry(u64),
    /// Remove the endings, keep the check, due again in this many ms.
    CheckLater(u64),
}

/// A batch script's answer about where the batch stands (see `lua/batch_lib.lua`).
struct Standing {
    status: String,
    retry_in: Option<u64>,
    summary: Value,
    /// Added jobs whose adder did not report them enqueued in time.
    late: Vec<(String, Vec<u8>)>,
}

impl Standing {
    fn parse(it: &mut impl Iterator<Item = Value>) -> Result<Self, BackendError> {
        let [status, retry_in, summary, late] = take::<4>(it)?;
        let retry_in = reply::int(&retry_in)?;
        let mut late_it = reply::array(late)?.into_iter();
        let mut late = Vec::new();
        while let Ok([id, job]) = take::<2>(&mut late_it) {
            late.push((reply::string(id)?, reply::bytes(job)?));
        }
        Ok(Standing {
            status: reply::string(status)?,
            retry_in: u64::try_from(retry_in).ok(),
            summary,
            late,
        })
    }
}

/// An outbox entry: `<batch> <job> <s|d>` or `<batch> check`.
enum Entry {
    Ended(String, String),
    Check,
}

fn parse_entry(entry: &str) -> Option<(BatchId, Entry)> {
    let mut parts = entry.split(' ');
    let batch = parts.next()?.parse::<BatchId>().ok()?;
    let entry = match (parts.next()?, parts.next()) {
        ("check", None) => Entry::Check,
        (job, Some(outcome @ ("s" | "d"))) => Entry::Ended(job.to_owned(), outcome.to_owned()),
        _ => return None,
    };
    parts.next().is_none().then_some((batch, entry))
}

/// One batch's entries in a page of the outbox.
struct Group {
    batch: BatchId,
    endings: Vec<(String, String)>,
    check: bool,
    entries: Vec<(String, bool)>,
}

/// An added job as kept with its batch until its adder reports it enqueued: a msgpack
/// array of name, queue, payload, priority, max attempts, run-at (as enqueue takes it).
fn encode_job(job: &NewJob) -> Vec<u8> {
    use rmpv::Value as V;
    let value = V::Array(vec![
        V::from(job.name.as_str()),
        V::from(job.queue.as_str()),
        V::Binary(job.payload.clone()),
        V::from(job.priority),
        V::from(job.max_attempts),
        V::from(run_at_arg(job.run_at).as_str()),
    ]);
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &value);
    out
}

fn decode_job(batch: BatchId, id: &str, mut raw: &[u8]) -> Result<NewJob, BackendError> {
    let bad = |why: &str| error::corrupt(format!("batch {batch}: added job {id}: {why}"));
    let value = rmpv::decode::read_value(&mut raw).map_err(|_| bad("not msgpack"))?;
    let rmpv::Value::Array(f) = value else {
        return Err(bad("not an array"));
    };
    let text = |i: usize| {
        f.get(i)
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("a field is not text"))
    };
    let num = |i: usize| {
        f.get(i)
            .and_then(|v| v.as_i64())
            .ok_or_else(|| bad("a field is not a number"))
    };
    let payload = match f.get(2) {
        Some(rmpv::Value::Binary(b)) => b.clone(),
        _ => return Err(bad("no payload")),
    };
    let run_at = text(5)?;
    Ok(NewJob {
        id: id.parse().map_err(|_| bad("bad id"))?,
        name: text(0)?.to_owned(),
        queue: text(1)?.to_owned(),
        payload,
        priority: i8::try_from(num(3)?).map_err(|_| bad("bad priority"))?,
        run_at: if let Some(after) = run_at.strip_prefix('+') {
            RunAt::After(Duration::from_millis(
                after.parse().map_err(|_| bad("bad run-at"))?,
            ))
        } else if run_at.is_empty() {
            RunAt::Now
        } else {
            RunAt::UnixMillis(run_at.parse().map_err(|_| bad("bad run-at"))?)
        },
        max_attempts: u32::try_from(num(4)?).map_err(|_| bad("bad max attempts"))?,
        batch: Some(batch),
    })
}

/// A run-at as the enqueue script takes it: '' now, '+ms' after a delay, 'ms' at a time.
pub(crate) fn run_at_arg(run_at: RunAt) -> String {
    match run_at {
        RunAt::After(d) => format!("+{}", d.as_millis()),
        RunAt::UnixMillis(t) => t.to_string(),
        _ => String::new(),
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisBackend {
    fn batch_keys(&self, id: BatchId) -> BatchKeys {
        BatchKeys::new(&self.inner.prefix, id)
    }

    fn claim_ms(&self) -> u64 {
        ms(self.inner.batch_claim)
    }

    /// A batch script call with the batch's keys.
    fn batch_call<'s>(
        &self,
        script: &'s redis::Script,
        id: BatchId,
    ) -> redis::ScriptInvocation<'s> {
        let bk = self.batch_keys(id);
        let mut call = script.prepare_invoke();
        for key in bk.all() {
            call.key(key);
        }
        call
    }

    /// [`RedisBackend::drain_outbox`], logging a failure: the outcome that wrote the
    /// entries is already recorded, and the entries stay for the next reservation.
    pub(crate) async fn drain_quietly(&self, k: &QueueKeys) {
        if let Err(e) = self.drain_outbox(k).await {
            tracing::warn!(error = %e, outbox = %k.outbox, "could not count ended batch members yet; the next reservation on this queue retries");
        }
    }

    /// Does the due batch work in `k`'s outbox: counts ended members in their batches,
    /// fires the callbacks of batches that are now complete, runs checks. Each entry read
    /// is removed, or kept and due again later: none stays due, so an idle worker is not
    /// woken for it again and again.
    pub(crate) async fn drain_outbox(&self, k: &QueueKeys) -> Result<(), BackendError> {
        for _ in 0..DRAIN_ROUNDS {
            let entries: Vec<String> = {
                let mut conn = self.conn().await?;
                SCRIPTS
                    .batch_outbox
                    .key(&k.outbox)
                    .key(&k.wake)
                    .arg("due")
                    .arg(DRAIN_PAGE)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(error::map)?
            };
            if entries.is_empty() {
                return Ok(());
            }
            let mut remove: Vec<&str> = Vec::new();
            let mut retry: Vec<(&str, u64)> = Vec::new();
            let mut groups: Vec<Group> = Vec::new();
            for entry in &entries {
                let Some((batch, parsed)) = parse_entry(entry) else {
                    tracing::warn!(outbox = %k.outbox, entry, "removed an outbox entry that is not the framework's");
                    remove.push(entry);
                    continue;
                };
                let at = match groups.iter().position(|g| g.batch == batch) {
                    Some(at) => at,
                    None => {
                        groups.push(Group {
                            batch,
                            endings: Vec::new(),
                            check: false,
                            entries: Vec::new(),
                        });
                        groups.len() - 1
                    }
                };
                let group = &mut groups[at];
                let is_check = matches!(parsed, Entry::Check);
                match parsed {
                    Entry::Ended(job, outcome) => group.endings.push((job, outcome)),
                    Entry::Check => group.check = true,
                }
                group.entries.push((entry.clone(), is_check));
            }
            let mut next = Vec::with_capacity(groups.len());
            for group in &groups {
                let n = match self.settle_batch(group).await {
                    Ok(n) => n,
                    Err(e) => {
                        // Its entries wait a little; the other batches go on.
                        tracing::warn!(error = %e, batch = %group.batch, "could not count batch endings or fire the batch yet; retrying shortly");
                        Next::Retry(DRAIN_RETRY_MS)
                    }
                };
                next.push(n);
            }
            for (group, n) in groups.iter().zip(next) {
                for (entry, is_check) in &group.entries {
                    match n {
                        Next::Remove => remove.push(entry),
                        Next::Retry(ms) => retry.push((entry, ms)),
                        Next::CheckLater(ms) if *is_check => retry.push((entry, ms)),
                        Next::CheckLater(_) => remove.push(entry),
                    }
                }
            }
            {
                let mut conn = self.conn().await?;
                let mut call = SCRIPTS.batch_outbox.prepare_invoke();
                call.key(&k.outbox)
                    .key(&k.wake)
                    .arg("settle")
                    .arg(remove.len());
                for entry in &remove {
                    call.arg(*entry);
                }
                for (entry, ms) in &retry {
                    call.arg(*entry).arg(*ms);
                }
                let _: i64 = call.invoke_async(&mut conn).await.map_err(error::map)?;
            }
            if entries.len() < DRAIN_PAGE {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Counts one batch's endings (and runs its check), enqueues added jobs whose adder
    /// died, and fires the batch if it is complete and nobody else is firing it.
    async fn settle_batch(&self, group: &Group) -> Result<Next, BackendError> {
        let batch = group.batch;
        let mut call = self.batch_call(&SCRIPTS.batch_done, batch);
        call.arg(self.claim_ms()).arg(BATCH_DEAD_JOBS_MAX);
        if group.check {
            call.arg(self.claim_ms());
        } else {
            call.arg("");
        }
        call.arg(RECOVER_MAX);
        for (job, outcome) in &group.endings {
            call.arg(job).arg(outcome);
        }
        let reply: Value = {
            let mut conn = self.conn().await?;
            call.invoke_async(&mut conn).await.map_err(error::map)?
        };
        let standing = Standing::parse(&mut reply::array(reply)?.into_iter())?;
        // What counting unreadable added jobs as dead asks of this group's entries (a live
        // claim met then: keep them, as for this call's own answer).
        let mut inner = Next::Remove;
        if !standing.late.is_empty() {
            let mut jobs = Vec::new();
            let mut unreadable = Vec::new();
            for (id, raw) in &standing.late {
                match decode_job(batch, id, raw) {
                    Ok(job) => jobs.push(job),
                    Err(e) => {
                        tracing::error!(%batch, job_id = %id, error = %e, "an added job kept with its batch cannot be read: counted as dead");
                        unreadable.push((id.clone(), "d".to_owned()));
                    }
                }
            }
            let ids: Vec<&str> = standing.late.iter().map(|(id, _)| id.as_str()).collect();
            if !jobs.is_empty() {
                tracing::warn!(%batch, jobs = jobs.len(), "enqueueing jobs added to the batch whose adder did not report them enqueued (it died?)");
                self.enqueue_now(jobs).await?;
            }
            if !unreadable.is_empty() {
                // Counted before the stash is cleared: a member that never runs must still
                // end, or its batch never would. Counting is idempotent per member.
                let dead = Group {
                    batch,
                    endings: unreadable,
                    check: false,
                    entries: Vec::new(),
                };
                inner = Box::pin(self.settle_batch(&dead)).await?;
            }
            self.added(batch, &ids).await?;
        }
        if let Next::Retry(ms) = inner {
            return Ok(Next::Retry(ms));
        }
        Ok(match standing.status.as_str() {
            "fire" => {
                self.fire(batch, standing.summary).await?;
                Next::Remove
            }
            "claimed" => Next::Retry(standing.retry_in.unwrap_or(0) + CLAIM_MARGIN_MS),
            _ if group.check => match standing.retry_in {
                Some(ms) => Next::CheckLater(ms.max(1)),
                None => Next::Remove,
            },
            _ => Next::Remove,
        })
    }

    /// Enqueues a complete batch's callbacks and marks it finished. The firing is this
    /// caller's (claimed); should it fail or die before confirming, the batch's entries
    /// stay and the next drain after the claim fires it again (same callback ids).
    async fn fire(&self, batch: BatchId, summary: Value) -> Result<(), BackendError> {
        let mut it = reply::array(summary)?.into_iter();
        let [total, succeeded, dead, dead_ids, callbacks] = take::<5>(&mut it)?;
        let summary = BatchSummary {
            id: batch,
            total: reply::uint(&total)?,
            succeeded: reply::uint(&succeeded)?,
            dead: reply::uint(&dead)?,
            dead_jobs: reply::array(dead_ids)?
                .into_iter()
                .map(reply::job_id)
                .collect::<Result<_, _>>()?,
        };
        let jobs: Vec<NewJob> = reply::array(callbacks)?
            .into_iter()
            .map(|v| {
                let json = reply::string(v)?;
                serde_json::from_str::<Callback>(&json)
                    .map(|c| NewJob::from_callback(&c, &summary))
                    .map_err(|e| error::corrupt(format!("batch {batch}: bad callback: {e}")))
            })
            .collect::<Result<_, _>>()?;
        if !jobs.is_empty() {
            self.enqueue_now(jobs).await?;
        }
        let keep = self.inner.retention.succeeded_max_age.as_millis().max(1) as u64;
        let mut conn = self.conn().await?;
        let _: i64 = self
            .batch_call(&SCRIPTS.batch_confirm, batch)
            .arg(keep)
            .invoke_async(&mut conn)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    /// Schedules a check of `batch` in `queue`'s outbox, due `delay_ms` from now.
    async fn schedule_check(
        &self,
        queue: &str,
        batch: BatchId,
        delay_ms: u64,
    ) -> Result<(), BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let _: i64 = SCRIPTS
            .batch_outbox
            .key(&k.outbox)
            .key(&k.wake)
            .arg("check")
            .arg(delay_ms)
            .arg(batch.to_string())
            .invoke_async(&mut conn)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    /// Records members in chunks, schedules a check (so that a firing the open claims is
    /// taken up should this caller die), then opens the batch and fires it if complete.
    pub(crate) async fn batch_open_now(
        &self,
        id: BatchId,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
    ) -> Result<BatchAdded, BackendError> {
        for (_, queue) in &members {
            self.keys(queue)?;
        }
        // At least one call, even for an empty batch: the check below then finds the
        // batch created (and waits for its open) rather than unknown.
        let chunks: Vec<&[(JobId, String)]> = if members.is_empty() {
            vec![&[]]
        } else {
            members.chunks(REGISTER_CHUNK).collect()
        };
        for chunk in chunks {
            let mut call = self.batch_call(&SCRIPTS.batch_add, id);
            call.arg("register").arg(UNOPENED_TTL_MS);
            for (job, queue) in chunk {
                call.arg(job.to_string()).arg(queue);
            }
            let status: String = {
                let mut conn = self.conn().await?;
                call.invoke_async(&mut conn).await.map_err(error::map)?
            };
            if status == "finished" {
                return Ok(BatchAdded::Finished);
            }
        }
        // The callbacks' queue has workers (or the callbacks never run); else a member's.
        let check_queue = callbacks
            .first()
            .map(|c| c.queue.as_str())
            .or(members.first().map(|(_, q)| q.as_str()));
        if let Some(queue) = check_queue {
            self.schedule_check(queue, id, self.claim_ms() + CHECK_MARGIN_MS)
                .await?;
        }
        let mut call = self.batch_call(&SCRIPTS.batch_add, id);
        call.arg("open")
            .arg(self.claim_ms())
            .arg(BATCH_DEAD_JOBS_MAX);
        for cb in &callbacks {
            let json = serde_json::to_string(cb).map_err(|e| BackendError::Other(Box::new(e)))?;
            call.arg(cb.kind.name()).arg(json);
        }
        let reply: Value = {
            let mut conn = self.conn().await?;
            call.invoke_async(&mut conn).await.map_err(error::map)?
        };
        let mut it = reply::array(reply)?.into_iter();
        let [added] = take::<1>(&mut it)?;
        if reply::string(added)? == "finished" {
            return Ok(BatchAdded::Finished);
        }
        let standing = Standing::parse(&mut it)?;
        if standing.status == "fire" {
            self.fire(id, standing.summary).await?;
        }
        Ok(BatchAdded::Added)
    }

    /// Adds jobs to an open batch and enqueues them. Each job is kept with the batch
    /// until it is enqueued, and a check is scheduled first: should this caller die in
    /// between, a worker enqueues the jobs once the claim period has passed.
    pub(crate) async fn batch_add_now(
        &self,
        id: BatchId,
        mut jobs: Vec<NewJob>,
    ) -> Result<BatchAdded, BackendError> {
        let mut queues: Vec<&str> = Vec::new();
        for job in &jobs {
            self.keys(&job.queue)?;
            if !queues.contains(&job.queue.as_str()) {
                queues.push(&job.queue);
            }
        }
        for queue in queues {
            self.schedule_check(queue, id, self.claim_ms() + CHECK_MARGIN_MS)
                .await?;
        }
        for job in &mut jobs {
            job.batch = Some(id);
        }
        // At least one call: adding nothing still says whether the batch takes members.
        let chunks: Vec<&[NewJob]> = if jobs.is_empty() {
            vec![&[]]
        } else {
            jobs.chunks(REGISTER_CHUNK).collect()
        };
        for chunk in chunks {
            let mut call = self.batch_call(&SCRIPTS.batch_add, id);
            call.arg("add");
            for job in chunk {
                call.arg(job.id.to_string())
                    .arg(&job.queue)
                    .arg(encode_job(job));
            }
            let status: String = {
                let mut conn = self.conn().await?;
                call.invoke_async(&mut conn).await.map_err(error::map)?
            };
            match status.as_str() {
                "added" => {}
                "finished" => return Ok(BatchAdded::Finished),
                _ => return Ok(BatchAdded::NotFound),
            }
        }
        let ids: Vec<String> = jobs.iter().map(|j| j.id.to_string()).collect();
        jobs_core::Backend::enqueue(self, jobs).await?;
        // The jobs are stored: done, whatever happens next. Should this report fail, the
        // check finds the jobs stored (enqueueing them again stores nothing).
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        if let Err(e) = self.added(id, &ids).await {
            tracing::warn!(error = %e, batch = %id, "could not report added jobs enqueued; a later check of the batch does");
        }
        Ok(BatchAdded::Added)
    }

    /// Reports added jobs enqueued: they are no longer kept with the batch.
    async fn added(&self, batch: BatchId, ids: &[&str]) -> Result<(), BackendError> {
        for chunk in ids.chunks(REGISTER_CHUNK) {
            let mut call = self.batch_call(&SCRIPTS.batch_add, batch);
            call.arg("added");
            for id in chunk {
                call.arg(*id);
            }
            let mut conn = self.conn().await?;
            let _: i64 = call.invoke_async(&mut conn).await.map_err(error::map)?;
        }
        Ok(())
    }

    /// The batch's counts in one script call, then how many members run: one field read
    /// per queue the members sit on.
    pub(crate) async fn batch_counts(
        &self,
        id: BatchId,
    ) -> Result<Option<BatchCounts>, BackendError> {
        let reply: Value = {
            let mut conn = self.conn().await?;
            self.batch_call(&SCRIPTS.batch_status, id)
                .arg(BATCH_DEAD_JOBS_MAX)
                .invoke_async(&mut conn)
                .await
                .map_err(error::map)?
        };
        if reply == Value::Nil {
            return Ok(None);
        }
        let mut it = reply::array(reply)?.into_iter();
        let [total, succeeded, dead, finished, dead_ids, queues] = take::<6>(&mut it)?;
        let finished = reply::uint(&finished)? == 1;
        let mut running = 0;
        if !finished {
            for queue in reply::array(queues)? {
                let k = self.keys(&reply::string(queue)?)?;
                let mut conn = self.conn().await?;
                let n: Option<i64> = redis::cmd("HGET")
                    .arg(&k.batch_active)
                    .arg(id.to_string())
                    .query_async(&mut conn)
                    .await
                    .map_err(error::map)?;
                running += n.unwrap_or(0).max(0) as u64;
            }
        }
        Ok(Some(
            BatchCounts::new(
                reply::uint(&total)?,
                reply::uint(&succeeded)?,
                reply::uint(&dead)?,
                reply::array(dead_ids)?
                    .into_iter()
                    .map(reply::job_id)
                    .collect::<Result<_, _>>()?,
                finished,
            )
            .with_running(running),
        ))
    }

    async fn batch_page(
        &self,
        id: BatchId,
        what: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Value>, BackendError> {
        let limit = limit.min(BATCH_PAGE_MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let reply: Value = self
            .batch_call(&SCRIPTS.batch_page, id)
            .arg(what)
            .arg(offset)
            .arg(limit)
            .invoke_async(&mut conn)
            .await
            .map_err(error::map)?;
        reply::array(reply)
    }

    pub(crate) async fn batch_member_page(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(JobId, String)>, BackendError> {
        let mut it = self
            .batch_page(id, "members", offset, limit)
            .await?
            .into_iter();
        let mut out = Vec::new();
        while let Ok([job, queue]) = take::<2>(&mut it) {
            out.push((reply::job_id(job)?, reply::string(queue)?));
        }
        Ok(out)
    }

    pub(crate) async fn batch_dead_page(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, BackendError> {
        self.batch_page(id, "dead", offset, limit)
            .await?
            .into_iter()
            .map(reply::job_id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_job_survives_its_encoding() {
        let batch = BatchId::new();
        for run_at in [
            RunAt::Now,
            RunAt::After(Duration::from_millis(1500)),
            RunAt::UnixMillis(1_764_190_000_000),
        ] {
            let job = NewJob {
                id: JobId::new(),
                name: "format_disk".into(),
                queue: "disks".into(),
                payload: br#"{"host":"node-1"}"#.to_vec(),
                priority: -3,
                run_at,
                max_attempts: 7,
                batch: Some(batch),
            };
            let raw = encode_job(&job);
            assert_eq!(decode_job(batch, &job.id.to_string(), &raw).unwrap(), job);
        }
    }

    #[test]
    fn outbox_entries_parse() {
        let batch = BatchId::new();
        let job = JobId::new();
        assert!(matches!(
            parse_entry(&format!("{batch} {job} s")),
            Some((b, Entry::Ended(j, o))) if b == batch && j == job.to_string() && o == "s"
        ));
        assert!(matches!(
            parse_entry(&format!("{batch} check")),
            Some((b, Entry::Check)) if b == batch
        ));
        for bad in [
            "",
            "x y s",
            &format!("{batch} {job} x"),
            &format!("{batch} {job} s extra"),
        ] {
            assert!(parse_entry(bad).is_none(), "{bad}");
        }
    }
}
