//! Everything the memory store holds, behind its one lock: the queues, the batches, and
//! the next fencing token.

use std::collections::HashMap;

use super::batches::MemBatch;
use super::queue::QueueState;
use crate::store::backend::NewJob;
use crate::store::batch::{BatchId, BatchSummary};

/// The whole store; each backend call is one critical section over it.
#[derive(Default)]
pub(super) struct State {
    pub(super) queues: HashMap<String, QueueState>,
    pub(super) next_token: u64,
    pub(super) batches: HashMap<BatchId, MemBatch>,
    /// Batches paused now: their waiting members do not start.
    pub(super) paused_batches: std::collections::HashSet<BatchId>,
    /// Live workers by id (dropped when read after their expiry).
    pub(super) workers: HashMap<String, crate::store::admin::WorkerInfo>,
}

impl State {
    /// Counts members that ended (collected by the queues during this call) in their
    /// batches, and fires the callbacks of batches that are now complete.
    pub(super) fn settle_batches(&mut self, now: u64) -> bool {
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
    pub(super) fn fire_if_complete(&mut self, batch: BatchId, now: u64) -> bool {
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
    pub(super) fn running(&self, batch: BatchId, b: &MemBatch) -> u64 {
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
