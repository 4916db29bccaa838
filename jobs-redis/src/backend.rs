//! The [`Backend`](jobs_core::Backend) implementation. Each call is one script per queue
//! touched (the scripts and their typed calls are in [`crate::scripts`]); this module
//! only coordinates: which script, which chunk, what to do with the answer.
//!
//! The data path, in order: [`enqueue`](jobs_core::Backend::enqueue) (through the
//! `Combiner` (`combiner.rs`) for single jobs) → [`reserve`](jobs_core::Backend::reserve) →
//! [`renew`](jobs_core::Backend::renew) / [`progress`](jobs_core::Backend::progress)
//! while the job runs → [`finish`](jobs_core::Backend::finish), which drains the batch
//! outbox ([`crate::batches`]) when a batch member ended.

use std::time::Duration;

use jobs_core::backend::{BatchAdded, CancelOutcome, Enqueued, Reschedule, RescheduleOutcome};
use jobs_core::backend::{
    Finish, JobInfo, Lease, LeaseStatus, NewJob, Progress, QueueStats, Recovered, Reserved,
};
use jobs_core::event::{Event, EventCursor};
use jobs_core::{BATCH_PAGE_MAX, BackendError, JobId, RECOVER_BATCH, validate_queue_name};
use jobs_core::{BatchCounts, BatchId, Callback, QueueLimits};

use crate::batches;
use crate::conn::Conn;
use crate::grouping::{self, Chunk};
use crate::handle::{ENQUEUE_CHUNK, RedisBackend};
use crate::keys::QueueKeys;
use crate::scripts::{self, finish, ms};

/// Most dead jobs retried in one script call.
const RETRY_CHUNK: usize = 1_000;
/// Most jobs looked up by one script call (under 5 ms of server time, as for enqueue).
const LOOKUP_CHUNK: usize = 250;
/// Stored jobs examined by one sweep script call.
const SWEEP_PAGE: usize = 500;
/// Most dead jobs listed in one call.
const DEAD_PAGE_MAX: usize = 1_000;
/// Most jobs leased, renewed or finished by one script call: bounds the time any one
/// script holds the server, however large a worker's concurrency.
const BATCH_MAX: usize = 1_000;

impl RedisBackend {
    fn chunks<'a, T>(
        &self,
        items: &'a [T],
        queue_of: impl Fn(&'a T) -> &'a str,
    ) -> Result<Vec<Chunk<'a, T>>, BackendError> {
        grouping::chunks(items, BATCH_MAX, queue_of, |q| self.keys(q))
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
            out.extend(scripts::job::call(&mut conn, &k, queue, chunk).await?);
        }
        Ok(out)
    }

    /// One queue's reservation, appended to `out`; `drains` gets the queue's keys when
    /// its outbox has batch work due.
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
        let before = out.len();
        let settings = &self.inner.settings;
        let reply = scripts::reserve::call(conn, &k, settings, queue, (max, lease_for), out);
        let reply = reply.await?;
        for id in &reply.skipped {
            tracing::error!(
                queue,
                job_id = %id,
                "skipped a ready job whose record is missing (deleted outside the framework?)"
            );
        }
        if !reply.unusable.is_empty() {
            for (id, _, why) in &reply.unusable {
                let id = String::from_utf8_lossy(id);
                let id = scripts::reserve::cut(&id);
                tracing::error!(queue, job_id = %id, reason = %why, "moved a job the worker cannot use to dead (edited outside the framework?)");
            }
            let items = (reply.unusable.iter())
                .map(|(id, token, why)| finish::Item::corrupt(id.clone(), *token, why));
            finish::call(conn, &k, settings, items).await?;
        }
        if reply.outbox()? > 0 {
            drains.push(k);
        }
        if out.len() == before {
            self.inner.waiter.note_next(queue, reply.next_in_ms()?);
        }
        Ok(())
    }
}

impl jobs_core::Backend for RedisBackend {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), BackendError> {
        if jobs.is_empty() {
            return Ok(());
        }
        // Refused before it can share a call (and fail) with other callers' jobs. The
        // rule `QueueKeys::new` applies, without building the keys.
        for job in &jobs {
            validate_queue_name(&job.queue)?;
            job.validate_flow()?;
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

    async fn enqueue_unique(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, BackendError> {
        for job in &jobs {
            validate_queue_name(&job.queue)?;
            job.validate_flow()?;
        }
        // One call per queue and chunk, each atomic; answers put back in the jobs' order.
        let mut out = vec![Enqueued::AlreadyStored; jobs.len()];
        let chunks =
            grouping::chunks(&jobs, ENQUEUE_CHUNK, |j| j.queue.as_str(), |q| self.keys(q))?;
        for chunk in chunks {
            let reply = {
                let mut conn = self.conn().await?;
                if let Some(job) = chunk.items().next() {
                    self.note_queue(&mut conn, &job.queue).await;
                }
                scripts::enqueue_unique::call(
                    &mut conn,
                    &chunk.keys,
                    &self.inner.settings,
                    chunk.items(),
                )
                .await?
            };
            chunk.place(reply.answers, &mut out);
            if reply.outbox > 0 {
                batches::drain_quietly(self, &chunk.keys).await;
            }
        }
        Ok(out)
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
        // Batch endings a finisher left behind (it died, or its drain failed), counted in
        // the background: the jobs just leased must reach the worker without waiting.
        // Best effort: the next call retries.
        if !drains.is_empty() {
            let this = self.clone();
            tokio::spawn(async move {
                for k in drains {
                    batches::drain_quietly(&this, &k).await;
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
        let Some(until) = self.inner.waiter.wait_until(queues, timeout) else {
            return Ok(());
        };
        let keys = queues
            .iter()
            .map(|q| self.keys(q).map(|k| k.wake))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.waiter.wait(&keys, timeout, until).await
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
        for c in self.chunks(leases, |l| &l.queue)? {
            let answers = scripts::renew::call(&mut conn, &c.keys, ms(lease_for), c.items());
            c.place(answers.await?, &mut out);
        }
        Ok(out)
    }

    async fn finish(&self, items: Vec<Finish>) -> Result<Vec<LeaseStatus>, BackendError> {
        let mut out = vec![LeaseStatus::Stale; items.len()];
        if items.is_empty() {
            return Ok(out);
        }
        let mut conn = self.conn().await?;
        let mut drains: Vec<QueueKeys> = Vec::new();
        for c in self.chunks(&items, |f| &f.lease.queue)? {
            let ends = c.items().map(|f| finish::Item::new(&f.lease, &f.outcome));
            let reply = finish::call(&mut conn, &c.keys, &self.inner.settings, ends).await?;
            c.place(reply.statuses, &mut out);
            if reply.outbox > 0 && !drains.iter().any(|d| d.outbox == c.keys.outbox) {
                drains.push(c.keys);
            }
        }
        drop(conn);
        // Count the batch members that just ended. Should this fail or the process die
        // now, the entries stay in the outbox and the next reservation drains them.
        for k in drains {
            batches::drain_quietly(self, &k).await;
        }
        Ok(out)
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
        for c in self.chunks(&items, |(l, _)| &l.queue)? {
            let settings = &self.inner.settings;
            let answers = scripts::progress::call(&mut conn, &c.keys, settings, c.items());
            c.place(answers.await?, &mut out);
        }
        Ok(out)
    }

    async fn recover_expired(&self, queue: &str, limit: usize) -> Result<Recovered, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let limit = limit.min(RECOVER_BATCH);
        let reply = scripts::recover::call(&mut conn, &k, &self.inner.settings, limit).await?;
        drop(conn);
        if reply.outbox > 0 {
            batches::drain_quietly(self, &k).await;
        }
        let mut out = Recovered::default();
        out.requeued = reply.requeued;
        out.dead = reply.dead;
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
            let page =
                scripts::sweep::call(&mut conn, &k, &self.inner.settings, &cursor, SWEEP_PAGE)
                    .await?;
            moved += page.moved;
            match page.next {
                Some(next) => cursor = next,
                None => break page.outbox,
            }
        };
        if outbox > 0 {
            batches::drain_quietly(self, &k).await;
        }
        Ok(moved)
    }

    async fn reschedule(
        &self,
        queue: &str,
        id: JobId,
        change: Reschedule,
    ) -> Result<RescheduleOutcome, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        scripts::reschedule::call(&mut conn, &k, id, change).await
    }

    async fn set_limits(&self, queue: &str, limits: QueueLimits) -> Result<(), BackendError> {
        limits.validate()?;
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        scripts::set_flow::call(&mut conn, &k, scripts::set_flow::Change::Limits(limits)).await
    }

    async fn limits(&self, queue: &str) -> Result<QueueLimits, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        scripts::set_flow::limits(&mut conn, &k).await
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> Result<(), BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        scripts::set_flow::call(&mut conn, &k, scripts::set_flow::Change::Paused(paused)).await
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        scripts::stats::call(&mut conn, &k).await
    }

    async fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobInfo>, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let limit = limit.min(DEAD_PAGE_MAX);
        scripts::dead_list::call(&mut conn, &k, queue, offset, limit).await
    }

    async fn retry_dead(&self, queue: &str, ids: &[JobId]) -> Result<u64, BackendError> {
        let k = self.keys(queue)?;
        let mut conn = self.conn().await?;
        let mut moved = 0;
        for chunk in ids.chunks(RETRY_CHUNK) {
            moved += scripts::retry_dead::call(&mut conn, &k, chunk).await?;
        }
        Ok(moved)
    }

    async fn list_jobs(
        &self,
        queue: &str,
        state: jobs_core::backend::JobState,
        after: Option<jobs_core::ListCursor>,
        limit: usize,
    ) -> Result<jobs_core::JobPage, BackendError> {
        self.list_jobs_page(queue, state, after, limit).await
    }

    async fn delete_jobs(
        &self,
        queue: &str,
        ids: &[JobId],
    ) -> Result<Vec<jobs_core::Deleted>, BackendError> {
        self.delete_ids(queue, ids).await
    }

    async fn purge(
        &self,
        queue: &str,
        state: jobs_core::backend::JobState,
        limit: usize,
    ) -> Result<u64, BackendError> {
        self.purge_step(queue, state, limit).await
    }

    async fn queues(&self) -> Result<Vec<String>, BackendError> {
        self.queue_list().await
    }

    async fn throughput(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<Vec<jobs_core::MinuteCounts>, BackendError> {
        self.minutes(queue, minutes).await
    }

    async fn worker_beat(
        &self,
        info: jobs_core::WorkerInfo,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        self.beat(&info.id, Some(&info), ttl).await
    }

    async fn worker_gone(&self, id: &str) -> Result<(), BackendError> {
        self.beat(id, None, Duration::ZERO).await
    }

    async fn workers(&self) -> Result<Vec<jobs_core::WorkerInfo>, BackendError> {
        self.worker_list().await
    }

    async fn cancel(&self, queue: &str, id: JobId) -> Result<CancelOutcome, BackendError> {
        let k = self.keys(queue)?;
        let reply = {
            let mut conn = self.conn().await?;
            scripts::cancel::call(&mut conn, &k, &self.inner.settings, id).await?
        };
        if reply.outbox > 0 {
            batches::drain_quietly(self, &k).await;
        }
        reply.outcome()
    }

    async fn batch_open(
        &self,
        id: BatchId,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
    ) -> Result<BatchAdded, BackendError> {
        crate::batches::batch_open(self, id, members, callbacks).await
    }

    async fn set_batch_paused(&self, id: BatchId, paused: bool) -> Result<bool, BackendError> {
        crate::batches::set_paused(self, id, paused).await
    }

    async fn batch_add(&self, id: BatchId, jobs: Vec<NewJob>) -> Result<BatchAdded, BackendError> {
        crate::batches::batch_add(self, id, jobs).await
    }

    async fn batch(&self, id: BatchId) -> Result<Option<BatchCounts>, BackendError> {
        crate::batches::batch(self, id).await
    }

    async fn batch_members(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(JobId, String)>, BackendError> {
        let Some(limit) = page_limit(limit) else {
            return Ok(Vec::new());
        };
        let bk = self.batch_keys(id);
        scripts::batch_page::members(&mut self.conn().await?, &bk, offset, limit).await
    }

    async fn batch_dead_jobs(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, BackendError> {
        let Some(limit) = page_limit(limit) else {
            return Ok(Vec::new());
        };
        let bk = self.batch_keys(id);
        scripts::batch_page::dead(&mut self.conn().await?, &bk, offset, limit).await
    }

    async fn read_events(
        &self,
        queue: &str,
        after: Option<EventCursor>,
        max_entries: usize,
        wait: Duration,
    ) -> Result<Vec<Event>, BackendError> {
        crate::events::read_events(self, queue, after, max_entries, wait).await
    }

    async fn last_event(&self, queue: &str) -> Result<Option<EventCursor>, BackendError> {
        crate::events::last_event(self, queue).await
    }
}

/// A page of a batch holds at most [`BATCH_PAGE_MAX`] entries; `None` for an empty page.
fn page_limit(limit: usize) -> Option<usize> {
    Some(limit.min(BATCH_PAGE_MAX)).filter(|l| *l > 0)
}
