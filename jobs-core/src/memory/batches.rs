//! A batch as the memory store keeps it: members, endings counted as they come, callbacks.

use std::collections::{BTreeSet, HashMap};

use crate::store::backend::{BatchAdded, NewJob};
use crate::store::batch::{BATCH_DEAD_JOBS_MAX, BATCH_PAGE_MAX, BatchCounts, Callback};
use crate::store::id::JobId;

/// A batch: its members (id -> queue, and in the order they joined), those that ended
/// (id -> succeeded), the counts kept as they end, callbacks.
#[derive(Default)]
pub(super) struct MemBatch {
    pub(super) opened: bool,
    pub(super) finished: bool,
    pub(super) members: HashMap<JobId, String>,
    pub(super) order: Vec<JobId>,
    /// The queues the members sit on.
    pub(super) queues: BTreeSet<String>,
    pub(super) ended: HashMap<JobId, bool>,
    pub(super) succeeded: u64,
    /// Dead members, in the order they were counted.
    pub(super) dead: Vec<JobId>,
    pub(super) callbacks: Vec<Callback>,
}

impl MemBatch {
    pub(super) fn counts(&self) -> BatchCounts {
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
    pub(super) fn complete(&self) -> bool {
        self.ended.len() >= self.members.len()
    }

    /// Records a member; false if it was one already.
    pub(super) fn register(&mut self, id: JobId, queue: String) -> bool {
        if self.members.contains_key(&id) {
            return false;
        }
        self.queues.insert(queue.clone());
        self.members.insert(id, queue);
        self.order.push(id);
        true
    }

    /// Opens the batch with `members` and, the first time, its `callbacks` (see
    /// [`crate::Backend::batch_open`]); the caller then fires it if it is complete.
    pub(super) fn open(
        &mut self,
        members: Vec<(JobId, String)>,
        callbacks: Vec<Callback>,
    ) -> BatchAdded {
        if self.finished {
            return BatchAdded::Finished;
        }
        // A complete batch is firing: a retried open may name its members again, no others.
        if self.opened
            && self.complete()
            && members.iter().any(|(m, _)| !self.members.contains_key(m))
        {
            return BatchAdded::Finished;
        }
        for (member, queue) in members {
            self.register(member, queue);
        }
        if self.callbacks.is_empty() {
            self.callbacks = callbacks;
        }
        self.opened = true;
        BatchAdded::Added
    }

    /// Registers `jobs` as members of an open batch that has not ended (see
    /// [`crate::Backend::batch_add`]); the caller then stores them.
    pub(super) fn add(&mut self, jobs: &[NewJob]) -> BatchAdded {
        if self.finished || (self.opened && self.complete()) {
            return BatchAdded::Finished;
        }
        if !self.opened {
            return BatchAdded::NotFound;
        }
        for job in jobs {
            self.register(job.id, job.queue.clone());
        }
        BatchAdded::Added
    }
}

/// A page of `items`: from `offset`, at most `limit` (cut to [`BATCH_PAGE_MAX`]).
pub(super) fn page<T: Clone>(items: &[T], offset: usize, limit: usize) -> Vec<T> {
    items
        .iter()
        .skip(offset)
        .take(limit.min(BATCH_PAGE_MAX))
        .cloned()
        .collect()
}
