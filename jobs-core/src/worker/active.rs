//! The leases this worker holds: of running jobs, and of finished jobs whose outcome is
//! not recorded yet. Shared by the processors (add, mark finishing), the acker (remove
//! once recorded), the heartbeat (renew all, cancel a running job whose lease was lost)
//! and shutdown.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::job::context::{CancelReason, JobContext};
use crate::store::backend::{Lease, Progress};
use crate::store::id::JobId;

/// One held lease.
struct Entry {
    lease: Lease,
    ctx: JobContext,
    /// The job has ended and its outcome is on its way to the backend: the lease is still
    /// renewed (so a slow or retried outcome is not overtaken by a lease expiry), but a
    /// refused renewal is expected, not news.
    finishing: bool,
}

/// Keyed by id and token: after a stall, the same worker can hold a new lease on a job
/// whose old run it is still finishing.
#[derive(Default)]
pub(crate) struct Active {
    jobs: Mutex<HashMap<(JobId, u64), Entry>>,
}

impl Active {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(JobId, u64), Entry>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, lease: Lease, ctx: JobContext) {
        let key = (lease.id, lease.token);
        self.lock().insert(
            key,
            Entry {
                lease,
                ctx,
                finishing: false,
            },
        );
    }

    /// The job ended; its lease stays held until the outcome is recorded.
    pub(crate) fn finishing(&self, lease: &Lease) {
        if let Some(entry) = self.lock().get_mut(&(lease.id, lease.token)) {
            entry.finishing = true;
        }
    }

    pub(crate) fn remove(&self, lease: &Lease) {
        self.lock().remove(&(lease.id, lease.token));
    }

    /// Jobs still running (not finishing).
    pub(crate) fn running(&self) -> usize {
        self.lock().values().filter(|e| !e.finishing).count()
    }

    /// The leases to renew.
    pub(crate) fn leases(&self) -> Vec<Lease> {
        self.lock().values().map(|e| e.lease.clone()).collect()
    }

    /// Running jobs with a progress report not sent yet: the lease, the report, and the
    /// context (to mark the report unsent again if sending fails).
    pub(crate) fn progress(&self) -> Vec<(Lease, Progress, JobContext)> {
        self.lock()
            .values()
            .filter(|e| !e.finishing)
            .filter_map(|e| {
                let p = e.ctx.take_unsent_progress()?;
                Some((e.lease.clone(), p, e.ctx.clone()))
            })
            .collect()
    }

    pub(crate) fn renewed(&self, lease: &Lease, expires_at_ms: u64) {
        if let Some(entry) = self.lock().get_mut(&(lease.id, lease.token)) {
            entry.lease.expires_at_ms = expires_at_ms;
        }
    }

    /// Asks a running job to stop; false if it is not running here any more (finished,
    /// or finishing: its outcome is then refused or was already recorded).
    pub(crate) fn cancel(&self, lease: &Lease, reason: CancelReason) -> bool {
        match self.lock().get(&(lease.id, lease.token)) {
            Some(entry) if !entry.finishing => {
                entry.ctx.cancel(reason);
                true
            }
            _ => false,
        }
    }
}
