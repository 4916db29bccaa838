//! The `metrics` feature is on: recording through the `metrics` facade.

use std::collections::HashMap;
use std::time::Duration;

use ::metrics::{counter, gauge, histogram};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::store::admin::MinuteCounts;
use crate::store::backend::{Backend, Enqueued, LeaseStatus, NewJob, Outcome, Reserved};

/// The jobs of one enqueue call, counted once the store took them: as runs of consecutive
/// jobs of one queue and type, so a bulk enqueue of one type costs one label set and one
/// counter update, not one per job.
pub(crate) struct Tally {
    /// (queue, job type, how many in a row).
    runs: Vec<(String, String, usize)>,
}

impl Tally {
    pub(crate) fn of(jobs: &[NewJob]) -> Tally {
        let mut runs: Vec<(String, String, usize)> = Vec::new();
        for j in jobs {
            match runs.last_mut() {
                Some((queue, name, n)) if *queue == j.queue && *name == j.name => *n += 1,
                _ => runs.push((j.queue.clone(), j.name.clone(), 1)),
            }
        }
        Tally { runs }
    }

    /// Every job was stored.
    pub(crate) fn all(self) {
        for (queue, job, n) in self.runs {
            counter!("jobs_enqueued_total", "queue" => queue, "job" => job).increment(n as u64);
        }
    }

    /// The jobs whose answer says they were stored (answers in the jobs' order).
    pub(crate) fn stored(self, answers: &[Enqueued]) {
        let mut answers = answers.iter();
        for (queue, job, n) in self.runs {
            let stored = answers
                .by_ref()
                .take(n)
                .filter(|a| matches!(a, Enqueued::Stored | Enqueued::Replaced { .. }))
                .count();
            if stored > 0 {
                counter!("jobs_enqueued_total", "queue" => queue, "job" => job)
                    .increment(stored as u64);
            }
        }
    }
}

fn labels(queue: &str, job: &str) -> [(&'static str, String); 2] {
    [("queue", queue.to_owned()), ("job", job.to_owned())]
}

/// An attempt starts; `lease` is the length it was reserved for, so the reservation's
/// time on the store's clock is the lease's end less it.
pub(crate) fn started(job: &Reserved, lease: Duration) {
    let labels = labels(&job.lease.queue, &job.name);
    counter!("jobs_started_total", &labels).increment(1);
    if job.deliveries != 1 {
        return;
    }
    // Ids made by `JobId::new` are UUIDv7, carrying their creation time; derived ids
    // (batch callbacks) carry none.
    let Some(created) = job.lease.id.as_uuid().get_timestamp() else {
        return;
    };
    let (secs, nanos) = created.to_unix();
    let created_ms = secs * 1_000 + u64::from(nanos) / 1_000_000;
    let reserved_ms = job
        .lease
        .expires_at_ms
        .saturating_sub(lease.as_millis() as u64);
    let wait_ms = reserved_ms.saturating_sub(created_ms);
    histogram!("jobs_queue_wait_seconds", &labels).record(wait_ms as f64 / 1_000.0);
}

/// An attempt ran for `elapsed`.
pub(crate) fn ran(job: &Reserved, elapsed: Duration) {
    histogram!("jobs_run_seconds", &labels(&job.lease.queue, &job.name))
        .record(elapsed.as_secs_f64());
}

/// The store answered `status` to an attempt's outcome.
pub(crate) fn recorded(
    queue: &str,
    job: &str,
    outcome: &Outcome,
    attempt: u32,
    max_attempts: u32,
    status: LeaseStatus,
) {
    match status {
        LeaseStatus::Stale => {
            lease_lost(queue);
            return;
        }
        // Counted by the try whose answer was lost.
        LeaseStatus::Finished => return,
        _ => {}
    }
    let labels = labels(queue, job);
    match outcome {
        Outcome::Succeeded { .. } => counter!("jobs_succeeded_total", &labels).increment(1),
        Outcome::Failed { retry_after, .. } => {
            counter!("jobs_failed_total", &labels).increment(1);
            if retry_after.is_some() && attempt < max_attempts {
                counter!("jobs_retried_total", &labels).increment(1);
            } else {
                counter!("jobs_dead_total", &labels).increment(1);
            }
        }
        _ => {}
    }
}

/// Adds to `jobs_stalls_recovered_total{queue}` the stalls the store counted since the
/// last refresh (recovered leases are counted by the store, in the minute they were
/// recovered, whichever worker's reservation recovered them). `seen` is the minute and
/// count of the last refresh; the first refresh of a queue only takes its baseline.
fn count_stalls(queue: &str, minutes: &[MinuteCounts], seen: &mut HashMap<String, (u64, u64)>) {
    let [previous, current] = minutes else { return };
    let added = match seen.get(queue) {
        None => 0,
        Some(&(minute, n)) if minute == current.minute_ms => current.stalled.saturating_sub(n),
        Some(&(minute, n)) if minute == previous.minute_ms => {
            previous.stalled.saturating_sub(n) + current.stalled
        }
        // Refreshed less often than every minute: the minutes in between are not read.
        Some(_) => previous.stalled + current.stalled,
    };
    seen.insert(queue.to_owned(), (current.minute_ms, current.stalled));
    if added > 0 {
        counter!("jobs_stalls_recovered_total", "queue" => queue.to_owned()).increment(added);
    }
}

/// A lease of `queue` was renewed.
pub(crate) fn renewed(queue: &str) {
    counter!("jobs_lease_renewals_total", "queue" => queue.to_owned()).increment(1);
}

/// A lease of `queue` was lost: counted when the store refuses the outcome, which every
/// lost lease's job ends with (the heartbeat's earlier notice is not counted again).
fn lease_lost(queue: &str) {
    counter!("jobs_leases_lost_total", "queue" => queue.to_owned()).increment(1);
}

/// A backend call failed.
pub(crate) fn backend_error(op: &'static str) {
    counter!("jobs_backend_errors_total", "op" => op).increment(1);
}

/// Refreshes the `jobs_queue_depth{queue,state}` gauges (and `jobs_workers_live`) every
/// `every`, from [`Client::stats`] of each of `queues` (all the queues the store knows,
/// [`Client::queues`], when `None`), until the returned task is aborted. Only with the
/// `metrics` feature.
///
/// Run it in one process only (a dashboard, or one chosen worker): every process that
/// runs it reads every queue's counts.
///
/// ```
/// use std::time::Duration;
/// use jobs_core::{Client, MemoryBackend};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let client = Client::new(MemoryBackend::new());
/// let depths = jobs_core::metrics::spawn_queue_depths(client, None, Duration::from_secs(15));
/// // ... until the process stops:
/// depths.abort();
/// # }
/// ```
pub fn spawn_queue_depths<B: Backend>(
    client: Client<B>,
    queues: Option<Vec<String>>,
    every: Duration,
) -> JoinHandle<()> {
    let every = every.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stalls = HashMap::new();
        loop {
            tick.tick().await;
            refresh(&client, queues.as_deref(), &mut stalls).await;
        }
    })
}

/// One refresh of the gauges; errors are logged and counted, and the next tick tries again.
async fn refresh<B: Backend>(
    client: &Client<B>,
    queues: Option<&[String]>,
    stalls: &mut HashMap<String, (u64, u64)>,
) {
    let all;
    let queues = match queues {
        Some(queues) => queues,
        None => match client.queues().await {
            Ok(q) => {
                all = q;
                &all[..]
            }
            Err(e) => {
                backend_error("queues");
                tracing::warn!(error = %e, "queue depths: cannot list the queues");
                return;
            }
        },
    };
    for queue in queues {
        match client.stats(queue).await {
            Ok(s) => {
                for (state, n) in [
                    ("scheduled", s.scheduled),
                    ("ready", s.ready),
                    ("active", s.active),
                    ("succeeded", s.succeeded),
                    ("dead", s.dead),
                    ("orphaned", s.orphaned),
                ] {
                    gauge!("jobs_queue_depth", "queue" => queue.clone(), "state" => state)
                        .set(n as f64);
                }
            }
            Err(e) => {
                backend_error("stats");
                tracing::warn!(error = %e, queue, "queue depths: cannot read the queue's counts");
            }
        }
        match client.throughput(queue, 2).await {
            Ok(minutes) => count_stalls(queue, &minutes, stalls),
            Err(e) => {
                backend_error("throughput");
                tracing::warn!(error = %e, queue, "queue depths: cannot read the queue's stalls");
            }
        }
    }
    match client.workers().await {
        Ok(w) => gauge!("jobs_workers_live").set(w.len() as f64),
        Err(e) => {
            backend_error("workers");
            tracing::warn!(error = %e, "queue depths: cannot list the live workers");
        }
    }
}
