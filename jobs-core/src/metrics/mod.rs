//! Metrics through the [`metrics`](https://docs.rs/metrics) facade, behind the `metrics`
//! feature (off by default).
//!
//! With the feature on, the client and the worker record the metrics below into whatever
//! recorder the application installed (`metrics-exporter-prometheus`, say); with no
//! recorder installed they cost a lookup and nothing else. With the feature off every
//! recording call is an empty inline function: no allocation, no lock, no label built.
//!
//! | name | type | labels | meaning |
//! | --- | --- | --- | --- |
//! | `jobs_enqueued_total` | counter | `queue`, `job` | jobs stored by this process's [`Client`](crate::Client) (enqueue, enqueue_many, batches; a unique job refused or debounced is not counted) |
//! | `jobs_started_total` | counter | `queue`, `job` | attempts started by this process's workers |
//! | `jobs_succeeded_total` | counter | `queue`, `job` | attempts that succeeded, once the store recorded the outcome |
//! | `jobs_failed_total` | counter | `queue`, `job` | attempts that failed (error, panic, timeout, undecodable payload, unknown name), once recorded; each is then retried or dead |
//! | `jobs_retried_total` | counter | `queue`, `job` | failed attempts that will be retried (attempts left, error not permanent) |
//! | `jobs_dead_total` | counter | `queue`, `job` | failed attempts that sent the job to dead (a cancelled job that failed is counted here too) |
//! | `jobs_lease_renewals_total` | counter | `queue` | leases renewed by the heartbeat |
//! | `jobs_leases_lost_total` | counter | `queue` | leases this worker lost: the store refused the attempt's outcome (the lease had expired and the job was recovered); counted once per lost lease, when its job ends |
//! | `jobs_backend_errors_total` | counter | `op` | failed backend calls of workers and clients (`op`: `reserve`, `wait_for_work`, `renew`, `finish`, `progress`, `worker_beat`, `worker_gone`, `enqueue`, `stats`, `workers`, `queues`) |
//! | `jobs_run_seconds` | histogram | `queue`, `job` | how long an attempt ran, from its start to its outcome |
//! | `jobs_queue_wait_seconds` | histogram | `queue`, `job` | from the job's creation (the time in its UUIDv7 id, the enqueuer's clock) to its first delivery (the store's clock); includes a requested delay, so read it per queue that is not delayed |
//! | `jobs_queue_depth` | gauge | `queue`, `state` | jobs per state (`scheduled`, `ready`, `active`, `succeeded`, `dead`, `orphaned`), refreshed by [`spawn_queue_depths`] in the one process that runs it |
//! | `jobs_workers_live` | gauge | | live worker processes ([`Client::workers`](crate::Client::workers)), refreshed by [`spawn_queue_depths`] |
//! | `jobs_stalls_recovered_total` | counter | `queue` | leases that expired and were recovered (a worker died, hung or lost the store mid-job), as the store counts them per minute ([`MinuteCounts::stalled`](crate::MinuteCounts::stalled)), whichever reservation recovered them; added by [`spawn_queue_depths`] at each refresh (its first refresh takes the baseline) |
//!
//! Counters of outcomes are recorded in the worker that ran the attempt, when the store
//! has accepted the outcome (an outcome refused because the lease was lost counts as a
//! lost lease instead). Gauges describe the whole store, so exactly one process should
//! refresh them: a dashboard, or one worker chosen for it (the example worker's
//! `--queue-depths`).

#[cfg(feature = "metrics")]
mod on;
#[cfg(feature = "metrics")]
pub use on::spawn_queue_depths;
#[cfg(feature = "metrics")]
pub(crate) use on::*;

#[cfg(not(feature = "metrics"))]
mod off;
#[cfg(not(feature = "metrics"))]
pub(crate) use off::*;
