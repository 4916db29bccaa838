//! The registration: keeps this worker in the store's list of live workers
//! ([`crate::Client::workers`]).
//!
//! Duties: register at start, then beat every third of the registration's time to live
//! with the current number of running jobs; remove the registration on a clean stop. A
//! failed beat is logged and tried again at the next one (a worker cut off from the store
//! drops out of the list after its ttl, which is what the list should say); it never stops
//! the worker. A worker killed outright drops out after its ttl.
//!
//! Lifecycle: started with the heartbeat; stopped after the last job finished, when it
//! removes the registration.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::{Shared, sleep_unless_stopped};
use crate::store::admin::WorkerInfo;
use crate::store::backend::Backend;

/// Longest the removal on shutdown may take: a store that does not answer must not hold
/// the shutdown up (the registration then expires by itself).
const GONE_TIMEOUT: Duration = Duration::from_secs(5);

/// This worker's registration, without the running count.
pub(crate) fn info<B>(shared: &Shared<B>, id: String) -> WorkerInfo {
    let mut info = WorkerInfo::new(
        id,
        host_name(),
        std::process::id(),
        shared.config.queues.clone(),
        shared.config.concurrency,
    );
    info.started_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    info
}

pub(crate) async fn run<B: Backend>(
    shared: Arc<Shared<B>>,
    mut info: WorkerInfo,
    stop: CancellationToken,
) {
    let ttl = shared.config.registry_ttl;
    let every = ttl / 3;
    loop {
        info.running = shared.active.running();
        match shared.backend.worker_beat(info.clone(), ttl).await {
            Ok(()) => shared.health.ok(),
            Err(e) => {
                shared.health.failed("worker_beat", &e);
                tracing::warn!(error = %e, retry_in = ?every, "could not register the worker in the list of live workers; retrying at the next beat");
            }
        }
        if !sleep_unless_stopped(every, &stop).await {
            break;
        }
    }
    match tokio::time::timeout(GONE_TIMEOUT, shared.backend.worker_gone(&info.id)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            shared.health.failed("worker_gone", &e);
            tracing::warn!(error = %e, "could not remove the worker from the list of live workers; it drops out after its ttl");
        }
        Err(_) => tracing::warn!(
            "the store did not answer the worker's removal from the list of live workers; it drops out after its ttl"
        ),
    }
}

/// The machine's host name, without a dependency: the kernel's, `/etc/hostname`, or
/// `$HOSTNAME`; `unknown` if none is found.
pub(crate) fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .chain(std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
