//! The processor: runs one reserved job and reports its outcome.
//!
//! Duties: decode the payload into its registered type (a payload that does not decode
//! goes to dead, an unknown name is retried for a worker that knows it), run the job in its
//! own task so a panic ends only that attempt, enforce the job's timeout, turn the result
//! into an [`Outcome`], and hand it, with the job's slot, to the acker, which records it.
//! On hard shutdown it aborts the job and releases it at once.

use std::any::Any;
use std::future::pending;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::Shared;
use super::acker::Ack;
use crate::job::backoff::Backoff;
use crate::job::context::{CancelReason, JobContext};
use crate::job::error::JobErrorKind;
use crate::metrics;
use crate::store::backend::{Backend, Finish, Outcome, Reserved};

pub(crate) async fn process<B: Backend>(
    shared: Arc<Shared<B>>,
    job: Reserved,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!(
        "job",
        id = %job.lease.id,
        name = %job.name,
        queue = %job.lease.queue,
        attempt = job.attempt,
    );
    async move {
        let ctx = JobContext::new(&job, shared.data.clone());
        shared.active.insert(job.lease.clone(), ctx.clone());
        metrics::started(&job, shared.config.lease);
        let started = tokio::time::Instant::now();
        let outcome = run(&shared, &job, ctx).await;
        let elapsed = started.elapsed();
        metrics::ran(&job, elapsed);
        log_outcome(&job, &outcome, elapsed);
        // Still renewed until the acker has recorded the outcome, then removed by it.
        shared.active.finishing(&job.lease);
        let ack = Ack {
            finish: Finish {
                lease: job.lease,
                outcome,
            },
            name: job.name,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            _slot: permit,
        };
        // The acker outlives every processor; should it be gone, the lease expires and
        // the job runs again.
        let _ = shared.acks.send(ack);
    }
    .instrument(span)
    .await
}

async fn run<B: Backend>(shared: &Shared<B>, job: &Reserved, ctx: JobContext) -> Outcome {
    let Some(handler) = shared.registry.get(&job.name) else {
        // Maybe a newer worker knows it (mixed-version deployment): retry, bounded by the
        // job's attempts, rather than kill it on sight.
        let known: Vec<_> = shared.registry.names().collect();
        return Outcome::Failed {
            error: format!(
                "unknown job name `{}`: no handler registered on this worker (it knows {known:?})",
                job.name
            ),
            retry_after: Some(retry_delay(&Backoff::DEFAULT, job.attempt)),
        };
    };
    let options = handler.options();
    let future = match handler.start(&job.payload, ctx.clone()) {
        Ok(future) => future,
        // Retrying cannot fix a payload: dead at once, with the payload kept for inspection.
        Err(e) => {
            return Outcome::Failed {
                error: e.to_string(),
                retry_after: None,
            };
        }
    };
    let mut task = tokio::spawn(future.in_current_span());
    let timeout = async {
        match options.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => pending().await,
        }
    };
    let joined = tokio::select! {
        joined = &mut task => joined,
        _ = timeout => {
            ctx.cancel(CancelReason::Timeout);
            task.abort();
            let limit = options.timeout.unwrap_or_default();
            return Outcome::Failed {
                error: format!("timed out after {limit:?}"),
                retry_after: Some(retry_delay(&options.backoff, job.attempt)),
            };
        }
        _ = shared.hard_stop.cancelled() => {
            ctx.cancel(CancelReason::Shutdown);
            task.abort();
            return Outcome::Release;
        }
    };
    match joined {
        Ok(Ok(result)) => Outcome::Succeeded { result },
        Ok(Err(e)) => match e.kind() {
            JobErrorKind::Permanent => Outcome::Failed {
                error: e.chain(),
                retry_after: None,
            },
            JobErrorKind::Snooze { after } => Outcome::Snooze { after },
            JobErrorKind::RateLimited { after } => Outcome::RateLimited { after },
            JobErrorKind::Retry { after } => Outcome::Failed {
                error: e.chain(),
                retry_after: Some(
                    after.unwrap_or_else(|| retry_delay(&options.backoff, job.attempt)),
                ),
            },
        },
        Err(e) if e.is_panic() => Outcome::Failed {
            error: format!("panicked: {}", panic_message(e.into_panic())),
            retry_after: Some(retry_delay(&options.backoff, job.attempt)),
        },
        // Only this module aborts the task, and it returns before getting here.
        Err(_) => Outcome::Release,
    }
}

fn retry_delay(backoff: &Backoff, attempt: u32) -> Duration {
    backoff.delay_with_jitter(attempt, fastrand::f64())
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(_) => "a non-string panic payload".to_owned(),
        },
    }
}

fn log_outcome(job: &Reserved, outcome: &Outcome, elapsed: Duration) {
    match outcome {
        Outcome::Succeeded { .. } => tracing::info!(?elapsed, "job succeeded"),
        Outcome::Failed {
            error,
            retry_after: Some(after),
        } if job.attempt < job.max_attempts => {
            tracing::warn!(?elapsed, %error, retry_in = ?after, "job failed; will retry")
        }
        Outcome::Failed { error, .. } => {
            tracing::error!(?elapsed, %error, "job failed; moved to dead")
        }
        Outcome::Snooze { after } => tracing::info!(?elapsed, ?after, "job snoozed"),
        Outcome::RateLimited { after } => {
            tracing::info!(?elapsed, ?after, "job rate limited; its key waits too")
        }
        Outcome::Release => tracing::info!(
            ?elapsed,
            "job interrupted by shutdown; returned to the queue"
        ),
    }
}
