//! The memory store's side of the contract: each call takes the clock, locks the store,
//! lets the queues and batches make their transitions, appends their events and wakes
//! whoever waits. The transitions themselves are in `queue.rs`, `batches.rs`, `state.rs`.

use std::time::Duration;

use super::MemoryBackend;
use super::batches::page;
use super::clock::ms;
use super::record::Record;
use super::state::State;
use crate::store::admin::{
    Deleted, JobPage, LIST_PAGE_MAX, ListCursor, MinuteCounts, PURGE_BATCH, WorkerInfo,
};
use crate::store::backend::{
    Backend, BatchAdded, CancelOutcome, Enqueued, Finish, JobInfo, Lease, LeaseStatus, NewJob,
    Outcome, Progress, QueueStats, Recovered, Reschedule, RescheduleOutcome, Reserved,
};
use crate::store::backend::{JobState, listed_state};
use crate::store::batch::{BatchCounts, BatchId, Callback};
use crate::store::error::BackendError;
use crate::store::event::{Event, EventCursor};
use crate::store::flow::QueueLimits;
use crate::store::id::JobId;
use crate::store::retention::RECOVER_BATCH;

impl Backend for MemoryBackend {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), BackendError> {
        for job in &jobs {
            job.validate_flow()?;
        }
        let now = self.now_ms();
        let mut state = self.lock();
        let any = self.store(&mut state, jobs, now);
        drop(state);
        if any {
            self.shared.notify.notify_waiters();
        }
        Ok(())
    }

    async fn enqueue_unique(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, BackendError> {
        for job in &jobs {
            job.validate_flow()?;
        }
        let now = self.now_ms();
        let retention = self.shared.store.retention();
        let mut state = self.lock();
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let q = state.queues.entry(job.queue.clone()).or_default();
            out.push(q.insert_unique(job, now, &retention));
            self.flush_events(q, now);
        }
        self.settle(&mut state, now);
        drop(state);
        self.shared.notify.notify_waiters();
        Ok(out)
    }

    async fn reserve(
        &self,
        queues: &[String],
        max: usize,
        lease_for: Duration,
    ) -> Result<Vec<Reserved>, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let State {
            queues: all,
            next_token,
            paused_batches,
            ..
        } = &mut *state;
        let mut out = Vec::new();
        for name in queues {
            // Queues are visited (maintained, then drained) only while the batch has room.
            if out.len() >= max {
                break;
            }
            let Some(q) = all.get_mut(name) else { continue };
            q.promote_due(now);
            q.recover_expired(now, RECOVER_BATCH, &self.shared.store);
            while out.len() < max {
                *next_token += 1;
                match q.pop_ready(
                    now,
                    ms(lease_for),
                    *next_token,
                    &self.shared.store.retention(),
                    paused_batches,
                ) {
                    Some(job) => out.push(job),
                    None => break,
                }
            }
            self.flush_events(q, now);
        }
        self.settle(&mut state, now);
        Ok(out)
    }

    async fn wait_for_work(
        &self,
        queues: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        // Register for wake-ups before looking, so an enqueue between the look and the
        // wait is not missed.
        let notified = self.shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = self.now_ms();
        let next_due = {
            let state = self.lock();
            let mut next: Option<u64> = None;
            for q in queues.iter().filter_map(|name| state.queues.get(name)) {
                if q.has_ready(now) {
                    return Ok(());
                }
                next = next.into_iter().chain(q.next_due(now)).min();
            }
            next
        };
        let wait = next_due.map_or(timeout, |at| {
            Duration::from_millis(at.saturating_sub(now)).min(timeout)
        });
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(wait) => {}
        }
        Ok(())
    }

    async fn renew(
        &self,
        leases: &[Lease],
        lease_for: Duration,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        Ok(leases
            .iter()
            .map(|lease| match state.queues.get_mut(&lease.queue) {
                Some(q) => q.renew(lease, now, ms(lease_for)),
                None => LeaseStatus::Stale,
            })
            .collect())
    }

    async fn finish(&self, items: Vec<Finish>) -> Result<Vec<LeaseStatus>, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let mut wake = false;
        let out = items
            .into_iter()
            .map(|item| {
                // A sleeping worker must also learn of a new earliest run-at (retry, snooze).
                wake |= !matches!(item.outcome, Outcome::Succeeded { .. });
                match state.queues.get_mut(&item.lease.queue) {
                    Some(q) => {
                        // A slot under a limit is free again: jobs held back may start.
                        wake |=
                            item.lease.limit_key.is_some() || q.flow.limits.concurrency.is_some();
                        let status = q.finish(item, now, &self.shared.store.retention());
                        self.flush_events(q, now);
                        status
                    }
                    None => LeaseStatus::Stale,
                }
            })
            .collect();
        self.settle(&mut state, now);
        drop(state);
        if wake {
            self.shared.notify.notify_waiters();
        }
        Ok(out)
    }

    async fn recover_expired(&self, queue: &str, limit: usize) -> Result<Recovered, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let out = match state.queues.get_mut(queue) {
            Some(q) => {
                let out = q.recover_expired(now, limit, &self.shared.store);
                self.flush_events(q, now);
                out
            }
            None => Recovered::default(),
        };
        self.settle(&mut state, now);
        drop(state);
        if out.requeued > 0 {
            self.shared.notify.notify_waiters();
        }
        Ok(out)
    }

    async fn job(&self, queue: &str, id: JobId) -> Result<Option<JobInfo>, BackendError> {
        let state = self.lock();
        Ok(state
            .queues
            .get(queue)
            .and_then(|q| q.jobs.get(&id))
            .map(Record::info))
    }

    async fn reschedule(
        &self,
        queue: &str,
        id: JobId,
        change: Reschedule,
    ) -> Result<RescheduleOutcome, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let out = match state.queues.get_mut(queue) {
            Some(q) => q.reschedule(id, change, now),
            None => RescheduleOutcome::NotFound,
        };
        drop(state);
        if out == RescheduleOutcome::Moved {
            self.shared.notify.notify_waiters();
        }
        Ok(out)
    }

    async fn set_limits(&self, queue: &str, mut limits: QueueLimits) -> Result<(), BackendError> {
        limits.validate()?;
        // Windows are kept to the millisecond, as on Redis.
        for rate in [&mut limits.rate, &mut limits.per_key_rate]
            .into_iter()
            .flatten()
        {
            rate.per = Duration::from_millis(ms(rate.per));
        }
        crate::store::queue_name::validate_queue_name(queue)?;
        let mut state = self.lock();
        state
            .queues
            .entry(queue.to_owned())
            .or_default()
            .flow
            .set_limits(limits);
        drop(state);
        self.shared.notify.notify_waiters();
        Ok(())
    }

    async fn limits(&self, queue: &str) -> Result<QueueLimits, BackendError> {
        let state = self.lock();
        Ok(state
            .queues
            .get(queue)
            .map(|q| q.flow.limits)
            .unwrap_or_default())
    }

    async fn set_paused(&self, queue: &str, paused: bool) -> Result<(), BackendError> {
        crate::store::queue_name::validate_queue_name(queue)?;
        let mut state = self.lock();
        state
            .queues
            .entry(queue.to_owned())
            .or_default()
            .flow
            .paused = paused;
        drop(state);
        if !paused {
            self.shared.notify.notify_waiters();
        }
        Ok(())
    }

    async fn stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let state = self.lock();
        Ok(state
            .queues
            .get(queue)
            .map(|q| q.stats())
            .unwrap_or_default())
    }

    async fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobInfo>, BackendError> {
        let state = self.lock();
        Ok(state
            .queues
            .get(queue)
            .map(|q| q.dead_jobs(offset, limit))
            .unwrap_or_default())
    }

    async fn retry_dead(&self, queue: &str, ids: &[JobId]) -> Result<u64, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return Ok(0);
        };
        let mut moved = 0;
        for id in ids {
            moved += u64::from(q.retry_dead(*id, now));
        }
        drop(state);
        if moved > 0 {
            self.shared.notify.notify_waiters();
        }
        Ok(moved)
    }

    async fn list_jobs(
        &self,
        queue: &str,
        state: JobState,
        after: Option<ListCursor>,
        limit: usize,
    ) -> Result<JobPage, BackendError> {
        let limit = limit.min(LIST_PAGE_MAX);
        let store = self.lock();
        Ok(match store.queues.get(queue) {
            Some(q) if limit > 0 => q.list(listed_state(state), after, limit),
            _ => JobPage::new(Vec::new(), None),
        })
    }

    async fn delete_jobs(&self, queue: &str, ids: &[JobId]) -> Result<Vec<Deleted>, BackendError> {
        let now = self.now_ms();
        let retention = self.shared.store.retention();
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return Ok(vec![Deleted::NotFound; ids.len()]);
        };
        let out = ids
            .iter()
            .map(|id| q.delete(*id, now, &retention))
            .collect();
        self.settle(&mut state, now);
        Ok(out)
    }

    async fn purge(&self, queue: &str, state: JobState, limit: usize) -> Result<u64, BackendError> {
        if state == JobState::Active {
            return Err(BackendError::Refused(crate::reason::PURGE_ACTIVE.into()));
        }
        let now = self.now_ms();
        let retention = self.shared.store.retention();
        let mut store = self.lock();
        let Some(q) = store.queues.get_mut(queue) else {
            return Ok(0);
        };
        let deleted = q.purge(listed_state(state), limit.min(PURGE_BATCH), now, &retention);
        self.settle(&mut store, now);
        Ok(deleted)
    }

    async fn queues(&self) -> Result<Vec<String>, BackendError> {
        let now = self.now_ms();
        let state = self.lock();
        let served = state
            .workers
            .values()
            .filter(|w| w.expires_at_ms > now)
            .flat_map(|w| w.queues.iter());
        let mut names: Vec<String> = state.queues.keys().chain(served).cloned().collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn throughput(
        &self,
        queue: &str,
        minutes: u32,
    ) -> Result<Vec<MinuteCounts>, BackendError> {
        let now = self.now_ms();
        let state = self.lock();
        let empty = Default::default();
        Ok(state
            .queues
            .get(queue)
            .unwrap_or(&empty)
            .throughput(now, minutes))
    }

    async fn worker_beat(&self, mut info: WorkerInfo, ttl: Duration) -> Result<(), BackendError> {
        let now = self.now_ms();
        info.last_beat_ms = now;
        info.expires_at_ms = now.saturating_add(ms(ttl));
        let mut state = self.lock();
        state.workers.retain(|_, w| w.expires_at_ms > now);
        state.workers.insert(info.id.clone(), info);
        Ok(())
    }

    async fn worker_gone(&self, id: &str) -> Result<(), BackendError> {
        self.lock().workers.remove(id);
        Ok(())
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        state.workers.retain(|_, w| w.expires_at_ms > now);
        let mut out: Vec<WorkerInfo> = state.workers.values().cloned().collect();
        out.sort_by(|a, b| (a.started_at_ms, &a.id).cmp(&(b.started_at_ms, &b.id)));
        Ok(out)
    }

    async fn cancel(&self, queue: &str, id: JobId) -> Result<CancelOutcome, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return Ok(CancelOutcome::NotFound);
        };
        let outcome = q.cancel(id, now, &self.shared.store.retention());
        self.settle(&mut state, now);
        Ok(outcome)
    }

    async fn batch_open(
        &self,
        id: BatchId,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
    ) -> Result<BatchAdded, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let opened = state
            .batches
            .entry(id)
            .or_default()
            .open(members, callbacks);
        if opened == BatchAdded::Added && state.fire_if_complete(id, now) {
            self.settle(&mut state, now);
        }
        Ok(opened)
    }

    async fn batch_add(&self, id: BatchId, jobs: Vec<NewJob>) -> Result<BatchAdded, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let added = match state.batches.get_mut(&id) {
            Some(b) => b.add(&jobs),
            None => BatchAdded::NotFound,
        };
        if added != BatchAdded::Added {
            return Ok(added);
        }
        // Registered and enqueued in one critical section: nothing can die in between.
        let jobs = jobs.into_iter().map(|mut job| {
            job.batch = Some(id);
            job
        });
        self.store(&mut state, jobs, now);
        drop(state);
        self.shared.notify.notify_waiters();
        Ok(BatchAdded::Added)
    }

    async fn batch(&self, id: BatchId) -> Result<Option<BatchCounts>, BackendError> {
        let state = self.lock();
        Ok(state.batches.get(&id).filter(|b| b.opened).map(|b| {
            b.counts()
                .with_running(state.running(id, b))
                .with_paused(state.paused_batches.contains(&id))
        }))
    }

    async fn set_batch_paused(&self, id: BatchId, paused: bool) -> Result<bool, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        if !state.batches.get(&id).is_some_and(|b| b.opened) {
            return Ok(false);
        }
        if paused {
            state.paused_batches.insert(id);
        } else if state.paused_batches.remove(&id) {
            for q in state.queues.values_mut() {
                q.unpark(id, now);
            }
        }
        drop(state);
        if !paused {
            self.shared.notify.notify_waiters();
        }
        Ok(true)
    }

    async fn batch_members(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(JobId, String)>, BackendError> {
        let state = self.lock();
        let Some(b) = state.batches.get(&id) else {
            return Ok(Vec::new());
        };
        Ok(page(&b.order, offset, limit)
            .into_iter()
            .map(|m| (m, b.members[&m].clone()))
            .collect())
    }

    async fn batch_dead_jobs(
        &self,
        id: BatchId,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, BackendError> {
        let state = self.lock();
        Ok(state
            .batches
            .get(&id)
            .map(|b| page(&b.dead, offset, limit))
            .unwrap_or_default())
    }

    async fn progress(
        &self,
        items: Vec<(Lease, Progress)>,
    ) -> Result<Vec<LeaseStatus>, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let out = items
            .into_iter()
            .map(
                |(lease, progress)| match state.queues.get_mut(&lease.queue) {
                    Some(q) => q.progress(&lease, progress),
                    None => LeaseStatus::Stale,
                },
            )
            .collect();
        // One entry per queue for the whole call, as on Redis.
        self.settle(&mut state, now);
        Ok(out)
    }

    async fn read_events(
        &self,
        queue: &str,
        after: Option<EventCursor>,
        max_entries: usize,
        wait: Duration,
    ) -> Result<Vec<Event>, BackendError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so an append between the look and the wait wakes us.
            let notified = self.shared.events.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = self
                .lock()
                .queues
                .get(queue)
                .map(|q| q.events.read(after.as_ref(), max_entries.max(1)))
                .unwrap_or_default();
            if !found.is_empty() {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn last_event(&self, queue: &str) -> Result<Option<EventCursor>, BackendError> {
        Ok(self
            .lock()
            .queues
            .get(queue)
            .and_then(|q| q.events.last_cursor()))
    }
}
