//! The jobs this worker is running: shared by the processors (add, remove), the
//! heartbeat (renew, cancel on lost lease) and shutdown.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::backend::Lease;
use crate::{CancelReason, JobContext, JobId};

/// Keyed by id and token: after a stall, the same worker can hold a new lease on a job
/// whose old run it is still finishing.
#[derive(Default)]
pub(crate) struct Active {
    jobs: Mutex<HashMap<(JobId, u64), (Lease, JobContext)>>,
}

impl Active {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(JobId, u64), (Lease, JobContext)>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, lease: Lease, ctx: JobContext) {
        self.lock().insert((lease.id, lease.token), (lease, ctx));
    }

    pub(crate) fn remove(&self, lease: &Lease) {
        self.lock().remove(&(lease.id, lease.token));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The leases to renew.
    pub(crate) fn leases(&self) -> Vec<Lease> {
        self.lock()
            .values()
            .map(|(lease, _)| lease.clone())
            .collect()
    }

    pub(crate) fn renewed(&self, lease: &Lease, expires_at_ms: u64) {
        if let Some((held, _)) = self.lock().get_mut(&(lease.id, lease.token)) {
            held.expires_at_ms = expires_at_ms;
        }
    }

    /// Asks the job to stop; false if it already finished (not running here any more).
    pub(crate) fn cancel(&self, lease: &Lease, reason: CancelReason) -> bool {
        match self.lock().get(&(lease.id, lease.token)) {
            Some((_, ctx)) => {
                ctx.cancel(reason);
                true
            }
            None => false,
        }
    }
}
