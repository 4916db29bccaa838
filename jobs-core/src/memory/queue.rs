//! One queue of the memory store and its transitions: each method is one step of a job's
//! lifecycle (stored, ready, leased, renewed, finished, retried, cancelled, trimmed), the
//! counterpart of one Lua script's work on one queue.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};

use super::admin::Ended;
use super::clock::ms;
use super::events::EventLog;
use super::flow::Flow;
use super::record::Record;
use crate::store::backend::{
    CancelOutcome, Enqueued, Finish, JobInfo, JobState, Lease, LeaseStatus, NewJob, Outcome,
    Progress, QueueStats, Recovered, Reschedule, RescheduleOutcome, Reserved, RunAt,
};
use crate::store::batch::BatchId;
use crate::store::event::EventKind;
use crate::store::flow::{OnConflict, UniqueFor};
use crate::store::id::JobId;
use crate::store::options::StoreOptions;
use crate::store::reason::{self, ATTEMPT_FAILED, CANCELLED, LEASE_EXPIRED};
use crate::store::retention::{PROMOTE_BATCH, Retention, TRIM_BATCH};

#[derive(Default)]
/// One queue: its records and the indices of each state, its event log, and the batch
/// endings of the call in progress.
pub(super) struct QueueState {
    pub(super) jobs: HashMap<JobId, Record>,
    /// Priority (highest first), then the time the job became ready, then id.
    pub(super) ready: BTreeSet<(Reverse<i8>, u64, JobId)>,
    /// By run-at time.
    pub(super) scheduled: BTreeSet<(u64, JobId)>,
    /// By lease end.
    pub(super) leased: BTreeSet<(u64, JobId)>,
    /// By finish time.
    pub(super) succeeded: BTreeSet<(u64, JobId)>,
    /// By finish time.
    pub(super) dead: BTreeSet<(u64, JobId)>,
    pub(super) events: EventLog,
    /// Batch members that ended during this call: (batch, job, succeeded).
    pub(super) ended: Vec<(BatchId, JobId, bool)>,
    /// Paused or not, limits, and the ready jobs that carry a limit key.
    pub(super) flow: Flow,
    /// Ready members of paused batches, taken out of line by a reservation that met them
    /// (so they are met once), by batch; back in line when the batch is resumed.
    pub(super) parked: HashMap<BatchId, Vec<JobId>>,
    parked_count: u64,
    /// Uniqueness keys and the jobs that claimed them (each checked when the key is
    /// claimed again: a claim whose hold is over is simply replaced).
    pub(super) unique: HashMap<String, Claim>,
    /// Jobs ended per minute (minute start ms -> succeeded, failed, stalled), the last
    /// hour.
    pub(super) throughput: std::collections::BTreeMap<u64, (u64, u64, u64)>,
}

/// A uniqueness key's claim: the job, how long it holds, and (for a period) until when.
pub(super) struct Claim {
    id: JobId,
    hold: UniqueFor,
    until: u64,
}

impl QueueState {
    /// Stores a new job, scheduled or ready; false if its id is stored already.
    pub(super) fn insert(&mut self, job: NewJob, now: u64) -> bool {
        if self.jobs.contains_key(&job.id) {
            return false;
        }
        let due = at_ms(job.run_at, now);
        let expires_at = job.flow.expires.map(|at| at_ms(at, now));
        let mut record = Record::new(job, now, due);
        record.expires_at = expires_at;
        let id = record.id;
        self.jobs.insert(id, record);
        self.schedule(id, due, now);
        self.events.push(id, EventKind::Enqueued);
        true
    }

    /// Stores a new job that may carry a uniqueness key, checked against the key's holder.
    pub(super) fn insert_unique(
        &mut self,
        job: NewJob,
        now: u64,
        retention: &Retention,
    ) -> Enqueued {
        if self.jobs.contains_key(&job.id) {
            return Enqueued::AlreadyStored;
        }
        let Some((key, unique)) = job
            .flow
            .unique
            .as_ref()
            .and_then(|u| Some((u.key.clone()?, u.clone())))
        else {
            self.insert(job, now);
            return Enqueued::Stored;
        };
        let held = self.unique.get(&key).and_then(|c| {
            let state = self.jobs.get(&c.id).map(|r| r.state);
            let waiting = matches!(state, Some(JobState::Ready | JobState::Scheduled));
            let holds = match c.hold {
                UniqueFor::Waiting => waiting,
                UniqueFor::WaitingOrRunning => waiting || state == Some(JobState::Active),
                _ => c.until > now,
            };
            holds.then_some((c.id, waiting))
        });
        let mut answer = Enqueued::Stored;
        if let Some((existing, waiting)) = held {
            match (unique.on_conflict, waiting) {
                (OnConflict::Replace, true) => {
                    self.cancel(existing, now, retention);
                    answer = Enqueued::Replaced { previous: existing };
                }
                (OnConflict::Debounce, true) => {
                    let change = Reschedule {
                        run_at: Some(job.run_at),
                        priority: None,
                    };
                    self.reschedule(existing, change, now);
                    return Enqueued::Debounced { existing };
                }
                _ => return Enqueued::Duplicate { existing },
            }
        }
        let until = match unique.hold {
            UniqueFor::Period(p) => now.saturating_add(ms(p)),
            _ => 0,
        };
        let claim = Claim {
            id: job.id,
            hold: unique.hold,
            until,
        };
        self.insert(job, now);
        self.unique.insert(key, claim);
        answer
    }

    /// Puts a job (already unlinked from every index) in scheduled, or in ready if due.
    pub(super) fn schedule(&mut self, id: JobId, due: u64, now: u64) {
        let Some(r) = self.jobs.get_mut(&id) else {
            return;
        };
        r.lease = None;
        if due <= now {
            r.state = JobState::Ready;
            r.run_at = None;
            r.ready_at = due;
            let place = (Reverse(r.priority), due, id);
            match &r.flow.key {
                Some(key) => self.flow.push(key, place),
                None => {
                    self.ready.insert(place);
                }
            }
        } else {
            r.state = JobState::Scheduled;
            r.run_at = Some(due);
            r.ready_at = due;
            self.scheduled.insert((due, id));
        }
    }

    /// Makes due scheduled jobs ready (a bounded slice); true if any was.
    pub(super) fn promote_due(&mut self, now: u64) -> bool {
        let due = first_due(&self.scheduled, now, PROMOTE_BATCH);
        for entry in &due {
            self.scheduled.remove(entry);
            self.schedule(entry.1, entry.0, now);
        }
        !due.is_empty()
    }

    /// Returns up to `limit` jobs whose lease expired to ready, or to dead once they
    /// stalled too often or were on their last attempt (or had been cancelled).
    pub(super) fn recover_expired(
        &mut self,
        now: u64,
        limit: usize,
        store: &StoreOptions,
    ) -> Recovered {
        let retention = &store.retention();
        let expired = first_due(&self.leased, now, limit);
        let mut out = Recovered::default();
        for entry in expired {
            self.leased.remove(&entry);
            let Some(r) = self.jobs.get_mut(&entry.1) else {
                continue;
            };
            if let Some(key) = &r.flow.key {
                self.flow.release(key);
            }
            r.stalls += 1;
            r.lease = None;
            self.count_minute(now, Ended::Stalled);
            let Some(r) = self.jobs.get_mut(&entry.1) else {
                continue;
            };
            if std::mem::take(&mut r.cancel_requested) {
                self.cancel_job(entry.1, now, retention);
                out.dead += 1;
            } else if r.stalls >= store.max_stalls() || r.attempts >= r.max_attempts {
                let reason = reason::stalled(r.stalls, r.attempts, r.max_attempts);
                r.last_error = Some(reason.clone());
                self.bury(entry.1, now, retention);
                self.events.push(entry.1, EventKind::Dead { reason });
                out.dead += 1;
            } else {
                let ready_at = r.ready_at;
                self.schedule(entry.1, ready_at.min(now), now);
                self.events.push(
                    entry.1,
                    EventKind::Retrying {
                        reason: LEASE_EXPIRED.into(),
                    },
                );
                out.requeued += 1;
            }
        }
        out
    }

    /// True when the queue lets one more job start: not paused, under its limit and its
    /// rate.
    fn can_start(&self, now: u64) -> bool {
        !self.flow.paused
            && self
                .flow
                .limits
                .concurrency
                .is_none_or(|n| (self.leased.len() as u64) < u64::from(n))
            && self.flow.rate_room(now).is_ok()
    }

    /// Leases the next ready job (by priority, then ready time: from the plain line or
    /// from a key with a free slot, whichever comes first) under `token`, if the queue lets
    /// one start.
    pub(super) fn pop_ready(
        &mut self,
        now: u64,
        lease_for: u64,
        token: u64,
        retention: &Retention,
        paused_batches: &HashSet<BatchId>,
    ) -> Option<Reserved> {
        if !self.can_start(now) {
            return None;
        }
        self.flow.promote(now);
        let (id, key) = loop {
            let keyed_first = match (self.ready.first(), self.flow.first()) {
                (Some(plain), Some(keyed)) => keyed < plain,
                (None, Some(_)) => true,
                _ => false,
            };
            // A key whose rate is used up is held back by `pop`, which then tries the
            // next: the plain line may come first after all.
            let popped = if keyed_first {
                self.flow.pop(now)
            } else {
                None
            };
            let (id, key) = match popped {
                Some(((_, _, id), key)) => (id, Some(key)),
                None => (self.ready.pop_first()?.2, None),
            };
            let r = self.jobs.get(&id)?;
            let batch = r.batch.filter(|b| paused_batches.contains(b));
            match (r.expires_at.filter(|at| *at < now), batch) {
                (Some(at), _) => {
                    // Past its deadline: it ends as expired instead of starting.
                    if let Some(key) = &key {
                        self.flow.release(key);
                    }
                    self.expire(id, at, now, retention);
                }
                (None, Some(batch)) => {
                    // Its batch is paused: out of line until the batch is resumed.
                    if let Some(key) = &key {
                        self.flow.release(key);
                    }
                    self.parked.entry(batch).or_default().push(id);
                    self.parked_count += 1;
                }
                (None, None) => break (id, key),
            }
        };
        self.flow.started(key.as_deref(), now);
        let r = self.jobs.get_mut(&id)?;
        let expires = now.saturating_add(lease_for);
        r.state = JobState::Active;
        r.attempts += 1;
        r.deliveries += 1;
        r.lease = Some((token, expires));
        self.leased.insert((expires, id));
        self.events.push(id, EventKind::Started);
        Some(Reserved {
            lease: Lease {
                queue: r.queue.clone(),
                id,
                token,
                expires_at_ms: expires,
                batch: r.batch,
                limit_key: r.flow.key.clone(),
            },
            name: r.name.clone(),
            payload: r.payload.clone(),
            attempt: r.attempts,
            max_attempts: r.max_attempts,
            deliveries: r.deliveries,
            batch: r.batch,
        })
    }

    /// The lease end if `lease` is the one the job is held under; then unlinks it from
    /// `leased`. This check is the fence: a holder whose lease was recovered or reassigned
    /// fails it.
    pub(super) fn take_lease(&mut self, lease: &Lease) -> Option<u64> {
        let r = self.jobs.get_mut(&lease.id)?;
        let (token, exp) = r.lease?;
        if r.state != JobState::Active || token != lease.token {
            return None;
        }
        self.leased.remove(&(exp, lease.id));
        r.lease = None;
        Some(exp)
    }

    /// Extends `lease` by `lease_for` from now if it is still held.
    pub(super) fn renew(&mut self, lease: &Lease, now: u64, lease_for: u64) -> LeaseStatus {
        if self.take_lease(lease).is_none() {
            return LeaseStatus::Stale;
        }
        let expires = now.saturating_add(lease_for);
        let mut cancel = false;
        if let Some(r) = self.jobs.get_mut(&lease.id) {
            r.lease = Some((lease.token, expires));
            cancel = r.cancel_requested;
        }
        self.leased.insert((expires, lease.id));
        if cancel {
            LeaseStatus::CancelRequested {
                expires_at_ms: expires,
            }
        } else {
            LeaseStatus::Held {
                expires_at_ms: expires,
            }
        }
    }

    /// Ends `item`'s lease with its outcome, if the lease is still held.
    pub(super) fn finish(&mut self, item: Finish, now: u64, retention: &Retention) -> LeaseStatus {
        let id = item.lease.id;
        let Some(expires) = self.take_lease(&item.lease) else {
            return match self.jobs.get(&id) {
                Some(r) if r.done_token != Some(item.lease.token) => LeaseStatus::Stale,
                _ => LeaseStatus::Finished,
            };
        };
        let Some(r) = self.jobs.get_mut(&id) else {
            return LeaseStatus::Stale;
        };
        if let Some(key) = &r.flow.key {
            self.flow.release(key);
        }
        r.done_token = Some(item.lease.token);
        if std::mem::take(&mut r.cancel_requested)
            && !matches!(item.outcome, Outcome::Succeeded { .. })
        {
            self.cancel_job(id, now, retention);
            return LeaseStatus::Held {
                expires_at_ms: expires,
            };
        }
        match item.outcome {
            Outcome::Succeeded { result } => {
                r.state = JobState::Succeeded;
                r.finished_at = Some(now);
                r.result = result;
                if let Some(batch) = r.batch {
                    self.ended.push((batch, id, true));
                }
                self.succeeded.insert((now, id));
                self.count_minute(now, Ended::Succeeded);
                self.trim(now, retention);
                self.events.push(id, EventKind::Succeeded);
            }
            Outcome::Failed { error, retry_after } => {
                r.last_error = Some(error.clone());
                let attempts_left = r.attempts < r.max_attempts;
                self.count_minute(now, Ended::Failed);
                self.events.push(
                    id,
                    EventKind::Failed {
                        error: error.clone(),
                    },
                );
                match retry_after {
                    Some(after) if attempts_left => {
                        self.schedule(id, now.saturating_add(ms(after)), now);
                        self.events.push(
                            id,
                            EventKind::Retrying {
                                reason: ATTEMPT_FAILED.into(),
                            },
                        );
                    }
                    _ => {
                        self.bury(id, now, retention);
                        self.events.push(id, EventKind::Dead { reason: error });
                    }
                }
            }
            Outcome::Snooze { after } => {
                r.attempts = r.attempts.saturating_sub(1);
                self.schedule(id, now.saturating_add(ms(after)), now);
            }
            Outcome::RateLimited { after } => {
                r.attempts = r.attempts.saturating_sub(1);
                let until = now.saturating_add(ms(after));
                if let Some(key) = r.flow.key.clone() {
                    self.flow.delay(&key, until);
                }
                self.schedule(id, until, now);
            }
            Outcome::Release => {
                r.attempts = r.attempts.saturating_sub(1);
                let ready_at = r.ready_at;
                self.schedule(id, ready_at.min(now), now);
            }
        }
        LeaseStatus::Held {
            expires_at_ms: expires,
        }
    }

    /// Ends a job (already unlinked) as cancelled: kept with the dead.
    pub(super) fn cancel_job(&mut self, id: JobId, now: u64, retention: &Retention) {
        self.bury(id, now, retention);
        if let Some(r) = self.jobs.get_mut(&id) {
            r.state = JobState::Cancelled;
            r.last_error = Some(CANCELLED.into());
        }
        self.events.push(id, EventKind::Cancelled);
    }

    /// Puts the parked members of `batch` back in line (it was resumed).
    pub(super) fn unpark(&mut self, batch: BatchId, now: u64) {
        for id in self.parked.remove(&batch).unwrap_or_default() {
            self.parked_count -= 1;
            if let Some(r) = self.jobs.get(&id).filter(|r| r.state == JobState::Ready) {
                let at = r.ready_at;
                self.schedule(id, at, now);
            }
        }
    }

    /// Takes a ready job out of its line (the queue's, its key's, or its paused batch's).
    pub(super) fn unlink_ready(&mut self, id: JobId) {
        let Some(r) = self.jobs.get(&id) else { return };
        let place = (Reverse(r.priority), r.ready_at, id);
        let found = match &r.flow.key {
            Some(key) => self.flow.remove(key, &place),
            None => self.ready.remove(&place),
        };
        if !found
            && let Some(parked) = r.batch.and_then(|b| self.parked.get_mut(&b))
            && let Some(at) = parked.iter().position(|p| *p == id)
        {
            parked.swap_remove(at);
            self.parked_count -= 1;
        }
    }

    /// Ends a job (already unlinked) that was still waiting at its deadline `at`: kept
    /// with the dead, as expired.
    fn expire(&mut self, id: JobId, at: u64, now: u64, retention: &Retention) {
        let reason = reason::expired(at);
        self.bury(id, now, retention);
        if let Some(r) = self.jobs.get_mut(&id) {
            r.state = JobState::Expired;
            r.last_error = Some(reason.clone());
        }
        self.events.push(id, EventKind::Dead { reason });
    }

    /// Moves a job (already unlinked) to the dead set.
    pub(super) fn bury(&mut self, id: JobId, now: u64, retention: &Retention) {
        if let Some(r) = self.jobs.get_mut(&id) {
            if let Some(batch) = r.batch {
                self.ended.push((batch, id, false));
            }
            r.state = JobState::Dead;
            r.finished_at = Some(now);
            r.run_at = None;
            self.dead.insert((now, id));
        }
        self.trim(now, retention);
    }

    /// Applies `retention` to the succeeded and dead sets.
    pub(super) fn trim(&mut self, now: u64, retention: &Retention) {
        let jobs = &mut self.jobs;
        trim_set(
            &mut self.succeeded,
            jobs,
            retention.succeeded_max,
            now.saturating_sub(ms(retention.succeeded_max_age)),
        );
        trim_set(
            &mut self.dead,
            jobs,
            retention.dead_max,
            now.saturating_sub(ms(retention.dead_max_age)),
        );
    }

    /// Records a running job's progress if `lease` is still held, as a `Progress` event too.
    pub(super) fn progress(&mut self, lease: &Lease, progress: Progress) -> LeaseStatus {
        match self.jobs.get_mut(&lease.id) {
            Some(r) if r.state == JobState::Active && r.lease.map(|l| l.0) == Some(lease.token) => {
                let expires_at_ms = r.lease.map_or(0, |l| l.1);
                r.progress = Some(progress.clone());
                self.events.push(
                    lease.id,
                    EventKind::Progress {
                        percent: progress.percent,
                        message: progress.message,
                    },
                );
                LeaseStatus::Held { expires_at_ms }
            }
            _ => LeaseStatus::Stale,
        }
    }

    /// Cancels job `id`: a waiting one at once, a running one by flagging it for its
    /// worker's next renewal.
    pub(super) fn cancel(&mut self, id: JobId, now: u64, retention: &Retention) -> CancelOutcome {
        let Some(r) = self.jobs.get_mut(&id) else {
            return CancelOutcome::NotFound;
        };
        match r.state {
            JobState::Ready => {
                self.unlink_ready(id);
                self.cancel_job(id, now, retention);
                CancelOutcome::Cancelled
            }
            JobState::Scheduled => {
                let key = (r.run_at.unwrap_or(r.ready_at), id);
                self.scheduled.remove(&key);
                self.cancel_job(id, now, retention);
                CancelOutcome::Cancelled
            }
            JobState::Active => {
                r.cancel_requested = true;
                CancelOutcome::Requested
            }
            _ => CancelOutcome::Finished,
        }
    }

    /// Moves waiting job `id` as `change` says.
    pub(super) fn reschedule(
        &mut self,
        id: JobId,
        change: Reschedule,
        now: u64,
    ) -> RescheduleOutcome {
        let Some(r) = self.jobs.get(&id) else {
            return RescheduleOutcome::NotFound;
        };
        let due = match r.state {
            JobState::Ready => {
                let at = r.ready_at;
                self.unlink_ready(id);
                at
            }
            JobState::Scheduled => {
                let at = r.run_at.unwrap_or(r.ready_at);
                self.scheduled.remove(&(at, id));
                at
            }
            _ => return RescheduleOutcome::NotWaiting,
        };
        if let Some(p) = change.priority
            && let Some(r) = self.jobs.get_mut(&id)
        {
            r.priority = p;
        }
        let due = change.run_at.map_or(due, |at| at_ms(at, now));
        self.schedule(id, due, now);
        RescheduleOutcome::Moved
    }

    /// Moves job `id` back to ready with fresh attempts if it is dead (or cancelled); true
    /// if it moved.
    pub(super) fn retry_dead(&mut self, id: JobId, now: u64) -> bool {
        let Some(r) = self.jobs.get_mut(&id) else {
            return false;
        };
        let Some(finished) = r.finished_at.filter(|_| {
            matches!(
                r.state,
                JobState::Dead | JobState::Cancelled | JobState::Expired
            )
        }) else {
            return false;
        };
        self.dead.remove(&(finished, id));
        r.attempts = 0;
        r.stalls = 0;
        r.finished_at = None;
        // Retried on purpose: the deadline no longer applies.
        r.expires_at = None;
        self.schedule(id, now, now);
        true
    }

    /// Counts by state.
    pub(super) fn stats(&self) -> QueueStats {
        QueueStats {
            scheduled: self.scheduled.len() as u64,
            ready: self.ready.len() as u64 + self.flow.waiting() + self.parked_count,
            active: self.leased.len() as u64,
            succeeded: self.succeeded.len() as u64,
            dead: self.dead.len() as u64,
            orphaned: 0,
            paused: self.flow.paused,
        }
    }

    /// Dead jobs, most recent first: from `offset`, at most `limit`.
    pub(super) fn dead_jobs(&self, offset: usize, limit: usize) -> Vec<JobInfo> {
        self.dead
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .filter_map(|(_, id)| self.jobs.get(id))
            .map(Record::info)
            .collect()
    }

    /// True when a reservation would find work: a ready job, a due one, an expired lease.
    pub(super) fn has_ready(&self, now: u64) -> bool {
        (self.can_start(now) && (!self.ready.is_empty() || self.flow.first().is_some()))
            || self.scheduled.first().is_some_and(|(at, _)| *at <= now)
            || self.leased.first().is_some_and(|(exp, _)| *exp <= now)
    }

    /// When the next scheduled job, lease end, held-back key or rate window is due.
    pub(super) fn next_due(&self, now: u64) -> Option<u64> {
        let s = self.scheduled.first().map(|(at, _)| *at);
        let l = self.leased.first().map(|(exp, _)| *exp);
        s.into_iter().chain(l).chain(self.flow.next_due(now)).min()
    }
}

/// `at` in ms since the Unix epoch, counted from `now` when relative.
fn at_ms(at: RunAt, now: u64) -> u64 {
    match at {
        RunAt::After(d) => now.saturating_add(ms(d)),
        RunAt::UnixMillis(t) => t,
        _ => now,
    }
}

/// The first entries of `set` (ordered by time) due by `now`: at most `limit` of them.
fn first_due(set: &BTreeSet<(u64, JobId)>, now: u64, limit: usize) -> Vec<(u64, JobId)> {
    set.iter()
        .take_while(|(at, _)| *at <= now)
        .take(limit)
        .copied()
        .collect()
}

/// Drops the oldest entries beyond `max`, and (a bounded slice of) those older than `cutoff`.
fn trim_set(
    set: &mut BTreeSet<(u64, JobId)>,
    jobs: &mut HashMap<JobId, Record>,
    max: u64,
    cutoff: u64,
) {
    let mut aged = 0;
    while let Some(&(at, id)) = set.first() {
        let over = set.len() as u64 > max;
        let old = at < cutoff && aged < TRIM_BATCH;
        if !over && !old {
            break;
        }
        aged += usize::from(!over);
        set.pop_first();
        jobs.remove(&id);
    }
}
