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

use jobs_core::backend::{BatchAdded, NewJob};
use jobs_core::{
    BackendError, BatchCounts, BatchId, BatchSummary, Callback, CallbackKind, JobId,
    validate_queue_name,
};
use redis::Value;

use crate::error;
use crate::handle::RedisBackend;
use crate::keys::QueueKeys;
use crate::reply::{self, take};
use crate::scripts::batch_add::{self, Answer, decode_job};
use crate::scripts::batch_done::{self, Status};
use crate::scripts::{batch_confirm, batch_outbox, batch_pause, batch_status, set_batch_pause};

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

/// [`drain_outbox`], logging a failure: the outcome that wrote the
/// entries is already recorded, and the entries stay for the next reservation.
pub(crate) async fn drain_quietly(this: &RedisBackend, k: &QueueKeys) {
    if let Err(e) = drain_outbox(this, k).await {
        tracing::warn!(error = %e, outbox = %k.outbox, "could not count ended batch members yet; the next reservation on this queue retries");
    }
}

/// Does the due batch work in `k`'s outbox: counts ended members in their batches,
/// fires the callbacks of batches that are now complete, runs checks. Each entry read
/// is removed, or kept and due again later: none stays due, so an idle worker is not
/// woken for it again and again.
pub(crate) async fn drain_outbox(this: &RedisBackend, k: &QueueKeys) -> Result<(), BackendError> {
    for _ in 0..DRAIN_ROUNDS {
        let entries = batch_outbox::due(&mut this.conn().await?, k, DRAIN_PAGE).await?;
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
            let n = match settle_batch(this, group).await {
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
        batch_outbox::settle(&mut this.conn().await?, k, &remove, &retry).await?;
        if entries.len() < DRAIN_PAGE {
            return Ok(());
        }
    }
    Ok(())
}

/// Counts one batch's endings (and runs its check), enqueues added jobs whose adder
/// died, and fires the batch if it is complete and nobody else is firing it.
async fn settle_batch(this: &RedisBackend, group: &Group) -> Result<Next, BackendError> {
    let batch = group.batch;
    let bk = this.batch_keys(batch);
    let standing = {
        let mut conn = this.conn().await?;
        let claim = this.inner.settings.claim_ms();
        batch_done::call(
            &mut conn,
            &bk,
            claim,
            group.check,
            RECOVER_MAX,
            &group.endings,
        )
        .await?
    };
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
            this.enqueue_now(jobs).await?;
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
            inner = Box::pin(settle_batch(this, &dead)).await?;
        }
        added(this, batch, &ids).await?;
    }
    if let Next::Retry(ms) = inner {
        return Ok(Next::Retry(ms));
    }
    Ok(match standing.status {
        Status::Fire => {
            fire(this, batch, standing.summary).await?;
            Next::Remove
        }
        Status::Claimed => Next::Retry(standing.retry_in.unwrap_or(0) + CLAIM_MARGIN_MS),
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
async fn fire(this: &RedisBackend, batch: BatchId, summary: Value) -> Result<(), BackendError> {
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
    let mut jobs: Vec<NewJob> = Vec::new();
    let mut callbacks = reply::array(callbacks)?.into_iter();
    while let Ok([kind, json]) = take::<2>(&mut callbacks) {
        // Only the callbacks that fire are read: one that does not fire cannot stop them.
        let fires = CallbackKind::from_name(&reply::string(kind)?)
            .is_some_and(|kind| kind.fires(summary.dead));
        if fires {
            let callback = serde_json::from_str::<Callback>(&reply::string(json)?)
                .map_err(|e| error::corrupt(format!("batch {batch}: bad callback: {e}")))?;
            jobs.push(NewJob::from_callback(&callback, &summary));
        }
    }
    if !jobs.is_empty() {
        this.enqueue_now(jobs).await?;
    }
    let retention = this.inner.settings.store.retention();
    let keep = retention.succeeded_max_age.as_millis().max(1) as u64;
    batch_confirm::call(&mut this.conn().await?, &this.batch_keys(batch), keep).await
}

/// Schedules a check of `batch` in `queue`'s outbox, due after the claim period.
async fn schedule_check(
    this: &RedisBackend,
    queue: &str,
    batch: BatchId,
) -> Result<(), BackendError> {
    let k = this.keys(queue)?;
    let delay = this.inner.settings.claim_ms() + CHECK_MARGIN_MS;
    batch_outbox::check(&mut this.conn().await?, &k, batch, delay).await
}

/// Records members in chunks, schedules a check (so that a firing the open claims is
/// taken up should this caller die), then opens the batch and fires it if complete.
pub(crate) async fn batch_open(
    this: &RedisBackend,
    id: BatchId,
    members: Vec<(JobId, String)>,
    callbacks: Vec<Callback>,
) -> Result<BatchAdded, BackendError> {
    for (_, queue) in &members {
        validate_queue_name(queue)?;
    }
    let bk = this.batch_keys(id);
    // At least one call, even for an empty batch: the check below then finds the
    // batch created (and waits for its open) rather than unknown.
    let chunks: Vec<&[(JobId, String)]> = if members.is_empty() {
        vec![&[]]
    } else {
        members.chunks(REGISTER_CHUNK).collect()
    };
    for chunk in chunks {
        let mut conn = this.conn().await?;
        if batch_add::register(&mut conn, &bk, UNOPENED_TTL_MS, chunk).await? == Answer::Finished {
            return Ok(BatchAdded::Finished);
        }
    }
    // The callbacks' queue has workers (or the callbacks never run); else a member's.
    let check_queue = callbacks
        .first()
        .map(|c| c.queue.as_str())
        .or(members.first().map(|(_, q)| q.as_str()));
    if let Some(queue) = check_queue {
        schedule_check(this, queue, id).await?;
    }
    let opened = {
        let mut conn = this.conn().await?;
        batch_add::open(&mut conn, &bk, this.inner.settings.claim_ms(), &callbacks).await?
    };
    match opened {
        (Answer::Finished, _) => return Ok(BatchAdded::Finished),
        (_, Some(standing)) if standing.status == Status::Fire => {
            fire(this, id, standing.summary).await?;
        }
        _ => {}
    }
    Ok(BatchAdded::Added)
}

/// Adds jobs to an open batch and enqueues them. Each job is kept with the batch
/// until it is enqueued, and a check is scheduled first: should this caller die in
/// between, a worker enqueues the jobs once the claim period has passed.
pub(crate) async fn batch_add(
    this: &RedisBackend,
    id: BatchId,
    mut jobs: Vec<NewJob>,
) -> Result<BatchAdded, BackendError> {
    let mut queues: Vec<&str> = Vec::new();
    for job in &jobs {
        validate_queue_name(&job.queue)?;
        if !queues.contains(&job.queue.as_str()) {
            queues.push(&job.queue);
        }
    }
    for queue in queues {
        schedule_check(this, queue, id).await?;
    }
    for job in &mut jobs {
        job.batch = Some(id);
    }
    let bk = this.batch_keys(id);
    // At least one call: adding nothing still says whether the batch takes members.
    let chunks: Vec<&[NewJob]> = if jobs.is_empty() {
        vec![&[]]
    } else {
        jobs.chunks(REGISTER_CHUNK).collect()
    };
    for chunk in chunks {
        match batch_add::add(&mut this.conn().await?, &bk, chunk).await? {
            Answer::Added => {}
            Answer::Finished => return Ok(BatchAdded::Finished),
            Answer::NotFound => return Ok(BatchAdded::NotFound),
        }
    }
    let ids: Vec<String> = jobs.iter().map(|j| j.id.to_string()).collect();
    jobs_core::Backend::enqueue(this, jobs).await?;
    // The jobs are stored: done, whatever happens next. Should this report fail, the
    // check finds the jobs stored (enqueueing them again stores nothing).
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    if let Err(e) = added(this, id, &ids).await {
        tracing::warn!(error = %e, batch = %id, "could not report added jobs enqueued; a later check of the batch does");
    }
    Ok(BatchAdded::Added)
}

/// Reports added jobs enqueued: they are no longer kept with the batch.
async fn added(this: &RedisBackend, batch: BatchId, ids: &[&str]) -> Result<(), BackendError> {
    let bk = this.batch_keys(batch);
    for chunk in ids.chunks(REGISTER_CHUNK) {
        batch_add::added(&mut this.conn().await?, &bk, chunk).await?;
    }
    Ok(())
}

/// The batch's counts in one script call, then how many members run: one field read
/// per queue the members sit on.
pub(crate) async fn batch(
    this: &RedisBackend,
    id: BatchId,
) -> Result<Option<BatchCounts>, BackendError> {
    let status = {
        let mut conn = this.conn().await?;
        batch_status::call(&mut conn, &this.batch_keys(id)).await?
    };
    let Some(status) = status else {
        return Ok(None);
    };
    let mut running = 0;
    if !status.finished {
        for queue in &status.queues {
            let k = this.keys(queue)?;
            let mut conn = this.conn().await?;
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
            status.total,
            status.succeeded,
            status.dead,
            status.dead_jobs,
            status.finished,
        )
        .with_running(running)
        .with_paused(status.paused),
    ))
}

/// Pauses or resumes batch `id`: marked on the batch, then applied on each queue its
/// members sit on (a resume puts the parked members back in line, in bounded steps).
pub(crate) async fn set_paused(
    this: &RedisBackend,
    id: BatchId,
    paused: bool,
) -> Result<bool, BackendError> {
    let queues = {
        let mut conn = this.conn().await?;
        batch_pause::mark(&mut conn, &this.batch_keys(id), paused).await?
    };
    let Some(queues) = queues else {
        return Ok(false);
    };
    for queue in queues {
        let k = this.keys(&queue)?;
        let mut conn = this.conn().await?;
        while set_batch_pause::apply(&mut conn, &k, id, paused).await? > 0 {}
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

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
