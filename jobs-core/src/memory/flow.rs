//! Flow control of one memory queue: whether it is paused, its limits, and the ready jobs
//! that carry a limit key, kept per key (the counterpart of the Redis groups, see
//! `jobs-redis/lua/lib.lua`).
//!
//! A key's jobs wait in their own line; the keys that have a waiting job and a free slot
//! are `runnable`, ordered by their first job's place in line. A reservation takes the
//! first of `runnable` or of the queue's plain ready line, whichever comes first, so a key
//! at its limit costs nothing however many jobs wait under it.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};

use super::clock::ms;
use crate::store::flow::{QueueLimits, Rate};
use crate::store::id::JobId;

/// A ready job's place in line: priority (highest first), ready time, id.
pub(super) type Place = (Reverse<i8>, u64, JobId);

#[derive(Default)]
pub(super) struct Flow {
    pub(super) paused: bool,
    pub(super) limits: QueueLimits,
    groups: HashMap<String, Group>,
    /// Keys with a waiting job and a free slot, by their first job's place.
    runnable: BTreeSet<(Place, String)>,
    /// Jobs waiting under a key, over every key.
    waiting: u64,
    /// Keys held back until a time (their rate used up, or a job said it was rate
    /// limited), by that time.
    delayed: BTreeSet<(u64, String)>,
    /// Start times of the queue's jobs within its rate window.
    starts: VecDeque<u64>,
    /// Start times of each key's jobs within the per-key rate window, and when each
    /// key's log can be forgotten.
    key_starts: HashMap<String, VecDeque<u64>>,
    key_starts_end: BTreeSet<(u64, String)>,
}

#[derive(Default)]
struct Group {
    waiting: BTreeSet<Place>,
    /// Jobs of the key leased now.
    active: u32,
    /// The entry this key has in `runnable`, if any.
    listed: Option<Place>,
    /// Held back until then.
    delayed_until: Option<u64>,
}

/// How many of `log`'s starts fall in `rate`'s window ending at `now`, and when the
/// oldest of them leaves it.
fn in_window(log: &VecDeque<u64>, rate: &Rate, now: u64) -> (usize, Option<u64>) {
    let from = now.saturating_sub(ms(rate.per));
    let mut inside = log.iter().filter(|t| **t > from);
    let oldest = inside.next().map(|t| t + ms(rate.per));
    (oldest.map_or(0, |_| 1 + inside.count()), oldest)
}

impl Flow {
    /// Ready jobs waiting under a key.
    pub(super) fn waiting(&self) -> u64 {
        self.waiting
    }

    /// The first job a reservation could take from the keys, if any.
    pub(super) fn first(&self) -> Option<&Place> {
        self.runnable.first().map(|(place, _)| place)
    }

    /// True when the queue's rate lets one more job start at `now`; else when it will.
    pub(super) fn rate_room(&self, now: u64) -> Result<(), u64> {
        match &self.limits.rate {
            Some(rate) => match in_window(&self.starts, rate, now) {
                (n, Some(reopens)) if n >= rate.starts as usize => Err(reopens),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Counts a start of the queue's (and, with `key`, of the key's) at `now` against the
    /// rate limits.
    pub(super) fn started(&mut self, key: Option<&str>, now: u64) {
        if let Some(rate) = self.limits.rate {
            let from = now.saturating_sub(ms(rate.per));
            while self.starts.front().is_some_and(|t| *t <= from) {
                self.starts.pop_front();
            }
            self.starts.push_back(now);
        }
        if let (Some(rate), Some(key)) = (self.limits.per_key_rate, key) {
            let end = now + ms(rate.per);
            let log = self.key_starts.entry(key.to_owned()).or_default();
            let from = now.saturating_sub(ms(rate.per));
            while log.front().is_some_and(|t| *t <= from) {
                log.pop_front();
            }
            if let Some(last) = log.back() {
                self.key_starts_end
                    .remove(&(last + ms(rate.per), key.to_owned()));
            }
            log.push_back(now);
            self.key_starts_end.insert((end, key.to_owned()));
        }
    }

    /// When the next held-back key or rate window comes free, if any.
    pub(super) fn next_due(&self, now: u64) -> Option<u64> {
        let key = self.delayed.first().map(|(at, _)| *at);
        let queue = self.rate_room(now).err();
        key.into_iter().chain(queue).min()
    }

    /// Lets held-back keys whose time came run again, and forgets the rate logs of keys
    /// that started nothing within their window.
    pub(super) fn promote(&mut self, now: u64) {
        while let Some((at, key)) = self.delayed.first().cloned() {
            if at > now {
                break;
            }
            self.delayed.pop_first();
            if let Some(group) = self.groups.get_mut(&key) {
                group.delayed_until = None;
            }
            self.refresh(&key);
        }
        while let Some((end, key)) = self.key_starts_end.first().cloned() {
            if end > now {
                break;
            }
            self.key_starts_end.pop_first();
            self.key_starts.remove(&key);
        }
    }

    /// Holds `key` back until `until` (its jobs wait; the others go on).
    pub(super) fn delay(&mut self, key: &str, until: u64) {
        let group = self.groups.entry(key.to_owned()).or_default();
        if let Some(old) = group.delayed_until {
            if old >= until {
                return;
            }
            self.delayed.remove(&(old, key.to_owned()));
        }
        group.delayed_until = Some(until);
        self.delayed.insert((until, key.to_owned()));
        self.refresh(key);
    }

    /// Up to `limit` ids of jobs waiting under a key (any key), for a purge.
    pub(super) fn some_waiting(&self, limit: usize) -> Vec<JobId> {
        self.groups
            .values()
            .flat_map(|g| g.waiting.iter().map(|(_, _, id)| *id))
            .take(limit)
            .collect()
    }

    /// Puts a ready job in its key's line.
    pub(super) fn push(&mut self, key: &str, place: Place) {
        let group = self.groups.entry(key.to_owned()).or_default();
        if group.waiting.insert(place) {
            self.waiting += 1;
        }
        self.refresh(key);
    }

    /// Takes a waiting job out of its key's line (cancelled); true if it was there.
    pub(super) fn remove(&mut self, key: &str, place: &Place) -> bool {
        let Some(group) = self.groups.get_mut(key) else {
            return false;
        };
        let found = group.waiting.remove(place);
        if found {
            self.waiting -= 1;
            self.refresh(key);
        }
        found
    }

    /// Takes the first runnable key's first job, counting it as running under it; a key
    /// whose rate is used up is held back until its window has room, and the next one
    /// is tried.
    pub(super) fn pop(&mut self, now: u64) -> Option<(Place, String)> {
        loop {
            let (_, key) = self.runnable.first()?.clone();
            if let Some(rate) = self.limits.per_key_rate
                && let Some(log) = self.key_starts.get(&key)
                && let (n, Some(reopens)) = in_window(log, &rate, now)
                && n >= rate.starts as usize
            {
                self.delay(&key, reopens);
                continue;
            }
            let group = self.groups.get_mut(&key)?;
            let place = group.waiting.pop_first()?;
            self.waiting -= 1;
            group.active += 1;
            self.refresh(&key);
            return Some((place, key));
        }
    }

    /// A job of `key` stopped running (ended, failed, released, or its lease expired):
    /// its slot is free again.
    pub(super) fn release(&mut self, key: &str) {
        if let Some(group) = self.groups.get_mut(key) {
            group.active = group.active.saturating_sub(1);
            self.refresh(key);
        }
    }

    /// New limits: every key is listed again under them.
    pub(super) fn set_limits(&mut self, limits: QueueLimits) {
        self.limits = limits;
        let keys: Vec<String> = self.groups.keys().cloned().collect();
        for key in keys {
            self.refresh(&key);
        }
    }

    /// Lists `key` in `runnable` under its first job if it has one and a free slot;
    /// forgets a key with nothing waiting or running.
    fn refresh(&mut self, key: &str) {
        let Some(group) = self.groups.get_mut(key) else {
            return;
        };
        let free =
            group.delayed_until.is_none() && self.limits.per_key.is_none_or(|k| group.active < k);
        let head = group.waiting.first().copied().filter(|_| free);
        if group.listed != head {
            if let Some(old) = group.listed.take() {
                self.runnable.remove(&(old, key.to_owned()));
            }
            if let Some(new) = head {
                self.runnable.insert((new, key.to_owned()));
            }
            group.listed = head;
        }
        if group.waiting.is_empty() && group.active == 0 && group.delayed_until.is_none() {
            self.groups.remove(key);
        }
    }
}
