//! One queue's operator steps in memory: pages of any state, deletions, purges and the
//! per-minute counts (the counterparts of `list.lua`, `delete.lua` and the throughput
//! counts of `finish.lua` on Redis).

use std::cmp::Reverse;
use std::ops::Bound;

use super::queue::QueueState;
use super::record::Record;
use crate::store::admin::{Deleted, JobPage, ListCursor, MinuteCounts, THROUGHPUT_MINUTES};
use crate::store::backend::JobState;
use crate::store::id::JobId;
use crate::store::retention::Retention;

/// Ready jobs sort by priority band, then ready time: the Redis score, so cursors read
/// the same on both stores.
const PRIORITY_BAND: i64 = 1 << 42;
const MINUTE_MS: u64 = 60_000;

fn ready_score(priority: i8, ready_at: u64) -> i64 {
    (127 - i64::from(priority)) * PRIORITY_BAND + ready_at as i64
}

fn ready_place(score: i64, id: JobId) -> (Reverse<i8>, u64, JobId) {
    let band = score.div_euclid(PRIORITY_BAND);
    let priority = (127 - band).clamp(i64::from(i8::MIN), i64::from(i8::MAX)) as i8;
    (
        Reverse(priority),
        score.rem_euclid(PRIORITY_BAND) as u64,
        id,
    )
}

impl QueueState {
    /// A page of the jobs in `state` (see `Backend::list_jobs` for the orders).
    pub(super) fn list(&self, state: JobState, after: Option<ListCursor>, limit: usize) -> JobPage {
        let ids: Vec<(i64, JobId)> = match state {
            JobState::Ready => {
                let from = after.map_or(Bound::Unbounded, |c| {
                    Bound::Excluded(ready_place(c.score, c.id))
                });
                self.ready
                    .range((from, Bound::Unbounded))
                    .take(limit)
                    .map(|(Reverse(p), at, id)| (ready_score(*p, *at), *id))
                    .collect()
            }
            JobState::Scheduled => ascending(&self.scheduled, after, limit),
            JobState::Active => ascending(&self.leased, after, limit),
            JobState::Succeeded => descending(&self.succeeded, after, limit),
            _ => descending(&self.dead, after, limit),
        };
        let next = (ids.len() == limit)
            .then(|| ids.last().map(|&(score, id)| ListCursor { score, id }))
            .flatten();
        let jobs = ids
            .iter()
            .filter_map(|(_, id)| self.jobs.get(id))
            .map(Record::info)
            .collect();
        JobPage::new(jobs, next)
    }

    /// Deletes job `id` if it is not running: a waiting one is cancelled first.
    pub(super) fn delete(&mut self, id: JobId, now: u64, retention: &Retention) -> Deleted {
        let Some(r) = self.jobs.get(&id) else {
            return Deleted::NotFound;
        };
        match r.state {
            JobState::Active => return Deleted::Running,
            JobState::Ready | JobState::Scheduled => {
                self.cancel(id, now, retention);
            }
            _ => {}
        }
        // Cancelling may have trimmed it already (a dead set kept at zero).
        if let Some(r) = self.jobs.remove(&id)
            && let Some(finished) = r.finished_at
        {
            self.succeeded.remove(&(finished, id));
            self.dead.remove(&(finished, id));
        }
        Deleted::Deleted
    }

    /// Deletes up to `limit` jobs in `state` (not `Active`), first in the state's order;
    /// for `Ready`, then the jobs waiting under a limit key and the parked members of
    /// paused batches (counted as ready too).
    pub(super) fn purge(
        &mut self,
        state: JobState,
        limit: usize,
        now: u64,
        retention: &Retention,
    ) -> u64 {
        let page = self.list(state, None, limit);
        let mut ids: Vec<JobId> = page.jobs.iter().map(|j| j.id).collect();
        if state == JobState::Ready && ids.len() < limit {
            ids.extend(self.flow.some_waiting(limit - ids.len()));
            let parked = self.parked.values().flatten().copied();
            ids.extend(parked.take(limit - ids.len()));
        }
        let mut deleted = 0;
        for id in ids {
            deleted += u64::from(self.delete(id, now, retention) == Deleted::Deleted);
        }
        deleted
    }

    /// Counts an ended attempt (or a recovered lease) in its minute, keeping the last
    /// hour's minutes.
    pub(super) fn count_minute(&mut self, now: u64, what: Ended) {
        let minute = now - now % MINUTE_MS;
        let entry = self.throughput.entry(minute).or_default();
        match what {
            Ended::Succeeded => entry.0 += 1,
            Ended::Failed => entry.1 += 1,
            Ended::Stalled => entry.2 += 1,
        }
        let oldest = minute.saturating_sub(u64::from(THROUGHPUT_MINUTES) * MINUTE_MS);
        while self
            .throughput
            .first_key_value()
            .is_some_and(|(m, _)| *m <= oldest)
        {
            self.throughput.pop_first();
        }
    }

    /// The last `minutes` minutes' counts, oldest first.
    pub(super) fn throughput(&self, now: u64, minutes: u32) -> Vec<MinuteCounts> {
        let current = now - now % MINUTE_MS;
        let minutes = u64::from(minutes.min(THROUGHPUT_MINUTES));
        (0..minutes)
            .rev()
            .map(|back| {
                let minute = current.saturating_sub(back * MINUTE_MS);
                let (s, f, x) = self.throughput.get(&minute).copied().unwrap_or_default();
                let mut counts = MinuteCounts::new(minute, s, f);
                counts.stalled = x;
                counts
            })
            .collect()
    }
}

/// What a minute counts.
pub(super) enum Ended {
    Succeeded,
    Failed,
    Stalled,
}

type Line = std::collections::BTreeSet<(u64, JobId)>;

fn place(c: ListCursor) -> (u64, JobId) {
    (c.score.max(0) as u64, c.id)
}

fn ascending(line: &Line, after: Option<ListCursor>, limit: usize) -> Vec<(i64, JobId)> {
    let from = after.map_or(Bound::Unbounded, |c| Bound::Excluded(place(c)));
    line.range((from, Bound::Unbounded))
        .take(limit)
        .map(|&(s, id)| (s as i64, id))
        .collect()
}

fn descending(line: &Line, after: Option<ListCursor>, limit: usize) -> Vec<(i64, JobId)> {
    let to = after.map_or(Bound::Unbounded, |c| Bound::Excluded(place(c)));
    line.range((Bound::Unbounded, to))
        .rev()
        .take(limit)
        .map(|&(s, id)| (s as i64, id))
        .collect()
}
