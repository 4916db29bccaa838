//! The acker: records the outcomes of finished jobs, many per backend call.
//!
//! Duties: take outcomes from the processors; send every outcome that is waiting in one
//! `finish` call (group commit: while one call is in flight, the next batch gathers, so a
//! busy worker needs far fewer round trips than jobs, and an idle one adds no delay); log
//! outcomes the backend refused because the lease was lost; retry a batch while the backend
//! is unreachable, until hard shutdown. A job's slot (its semaphore permit) travels with
//! its outcome and is freed once the outcome is recorded, so running jobs plus pending
//! outcomes never exceed the concurrency; the heartbeat keeps renewing its lease until
//! then too, so a slow or retried outcome is not overtaken by a lease expiry.
//!
//! Lifecycle: started with the worker; stopped after the last processor has handed over its
//! outcome, when it records what is left and returns.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::{RETRY_BACKOFF, Shared, sleep_unless_stopped};
use crate::metrics;
use crate::store::backend::{Backend, Finish, LeaseStatus};

/// Most outcomes sent in one call.
const BATCH_MAX: usize = 1_000;

/// One finished job, waiting to be recorded.
pub(crate) struct Ack {
    pub(crate) finish: Finish,
    pub(crate) name: String,
    /// The attempt's number and the attempts allowed: whether a failure is retried.
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    /// Freed (dropped) once the outcome is recorded.
    pub(crate) _slot: OwnedSemaphorePermit,
}

pub(crate) fn channel() -> (UnboundedSender<Ack>, UnboundedReceiver<Ack>) {
    unbounded_channel()
}

pub(crate) async fn run<B: Backend>(
    shared: Arc<Shared<B>>,
    mut acks: UnboundedReceiver<Ack>,
    stop: CancellationToken,
) {
    let mut batch: Vec<Ack> = Vec::new();
    loop {
        let stopping = tokio::select! {
            biased;
            ack = acks.recv() => match ack {
                Some(ack) => {
                    batch.push(ack);
                    false
                }
                None => true,
            },
            _ = stop.cancelled() => true,
        };
        while batch.len() < BATCH_MAX {
            match acks.try_recv() {
                Ok(ack) => batch.push(ack),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            record(&shared, std::mem::take(&mut batch)).await;
        }
        if stopping && acks.is_empty() {
            return;
        }
    }
}

/// Sends one batch, retrying while the backend is unreachable. Gives up only on hard
/// shutdown: the leases then expire and the jobs run again (at-least-once).
async fn record<B: Backend>(shared: &Shared<B>, batch: Vec<Ack>) {
    send(shared, &batch).await;
    // Recorded (or given up on): stop renewing these leases.
    for ack in &batch {
        shared.active.remove(&ack.finish.lease);
    }
}

async fn send<B: Backend>(shared: &Shared<B>, batch: &[Ack]) {
    let items: Vec<Finish> = batch.iter().map(|a| a.finish.clone()).collect();
    let mut tries = 0;
    loop {
        match shared.backend.finish(items.clone()).await {
            Ok(statuses) => {
                shared.health.ok();
                for (ack, status) in batch.iter().zip(statuses) {
                    let lease = &ack.finish.lease;
                    metrics::recorded(
                        &lease.queue,
                        &ack.name,
                        &ack.finish.outcome,
                        ack.attempt,
                        ack.max_attempts,
                        status,
                    );
                    if status == LeaseStatus::Finished {
                        tracing::debug!(job_id = %ack.finish.lease.id, "outcome already recorded by an earlier try");
                    }
                    if status == LeaseStatus::Stale {
                        tracing::warn!(
                            job_id = %lease.id, queue = %lease.queue, name = %ack.name,
                            "lease was lost before the job finished: outcome discarded (the job was recovered and may run again)"
                        );
                    }
                }
                return;
            }
            Err(e) => {
                shared.health.failed("finish", &e);
                tries += 1;
                if shared.hard_stop.is_cancelled() {
                    tracing::warn!(error = %e, jobs = batch.len(), "shutting down with outcomes unrecorded; those jobs will run again after their leases expire");
                    return;
                }
                let wait = RETRY_BACKOFF.delay_with_jitter(tries, fastrand::f64());
                tracing::warn!(error = %e, jobs = batch.len(), retry_in = ?wait, "could not record job outcomes; retrying");
                sleep_unless_stopped(wait, &shared.hard_stop).await;
            }
        }
    }
}
