//! Flow control of one memory queue: whether it is paused, its limits, and the ready jobs
//! that carry a limit key, kept per key (the counterpart of the Redis groups, see
//! `jobs-redis/lua/lib.lua`).
//!
//! A key's jobs wait in their own line; the keys that have a waiting job and a free slot
//! are `runnable`, ordered by their first job's place in line. A reservation takes the
//! first of `runnable` or of the queue's plain ready line, whichever comes first, so a key
//! at its limit costs nothing however many jobs wait under it.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use crate::store::flow::QueueLimits;
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
}

#[derive(Default)]
struct Group {
    waiting: BTreeSet<Place>,
    /// Jobs of the key leased now.
    active: u32,
    /// The entry this key has in `runnable`, if any.
    listed: Option<Place>,
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

    /// Takes the first runnable key's first job, counting it as running under the key.
    pub(super) fn pop(&mut self) -> Option<Place> {
        let (_, key) = self.runnable.first()?.clone();
        let group = self.groups.get_mut(&key)?;
        let place = group.waiting.pop_first()?;
        self.waiting -= 1;
        group.active += 1;
        self.refresh(&key);
        Some(place)
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
        let free = self.limits.per_key.is_none_or(|k| group.active < k);
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
        if group.waiting.is_empty() && group.active == 0 {
            self.groups.remove(key);
        }
    }
}
