//! The heartbeat: keeps the leases of running jobs alive.
//!
//! Duties: every third of the lease length, renew the leases of all running jobs in one
//! batched call; when the backend says a lease is lost, tell that job to stop (its outcome
//! will be refused anyway). A backend error is logged and retried at the next beat: one
//! missed beat leaves two thirds of the lease.
//!
//! Lifecycle: started before the first reservation, stopped after the last job finished.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Shared, sleep_unless_stopped};
use crate::job::context::CancelReason;
use crate::metrics;
use crate::store::backend::{Backend, LeaseStatus};

pub(crate) async fn run<B: Backend>(shared: Arc<Shared<B>>, stop: CancellationToken) {
    let every = shared.config.lease / 3;
    while sleep_unless_stopped(every, &stop).await {
        let leases = shared.active.leases();
        if leases.is_empty() {
            continue;
        }
        match shared.backend.renew(&leases, shared.config.lease).await {
            Ok(statuses) => {
                shared.health.ok();
                for (lease, status) in leases.iter().zip(statuses) {
                    match status {
                        LeaseStatus::Held { expires_at_ms } => {
                            metrics::renewed(&lease.queue);
                            shared.active.renewed(lease, expires_at_ms)
                        }
                        LeaseStatus::CancelRequested { expires_at_ms } => {
                            metrics::renewed(&lease.queue);
                            shared.active.renewed(lease, expires_at_ms);
                            if shared.active.cancel(lease, CancelReason::Cancelled) {
                                tracing::info!(job_id = %lease.id, queue = %lease.queue, "job cancelled by the application; asking it to stop");
                            }
                        }
                        _ => {
                            if shared.active.cancel(lease, CancelReason::LeaseLost) {
                                tracing::warn!(
                                    job_id = %lease.id, queue = %lease.queue,
                                    "lease lost (not renewed in time): the job may run elsewhere; asking it to stop"
                                );
                            }
                        }
                    }
                }
            }
            Err(e) => {
                shared.health.failed("renew", &e);
                tracing::warn!(error = %e, jobs = leases.len(), "could not renew leases; retrying at the next beat")
            }
        }
    }
}
