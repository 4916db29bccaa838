//! The in-memory backend: complete, with the same semantics as the Redis backend.
//!
//! Each call is one critical section over the whole store, the counterpart of one Lua
//! script on Redis. Time comes from tokio's clock, so tests can run it with a paused clock
//! and advance hours in no time.

mod events;

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::store::backend::{
    Backend, BatchAdded, CancelOutcome, Finish, JobInfo, JobState, Lease, LeaseStatus, NewJob,
    Outcome, Progress, QueueStats, Recovered, Reserved, RunAt,
};
use crate::store::batch::{
    BATCH_DEAD_JOBS_MAX, BATCH_PAGE_MAX, BatchCounts, BatchId, BatchSummary, Callback,
};
use crate::store::error::BackendError;
use crate::store::event::{DEFAULT_EVENTS_MAX_LEN, Event, EventCursor, EventKind};
use crate::store::id::JobId;
use crate::store::retention::{
    DEFAULT_MAX_STALLS, PROMOTE_BATCH, RECOVER_BATCH, Retention, TRIM_BATCH,
};
use events::EventLog;

/// An in-process backend. Cheap to clone; clones share the same store.
///
/// Jobs live as long as the process: use it for development, tests and single-process
/// tools, and the Redis backend where jobs must survive restarts.
///
/// ```
/// use jobs_core::{Client, MemoryBackend};
/// let client = Client::new(MemoryBackend::new());
/// # let _ = client;
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    notify: Notify,
    /// Woken on every appended event entry.
    events: Notify,
    events_max_len: usize,
    clock: Clock,
    retention: Retention,
    max_stalls: u32,
}

/// Options for a [`MemoryBackend`].
#[derive(Debug, Clone)]
pub struct MemoryBackendBuilder {
    retention: Retention,
    max_stalls: u32,
    events_max_len: usize,
}

impl MemoryBackendBuilder {
    /// How long finished jobs are kept.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How many times a job's lease may expire before the job is dead (at least 1).
    pub fn max_stalls(mut self, max_stalls: u32) -> Self {
        self.max_stalls = max_stalls.max(1);
        self
    }

    /// How many entries each queue's event stream keeps (0 turns events off); see
    /// [`crate::event`].
    pub fn events_max_len(mut self, entries: usize) -> Self {
        self.events_max_len = entries;
        self
    }

    /// Builds the backend.
    pub fn build(self) -> MemoryBackend {
        MemoryBackend {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                notify: Notify::new(),
                events: Notify::new(),
                events_max_len: self.events_max_len,
                clock: Clock::new(),
                retention: self.retention,
                max_stalls: self.max_stalls,
            }),
        }
    }
}

impl MemoryBackend {
    /// A backend with default retention and stall limit.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Options: retention, stall limit.
    pub fn builder() -> MemoryBackendBuilder {
        MemoryBackendBuilder {
            retention: Retention::DEFAULT,
            max_stalls: DEFAULT_MAX_STALLS,
            events_max_len: DEFAULT_EVENTS_MAX_LEN,
        }
    }

    /// The backend's clock, in ms since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        self.shared.clock.now_ms()
    }

    /// Appends the events `q` collected during a transition, and wakes readers.
    fn flush_events(&self, q: &mut QueueState, now: u64) {
        if q.events.flush(now, self.shared.events_max_len) {
            self.shared.events.notify_waiters();
        }
    }

    /// After a transition: counts ended batch members, fires complete batches' callbacks
    /// (enqueued in the same critical section), appends every queue's pending events and
    /// wakes workers for the callbacks.
    fn settle(&self, state: &mut State, now: u64) {
        let fired = state.settle_batches(now);
        for q in state.queues.values_mut() {
            self.flush_events(q, now);
        }
        if fired {
            self.shared.notify.notify_waiters();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied transition behind
        // that later calls would misread more than a lost process would, so keep going.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").finish_non_exhaustive()
    }
}

/// Wall-clock milliseconds that advance with tokio's (possibly paused) clock.
struct Clock {
    base_ms: u64,
    base: Instant,
}

impl Clock {
    fn new() -> Self {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Clock {
            base_ms,
            base: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.base_ms + self.base.elapsed().as_millis() as u64
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Default)]
struct State {
    queues: HashMap<String, QueueState>,
    next_token: u64,
    batches: HashMap<BatchId, MemBatch>,
}

/// A batch: its members (id -> queue, and in the order they joined), those that ended
/// (id -> succeeded), the counts kept as they end, callbacks.
#[derive(Default)]
struct MemBatch {
    opened: bool,
    finished: bool,
    members: HashMap<JobId, String>,
    order: Vec<JobId>,
    /// The queues the members sit on.
    queues: BTreeSet<String>,
    ended: HashMap<JobId, bool>,
    succeeded: u64,
    /// Dead members, in the order they were counted.
    dead: Vec<JobId>,
    callbacks: Vec<Callback>,
}

impl MemBatch {
    fn counts(&self) -> BatchCounts {
        BatchCounts::new(
            self.members.len() as u64,
            self.succeeded,
            self.dead.len() as u64,
            self.dead
                .iter()
                .take(BATCH_DEAD_JOBS_MAX)
                .copied()
                .collect(),
            self.finished,
        )
    }

    /// Every member has ended (only members are counted in `ended`).
    fn complete(&self) -> bool {
        self.ended.len() >= self.members.len()
    }

    /// Records a member; false if it was one already.
    fn register(&mut self, id: JobId, queue: String) -> bool {
        if self.members.contains_key(&id) {
            return false;
        }
        self.queues.insert(queue.clone());
        self.members.insert(id, queue);
        self.order.push(id);
        true
    }
}

fn page<T: Clone>(items: &[T], offset: usize, limit: usize) -> Vec<T> {
    items
        .iter()
        .skip(offset)
        .take(limit.min(BATCH_PAGE_MAX))
        .cloned()
        .collect()
}

impl State {
    /// Counts members that ended (collected by the queues during this call) in their
    /// batches, and fires the callbacks of batches that are now complete.
    fn settle_batches(&mut self, now: u64) -> bool {
        let ended: Vec<_> = self
            .queues
            .values_mut()
            .flat_map(|q| std::mem::take(&mut q.ended))
            .collect();
        let mut check: Vec<BatchId> = Vec::new();
        for (batch, id, ok) in ended {
            // Only members count (as on Redis): the batch is opened before they exist.
            if let Some(b) = self.batches.get_mut(&batch)
                && b.members.contains_key(&id)
                && !b.ended.contains_key(&id)
            {
                b.ended.insert(id, ok);
                if ok {
                    b.succeeded += 1;
                } else {
                    b.dead.push(id);
                }
                check.push(batch);
            }
        }
        check.sort();
        check.dedup();
        let mut fired = false;
        for batch in check {
            fired |= self.fire_if_complete(batch, now);
        }
        fired
    }

    /// True if callbacks were enqueued.
    fn fire_if_complete(&mut self, batch: BatchId, now: u64) -> bool {
        let Some(b) = self.batches.get_mut(&batch) else {
            return false;
        };
        if !b.opened || b.finished || !b.complete() {
            return false;
        }
        b.finished = true;
        let counts = b.counts();
        let summary = BatchSummary {
            id: batch,
            total: counts.total,
            succeeded: counts.succeeded,
            dead: counts.dead,
            dead_jobs: counts.dead_jobs,
        };
        let jobs: Vec<NewJob> = b
            .callbacks
            .iter()
            .filter(|c| c.kind.fires(summary.dead))
            .map(|c| NewJob::from_callback(c, &summary))
            .collect();
        let fired = !jobs.is_empty();
        for job in jobs {
            let q = self.queues.entry(job.queue.clone()).or_default();
            q.insert(job, now);
        }
        fired
    }

    /// How many of `batch`'s members are leased now: read from the leases of the queues
    /// it spans, not from its members.
    fn running(&self, batch: BatchId, b: &MemBatch) -> u64 {
        b.queues
            .iter()
            .filter_map(|name| self.queues.get(name))
            .map(|q| {
                q.leased
                    .iter()
                    .filter(|(_, id)| q.jobs.get(id).is_some_and(|r| r.batch == Some(batch)))
                    .count() as u64
            })
            .sum()
    }
}

#[derive(Default)]
struct QueueState {
    jobs: HashMap<JobId, Record>,
    /// Priority (highest first), then the time the job became ready, then id.
    ready: BTreeSet<(Reverse<i8>, u64, JobId)>,
    /// By run-at time.
    scheduled: BTreeSet<(u64, JobId)>,
    /// By lease end.
    leased: BTreeSet<(u64, JobId)>,
    /// By finish time.
    succeeded: BTreeSet<(u64, JobId)>,
    /// By finish time.
    dead: BTreeSet<(u64, JobId)>,
    events: EventLog,
    /// Batch members that ended during this call: (batch, job, succeeded).
    ended: Vec<(BatchId, JobId, bool)>,
}

struct Record {
    id: JobId,
    name: String,
    queue: String,
    payload: Vec<u8>,
    priority: i8,
    max_attempts: u32,
    attempts: u32,
    deliveries: u32,
    stalls: u32,
    state: JobState,
    created_at: u64,
    /// Ordering key while ready: when the job was due.
    ready_at: u64,
    run_at: Option<u64>,
    lease: Option<(u64, u64)>,
    /// The token of the delivery whose outcome was recorded last: a repeat of that
    /// finish is answered `Finished`, not `Stale`.
    done_token: Option<u64>,
    finished_at: Option<u64>,
    last_error: Option<String>,
    result: Option<Vec<u8>>,
    progress: Option<Progress>,
    batch: Option<BatchId>,
    /// The application cancelled it while it ran.
    cancel_requested: bool,
}

impl Record {
    fn info(&self) -> JobInfo {
        JobInfo {
            id: self.id,
            name: self.name.clone(),
            queue: self.queue.clone(),
            state: self.state,
            payload: self.payload.clone(),
            priority: self.priority,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            deliveries: self.deliveries,
            stalls: self.stalls,
            created_at_ms: self.created_at,
            run_at_ms: self.run_at,
            lease_expires_at_ms: self.lease.map(|(_, exp)| exp),
            finished_at_ms: self.finished_at,
            last_error: self.last_error.clone(),
            result: self.result.clone(),
            progress: self.progress.clone(),
        }
    }
}

impl QueueState {
    fn insert(&mut self, job: NewJob, now: u64) -> bool {
        if self.jobs.contains_key(&job.id) {
            return false;
        }
        let due = match job.run_at {
            RunAt::Now => now,
            RunAt::After(d) => now.saturating_add(ms(d)),
            RunAt::UnixMillis(t) => t,
        };
        let record = Record {
            id: job.id,
            name: job.name,
            queue: job.queue,
            payload: job.payload,
            priority: job.priority,
            max_attempts: job.max_attempts.max(1),
            attempts: 0,
            deliveries: 0,
            stalls: 0,
            state: JobState::Scheduled,
            created_at: now,
            ready_at: due,
            run_at: None,
            lease: None,
            done_token: None,
            finished_at: None,
            last_error: None,
            result: None,
            progress: None,
            batch: job.batch,
            cancel_requested: false,
        };
        let id = record.id;
        self.jobs.insert(id, record);
        self.schedule(id, due, now);
        self.events.push(id, EventKind::Enqueued);
        true
    }

    /// Puts a job (already unlinked from every index) in scheduled, or in ready if due.
    fn schedule(&mut self, id: JobId, due: u64, now: u64) {
        let Some(r) = self.jobs.get_mut(&id) else {
            return;
        };
        r.lease = None;
        if due <= now {
            r.state = JobState::Ready;
            r.run_at = None;
            r.ready_at = due;
            self.ready.insert((Reverse(r.priority), due, id));
        } else {
            r.state = JobState::Scheduled;
            r.run_at = Some(due);
            r.ready_at = due;
            self.scheduled.insert((due, id));
        }
    }

    fn promote_due(&mut self, now: u64) -> bool {
        let due: Vec<(u64, JobId)> = self
            .scheduled
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(PROMOTE_BATCH)
            .copied()
            .collect();
        for entry in &due {
            self.scheduled.remove(entry);
            self.schedule(entry.1, entry.0, now);
        }
        !due.is_empty()
    }

    fn recover_expired(
        &mut self,
        now: u64,
        limit: usize,
        max_stalls: u32,
        retention: &Retention,
    ) -> Recovered {
        let expired: Vec<(u64, JobId)> = self
            .leased
            .iter()
            .take_while(|(exp, _)| *exp <= now)
            .take(limit)
            .copied()
            .collect();
        let mut out = Recovered::default();
        for entry in expired {
            self.leased.remove(&entry);
            let Some(r) = self.jobs.get_mut(&entry.1) else {
                continue;
            };
            r.stalls += 1;
            r.lease = None;
            if std::mem::take(&mut r.cancel_requested) {
                self.cancel_job(entry.1, now, retention);
                out.dead += 1;
            } else if r.stalls >= max_stalls || r.attempts >= r.max_attempts {
                let reason = format!(
                    "lease expired {} time(s): the worker running the job crashed or stalled (attempt {} of {})",
                    r.stalls, r.attempts, r.max_attempts
                );
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

    fn pop_ready(&mut self, now: u64, lease_for: u64, token: u64) -> Option<Reserved> {
        let (_, _, id) = self.ready.pop_first()?;
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
    fn take_lease(&mut self, lease: &Lease) -> Option<u64> {
        let r = self.jobs.get_mut(&lease.id)?;
        let (token, exp) = r.lease?;
        if r.state != JobState::Active || token != lease.token {
            return None;
        }
        self.leased.remove(&(exp, lease.id));
        r.lease = None;
        Some(exp)
    }

    fn renew(&mut self, lease: &Lease, now: u64, lease_for: u64) -> LeaseStatus {
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

    fn finish(&mut self, item: Finish, now: u64, retention: &Retention) -> LeaseStatus {
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
                self.trim(now, retention);
                self.events.push(id, EventKind::Succeeded);
            }
            Outcome::Failed { error, retry_after } => {
                r.last_error = Some(error.clone());
                self.events.push(
                    id,
                    EventKind::Failed {
                        error: error.clone(),
                    },
                );
                match retry_after {
                    Some(after) if r.attempts < r.max_attempts => {
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
    fn cancel_job(&mut self, id: JobId, now: u64, retention: &Retention) {
        self.bury(id, now, retention);
        if let Some(r) = self.jobs.get_mut(&id) {
            r.state = JobState::Cancelled;
            r.last_error = Some(CANCELLED.into());
        }
        self.events.push(id, EventKind::Cancelled);
    }

    /// Moves a job (already unlinked) to the dead set.
    fn bury(&mut self, id: JobId, now: u64, retention: &Retention) {
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

    fn trim(&mut self, now: u64, retention: &Retention) {
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

    fn has_ready(&self, now: u64) -> bool {
        !self.ready.is_empty()
            || self.scheduled.first().is_some_and(|(at, _)| *at <= now)
            || self.leased.first().is_some_and(|(exp, _)| *exp <= now)
    }

    fn next_due(&self) -> Option<u64> {
        let s = self.scheduled.first().map(|(at, _)| *at);
        let l = self.leased.first().map(|(exp, _)| *exp);
        s.into_iter().chain(l).min()
    }
}

/// `Retrying` reasons, the same on every backend.
const ATTEMPT_FAILED: &str = "attempt failed";
/// The error a cancelled job keeps, the same on every backend.
const CANCELLED: &str = "cancelled";
const LEASE_EXPIRED: &str = "lease expired";

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

impl Backend for MemoryBackend {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let mut any = false;
        for job in jobs {
            let q = state.queues.entry(job.queue.clone()).or_default();
            any |= q.insert(job, now);
            self.flush_events(q, now);
        }
        drop(state);
        if any {
            self.shared.notify.notify_waiters();
        }
        Ok(())
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
            q.recover_expired(
                now,
                RECOVER_BATCH,
                self.shared.max_stalls,
                &self.shared.retention,
            );
            while out.len() < max {
                *next_token += 1;
                match q.pop_ready(now, ms(lease_for), *next_token) {
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
                next = next.into_iter().chain(q.next_due()).min();
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
                        let status = q.finish(item, now, &self.shared.retention);
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
                let out =
                    q.recover_expired(now, limit, self.shared.max_stalls, &self.shared.retention);
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

    async fn stats(&self, queue: &str) -> Result<QueueStats, BackendError> {
        let state = self.lock();
        let Some(q) = state.queues.get(queue) else {
            return Ok(QueueStats::default());
        };
        Ok(QueueStats {
            scheduled: q.scheduled.len() as u64,
            ready: q.ready.len() as u64,
            active: q.leased.len() as u64,
            succeeded: q.succeeded.len() as u64,
            dead: q.dead.len() as u64,
            orphaned: 0,
        })
    }

    async fn dead_jobs(
        &self,
        queue: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobInfo>, BackendError> {
        let state = self.lock();
        let Some(q) = state.queues.get(queue) else {
            return Ok(Vec::new());
        };
        Ok(q.dead
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .filter_map(|(_, id)| q.jobs.get(id))
            .map(Record::info)
            .collect())
    }

    async fn retry_dead(&self, queue: &str, ids: &[JobId]) -> Result<u64, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return Ok(0);
        };
        let mut moved = 0;
        for id in ids {
            let Some(r) = q.jobs.get_mut(id) else {
                continue;
            };
            let Some(finished) = r
                .finished_at
                .filter(|_| matches!(r.state, JobState::Dead | JobState::Cancelled))
            else {
                continue;
            };
            q.dead.remove(&(finished, *id));
            r.attempts = 0;
            r.stalls = 0;
            r.finished_at = None;
            q.schedule(*id, now, now);
            moved += 1;
        }
        drop(state);
        if moved > 0 {
            self.shared.notify.notify_waiters();
        }
        Ok(moved)
    }

    async fn cancel(&self, queue: &str, id: JobId) -> Result<CancelOutcome, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        let Some(q) = state.queues.get_mut(queue) else {
            return Ok(CancelOutcome::NotFound);
        };
        let Some(r) = q.jobs.get_mut(&id) else {
            return Ok(CancelOutcome::NotFound);
        };
        let outcome = match r.state {
            JobState::Ready => {
                let key = (Reverse(r.priority), r.ready_at, id);
                q.ready.remove(&key);
                q.cancel_job(id, now, &self.shared.retention);
                CancelOutcome::Cancelled
            }
            JobState::Scheduled => {
                let key = (r.run_at.unwrap_or(r.ready_at), id);
                q.scheduled.remove(&key);
                q.cancel_job(id, now, &self.shared.retention);
                CancelOutcome::Cancelled
            }
            JobState::Active => {
                r.cancel_requested = true;
                CancelOutcome::Requested
            }
            _ => CancelOutcome::Finished,
        };
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
        let b = state.batches.entry(id).or_default();
        if b.finished {
            return Ok(BatchAdded::Finished);
        }
        // A complete batch is firing: a retried open may name its members again, no others.
        if b.opened && b.complete() && members.iter().any(|(m, _)| !b.members.contains_key(m)) {
            return Ok(BatchAdded::Finished);
        }
        for (member, queue) in members {
            b.register(member, queue);
        }
        if b.callbacks.is_empty() {
            b.callbacks = callbacks;
        }
        b.opened = true;
        if state.fire_if_complete(id, now) {
            self.settle(&mut state, now);
        }
        Ok(BatchAdded::Added)
    }

    async fn batch_add(&self, id: BatchId, jobs: Vec<NewJob>) -> Result<BatchAdded, BackendError> {
        let now = self.now_ms();
        let mut state = self.lock();
        match state.batches.get_mut(&id) {
            Some(b) if b.finished || (b.opened && b.complete()) => {
                return Ok(BatchAdded::Finished);
            }
            Some(b) if b.opened => {
                for job in &jobs {
                    b.register(job.id, job.queue.clone());
                }
            }
            _ => return Ok(BatchAdded::NotFound),
        }
        // Registered and enqueued in one critical section: nothing can die in between.
        for mut job in jobs {
            job.batch = Some(id);
            let q = state.queues.entry(job.queue.clone()).or_default();
            q.insert(job, now);
            self.flush_events(q, now);
        }
        drop(state);
        self.shared.notify.notify_waiters();
        Ok(BatchAdded::Added)
    }

    async fn batch(&self, id: BatchId) -> Result<Option<BatchCounts>, BackendError> {
        let state = self.lock();
        Ok(state
            .batches
            .get(&id)
            .filter(|b| b.opened)
            .map(|b| b.counts().with_running(state.running(id, b))))
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
        let mut out = Vec::with_capacity(items.len());
        for (lease, progress) in items {
            let Some(q) = state.queues.get_mut(&lease.queue) else {
                out.push(LeaseStatus::Stale);
                continue;
            };
            match q.jobs.get_mut(&lease.id) {
                Some(r)
                    if r.state == JobState::Active && r.lease.map(|l| l.0) == Some(lease.token) =>
                {
                    let expires_at_ms = r.lease.map_or(0, |l| l.1);
                    r.progress = Some(progress.clone());
                    q.events.push(
                        lease.id,
                        EventKind::Progress {
                            percent: progress.percent,
                            message: progress.message,
                        },
                    );
                    out.push(LeaseStatus::Held { expires_at_ms });
                }
                _ => out.push(LeaseStatus::Stale),
            }
        }
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
