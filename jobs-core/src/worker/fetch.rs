//! The fetch loop: reserves jobs while there are free slots and hands each to a processor;
//! blocks on the backend when there is no work; backs off while the backend fails.
//!
//! Lifecycle: started by the launcher; returns once shutdown begins (after letting an
//! in-flight reservation land, so its jobs run or are released).

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::weights::Weighted;
use super::{RETRY_BACKOFF, Shared, processor, sleep_unless_stopped};
use crate::store::backend::Backend;
use crate::store::error::BackendError;

/// Reserves jobs while there are free slots; blocks on the backend when there is no work.
pub(super) async fn run<B: Backend>(
    shared: &Arc<Shared<B>>,
    tracker: &TaskTracker,
    stop: &CancellationToken,
) {
    let config = &shared.config;
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let mut failures = 0;
    // Bounds each blocking call of an idle worker: how long a dead connection can go
    // unnoticed and, with a backend that returns when it passes, how late the worker looks
    // again (never later than a lease, so a dead holder's job is recovered in time). A
    // backend that knows nothing is due (Redis) keeps waiting instead.
    let idle_wait = config.idle_wait.min(config.lease);
    // Weighted queues: a copy of the names, reordered in place before each reservation.
    let mut weighted = (config.weights.as_deref()).map(|w| Weighted::new(&config.queues, w));
    loop {
        // `biased`, stop first: once shutdown has begun, never reserve again, even when a
        // slot is free at the same moment.
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let mut permits = vec![first];
        while let Ok(permit) = slots.clone().try_acquire_owned() {
            permits.push(permit);
        }
        // Not raced against `stop`: dropping a reservation in flight could lease jobs
        // that nobody runs until their leases expire.
        let asked = permits.len();
        let queues = match &mut weighted {
            Some(weighted) => weighted.draw(),
            None => &config.queues[..],
        };
        match shared.backend.reserve(queues, asked, config.lease).await {
            Ok(jobs) => {
                failures = 0;
                let drained = jobs.len() < asked;
                let mut permits = permits.into_iter();
                for (job, permit) in jobs.into_iter().zip(&mut permits) {
                    tracker.spawn(processor::process(shared.clone(), job, permit));
                }
                drop(permits);
                // Fewer jobs than free slots: the queues are drained (every one was tried,
                // whatever the order), so block until any of them has work instead of
                // asking again at once.
                if drained {
                    tokio::select! {
                        waited = shared.backend.wait_for_work(&config.queues, idle_wait) => {
                            if let Err(e) = waited {
                                failures += 1;
                                backoff(&e, failures, stop).await;
                            }
                        }
                        _ = stop.cancelled() => return,
                    }
                }
            }
            Err(e) => {
                drop(permits);
                failures += 1;
                backoff(&e, failures, stop).await;
            }
        }
    }
}

async fn backoff(error: &BackendError, failures: u32, stop: &CancellationToken) {
    let wait = RETRY_BACKOFF.delay_with_jitter(failures, fastrand::f64());
    tracing::warn!(%error, retry_in = ?wait, "backend call failed; backing off");
    sleep_unless_stopped(wait, stop).await;
}
