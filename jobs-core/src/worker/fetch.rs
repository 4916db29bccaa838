//! The fetch loop: reserves jobs while there are free slots and hands each to a processor;
//! blocks on the backend when there is no work; backs off while the backend fails.
//!
//! In burst mode ([`super::Mode::UntilEmpty`]) it also returns once a reservation finds
//! nothing while no job of this worker runs or waits for its outcome to be recorded:
//! every slot is free, so nothing here can make more work ready.
//!
//! Lifecycle: started by the launcher; returns once shutdown begins (after letting an
//! in-flight reservation land, so its jobs run or are released), or in burst mode once
//! the queues are empty.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::weights::Weighted;
use super::{Mode, RETRY_BACKOFF, Shared, processor, sleep_unless_stopped};
use crate::store::backend::Backend;
use crate::store::error::BackendError;

/// Reserves jobs while there are free slots; blocks on the backend when there is no work.
pub(super) async fn run<B: Backend>(
    shared: &Arc<Shared<B>>,
    tracker: &TaskTracker,
    stop: &CancellationToken,
    mode: Mode,
) {
    let config = &shared.config;
    let health = &shared.health;
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
        health.waiting();
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        health.step();
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
                health.ok();
                failures = 0;
                let got = jobs.len();
                let drained = got < asked;
                let mut permits = permits.into_iter();
                for (job, permit) in jobs.into_iter().zip(&mut permits) {
                    tracker.spawn(processor::process(shared.clone(), job, permit));
                }
                drop(permits);
                if !drained {
                    continue;
                }
                // Burst mode: nothing ready and every slot free (no job running here, no
                // outcome left to record, so no retry of ours can come due while we wait).
                let all_free = slots.available_permits() == config.concurrency;
                if mode == Mode::UntilEmpty && got == 0 && all_free {
                    tracing::info!("burst mode: no job ready and none running; stopping");
                    return;
                }
                // Fewer jobs than free slots: the queues are drained (every one was tried,
                // whatever the order), so block until any of them has work instead of
                // asking again at once (in burst mode, also until every slot is free, to
                // look once more and stop).
                let every_slot_free = async {
                    match mode {
                        Mode::UntilEmpty => {
                            let n = u32::try_from(config.concurrency).unwrap_or(u32::MAX);
                            drop(slots.acquire_many(n).await);
                        }
                        Mode::UntilSignal => std::future::pending().await,
                    }
                };
                health.waiting();
                tokio::select! {
                    waited = shared.backend.wait_for_work(&config.queues, idle_wait) => {
                        health.step();
                        match waited {
                            Ok(()) => health.ok(),
                            Err(e) => {
                                health.failed("wait_for_work", &e);
                                failures += 1;
                                backoff(&e, failures, stop).await;
                            }
                        }
                    }
                    _ = every_slot_free => {}
                    _ = stop.cancelled() => return,
                }
            }
            Err(e) => {
                health.failed("reserve", &e);
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
