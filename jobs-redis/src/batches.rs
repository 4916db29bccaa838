//! Batches on Redis: the batch's keys live under their own hash tag, apart from the
//! members' queues (possibly on other cluster nodes). A member's final ending is written
//! to its queue's outbox in the same script as the ending; draining the outbox counts it
//! in the batch (idempotent per member), and the drainer that sees the batch complete
//! enqueues the callbacks (fixed ids: enqueued once) and then confirms. Entries are
//! removed only after that, so a drainer that dies leaves them for the next one.

use jobs_core::backend::{BatchAdded, NewJob};
use jobs_core::{BackendError, BatchCounts, BatchId, BatchSummary, Callback, JobId};
use redis::Value;

use crate::backend::RedisBackend;
use crate::error;
use crate::keys::{BatchKeys, QueueKeys};
use crate::reply::{self, take};
use crate::scripts::SCRIPTS;

/// Outbox entries handled per round.
const DRAIN_PAGE: isize = 100;

impl RedisBackend {
    fn batch_keys(&self, id: BatchId) -> BatchKeys {
        BatchKeys::new(&self.inner.prefix, id)
    }

    /// [`RedisBackend::drain_outbox`], logging a failure: the outcome that wrote the
    /// entries is already recorded, and the entries stay for the next reservation.
    pub(crate) async fn drain_quietly(&self, k: &QueueKeys) {
        if let Err(e) = self.drain_outbox(k).await {
            tracing::warn!(error = %e, outbox = %k.outbox, "could not count ended batch members yet; the next reservation on this queue retries");
        }
    }

    /// Counts the ended members listed in `k`'s outbox in their batches, fires the
    /// callbacks of batches that are now complete, and removes the entries.
    pub(crate) async fn drain_outbox(&self, k: &QueueKeys) -> Result<(), BackendError> {
        loop {
            let entries: Vec<String> = {
                let mut conn = self.conn().await?;
                redis::cmd("LRANGE")
                    .arg(&k.outbox)
                    .arg(0)
                    .arg(DRAIN_PAGE - 1)
                    .query_async(&mut conn)
                    .await
                    .map_err(error::map)?
            };
            if entries.is_empty() {
                return Ok(());
            }
            let mut by_batch: Vec<(BatchId, Vec<(String, String)>)> = Vec::new();
            for entry in &entries {
                let mut parts = entry.split(' ');
                let (Some(batch), Some(job), Some(outcome)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let Ok(batch) = batch.parse::<BatchId>() else {
                    continue;
                };
                let item = (job.to_owned(), outcome.to_owned());
                match by_batch.iter_mut().find(|(b, _)| *b == batch) {
                    Some((_, items)) => items.push(item),
                    None => by_batch.push((batch, vec![item])),
                }
            }
            let mut kept: Vec<BatchId> = Vec::new();
            for (batch, items) in by_batch {
                if let Err(e) = self.count_and_fire(batch, &items).await {
                    // Its entries stay for a later drain; the other batches go on.
                    tracing::warn!(error = %e, %batch, "could not count batch endings yet");
                    kept.push(batch);
                }
            }
            let done: Vec<&String> = entries
                .iter()
                .filter(|e| {
                    e.split(' ')
                        .next()
                        .and_then(|b| b.parse::<BatchId>().ok())
                        .is_none_or(|b| !kept.contains(&b))
                })
                .collect();
            if !done.is_empty() {
                let mut conn = self.conn().await?;
                let mut pipe = redis::pipe();
                for entry in &done {
                    pipe.cmd("LREM").arg(&k.outbox).arg(1).arg(*entry).ignore();
                }
                pipe.query_async::<()>(&mut conn)
                    .await
                    .map_err(error::map)?;
            }
            // A full page may hold more; a page of only kept entries would loop: stop.
            if (entries.len() as isize) < DRAIN_PAGE || done.is_empty() {
                return Ok(());
            }
        }
    }

    /// Counts one batch's endings and fires its callbacks if it is now complete.
    async fn count_and_fire(
        &self,
        batch: BatchId,
        items: &[(String, String)],
    ) -> Result<(), BackendError> {
        let bk = self.batch_keys(batch);
        let mut call = SCRIPTS.batch_done.prepare_invoke();
        call.key(&bk.meta).key(&bk.members).key(&bk.done);
        for (job, outcome) in items {
            call.arg(job).arg(outcome);
        }
        let complete: Value = {
            let mut conn = self.conn().await?;
            call.invoke_async(&mut conn).await.map_err(error::map)?
        };
        self.fire(batch, complete).await
    }

    /// Enqueues a complete batch's callbacks and marks it finished; nothing for `false`.
    async fn fire(&self, batch: BatchId, complete: Value) -> Result<(), BackendError> {
        if matches!(complete, Value::Nil | Value::Int(0) | Value::Boolean(false)) {
            return Ok(());
        }
        let mut it = reply::array(complete)?.into_iter();
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
                    .map(|c| c.to_job(&summary))
                    .map_err(|e| error::corrupt(format!("batch {batch}: bad callback: {e}")))
            })
            .collect::<Result<_, _>>()?;
        // Enqueue first, confirm after: a drainer that dies in between leaves the batch
        // unconfirmed, and the next one enqueues the same callback ids again (a no-op).
        if !jobs.is_empty() {
            self.enqueue_now(jobs).await?;
        }
        let bk = self.batch_keys(batch);
        let keep = self.inner.retention.succeeded_max_age.as_millis().max(1) as u64;
        let mut conn = self.conn().await?;
        let _: i64 = SCRIPTS
            .batch_confirm
            .key(&bk.meta)
            .key(&bk.members)
            .key(&bk.done)
            .arg(keep)
            .invoke_async(&mut conn)
            .await
            .map_err(error::map)?;
        Ok(())
    }

    pub(crate) async fn batch_add_now(
        &self,
        id: BatchId,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
        open: bool,
    ) -> Result<BatchAdded, BackendError> {
        let bk = self.batch_keys(id);
        let mut call = SCRIPTS.batch_add.prepare_invoke();
        call.key(&bk.meta)
            .key(&bk.members)
            .key(&bk.done)
            .arg(if open { "1" } else { "0" })
            .arg(members.len());
        for (job, queue) in &members {
            call.arg(job.to_string()).arg(queue);
        }
        for cb in &callbacks {
            let json = serde_json::to_string(cb).map_err(|e| BackendError::Other(Box::new(e)))?;
            call.arg(cb.kind.name()).arg(json);
        }
        let reply: Value = {
            let mut conn = self.conn().await?;
            call.invoke_async(&mut conn).await.map_err(error::map)?
        };
        let mut it = reply::array(reply)?.into_iter();
        let [status, complete] = take::<2>(&mut it)?;
        match reply::string(status)?.as_str() {
            "added" => {
                self.fire(id, complete).await?;
                Ok(BatchAdded::Added)
            }
            "finished" => Ok(BatchAdded::Finished),
            _ => Ok(BatchAdded::NotFound),
        }
    }

    pub(crate) async fn batch_counts(
        &self,
        id: BatchId,
    ) -> Result<Option<BatchCounts>, BackendError> {
        let bk = self.batch_keys(id);
        let mut conn = self.conn().await?;
        let reply: Value = SCRIPTS
            .batch_status
            .key(&bk.meta)
            .key(&bk.members)
            .key(&bk.done)
            .invoke_async(&mut conn)
            .await
            .map_err(error::map)?;
        if reply == Value::Nil {
            return Ok(None);
        }
        let mut it = reply::array(reply)?.into_iter();
        let [total, succeeded, dead, finished, dead_ids] = take::<5>(&mut it)?;
        Ok(Some(BatchCounts::new(
            reply::uint(&total)?,
            reply::uint(&succeeded)?,
            reply::uint(&dead)?,
            reply::array(dead_ids)?
                .into_iter()
                .map(reply::job_id)
                .collect::<Result<_, _>>()?,
            reply::uint(&finished)? == 1,
        )))
    }

    pub(crate) async fn batch_member_list(
        &self,
        id: BatchId,
    ) -> Result<Vec<(JobId, String)>, BackendError> {
        let bk = self.batch_keys(id);
        let mut conn = self.conn().await?;
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(&bk.members)
            .query_async(&mut conn)
            .await
            .map_err(error::map)?;
        all.into_iter()
            .map(|(job, queue)| {
                let id = job
                    .parse()
                    .map_err(|_| error::corrupt(format!("batch {id}: bad member id {job:?}")))?;
                Ok((id, queue))
            })
            .collect()
    }
}
