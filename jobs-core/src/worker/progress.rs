//! The progress flusher: sends what running jobs reported, coalesced.
//!
//! A job may report progress as often as it likes ([`crate::JobContext::progress`] only
//! stores the latest value); every `progress_every`, the latest value of each job that
//! reported since the last flush goes to the backend in one batched call. A backend error
//! is logged; the values stay pending and go with the next flush.
//!
//! Lifecycle: started with the heartbeat, stopped with it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Shared, sleep_unless_stopped};
use crate::store::backend::Backend;

pub(crate) async fn run<B: Backend>(shared: Arc<Shared<B>>, stop: CancellationToken) {
    let every = shared.config.progress_every;
    while sleep_unless_stopped(every, &stop).await {
        let pending = shared.active.progress();
        if pending.is_empty() {
            continue;
        }
        let items: Vec<_> = pending
            .iter()
            .map(|(lease, p, _)| (lease.clone(), p.clone()))
            .collect();
        if let Err(e) = shared.backend.progress(items).await {
            shared.health.failed("progress", &e);
            tracing::warn!(error = %e, jobs = pending.len(), "could not record progress; retrying at the next flush");
            for (_, _, ctx) in &pending {
                ctx.progress_unsent();
            }
        } else {
            shared.health.ok();
        }
    }
}
