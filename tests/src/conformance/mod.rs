//! The backend conformance suite: the queue contract, checked the same way on every backend.
//!
//! A backend joins by implementing [`Harness`] and invoking [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! struct Memory;
//! impl jobs_tests::Harness for Memory { ... }
//! jobs_tests::conformance_tests!(test = tokio::test(start_paused = true), harness = Memory);
//! ```
//!
//! Durations in the cases are multiples of [`Harness::tick`], so a backend on a real clock
//! (Redis) can run them fast, and one on tokio's paused clock can use whole seconds for free.

mod admin_cases;
mod backend_cases;
mod batch_cases;
mod cancel_cases;
mod flow_cases;
mod follow_cases;
pub mod jobs;
mod worker_cases;

use std::future::Future;
use std::time::Duration;

use jobs_core::{Backend, Client, WorkerBuilder};

pub use admin_cases::*;
pub use backend_cases::*;
pub use batch_cases::*;
pub use cancel_cases::*;
pub use flow_cases::*;
pub use follow_cases::*;
pub use worker_cases::*;

use crate::support::{Recorder, RunningWorker};

/// Store-wide settings a case may need to change: the options every store takes (the
/// suite's name for them).
pub use jobs_core::StoreOptions as StoreConfig;

/// How the suite gets a fresh backend.
pub trait Harness: Sync {
    /// The backend under test.
    type Backend: Backend;

    /// A new, empty backend (or an empty namespace of a shared one).
    fn backend(&self, config: StoreConfig) -> impl Future<Output = Self::Backend> + Send;

    /// The suite's unit of time: leases are 3 ticks, heartbeats 1 tick.
    fn tick(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// How long a case waits for something that should happen before failing.
    fn patience(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// The lease the suite's workers use.
pub fn lease<H: Harness>(h: &H) -> Duration {
    h.tick() * 3
}

/// A client over a fresh default backend.
pub async fn client<H: Harness>(h: &H) -> Client<H::Backend> {
    Client::new(h.backend(StoreConfig::default()).await)
}

/// Starts a worker that knows every suite job, with the suite's lease and `configure` applied.
pub fn start_worker<H: Harness, B: Backend>(
    h: &H,
    client: &Client<B>,
    rec: &Recorder,
    configure: impl FnOnce(WorkerBuilder<B>) -> WorkerBuilder<B>,
) -> RunningWorker {
    let rec = rec.clone();
    let lease = lease(h);
    let adder = client.clone();
    let spawn: jobs::SpawnFn = Box::new(move |batch, job, id| {
        let client = adder.clone();
        Box::pin(async move { client.add_to_batch(batch, job, id).await })
    });
    let idle = h.tick();
    RunningWorker::start(client, move |b| {
        configure(
            b.register::<jobs::Echo>()
                .register::<jobs::Flaky>()
                .register::<jobs::Refuse>()
                .register::<jobs::Snoozer>()
                .register::<jobs::Stuck>()
                .register::<jobs::Forever>()
                .register::<jobs::Panicker>()
                .register::<jobs::Hold>()
                .register::<jobs::Keyed>()
                .register::<jobs::Throttled>()
                .register::<jobs::Rendezvous>()
                .register::<jobs::Reporter>()
                .register::<jobs::BatchDone>()
                .register::<jobs::Spawner>()
                .register::<jobs::Patient>()
                .data(jobs::Spawn(spawn))
                .data(rec)
                .data(tokio::sync::Barrier::new(8))
                .lease(lease)
                .idle_wait(idle)
                .concurrency(8),
        )
    })
}

/// Instantiates every case of the suite as a test: `test` is the test attribute to use,
/// `harness` an expression of a type implementing [`Harness`].
#[macro_export]
macro_rules! conformance_tests {
    (test = $test:meta, harness = $harness:expr $(,)?) => {
        $crate::conformance_tests!(@cases $test, $harness;
            runs_and_succeeds,
            stores_the_result,
            delayed_job_waits,
            priority_then_fifo,
            queues_in_precedence_order,
            retries_with_backoff_then_dead,
            permanent_failure_is_dead_at_once,
            snooze_runs_again_without_using_an_attempt,
            timeout_fails_the_attempt,
            panic_fails_the_attempt_and_worker_goes_on,
            expired_lease_is_redelivered,
            stale_token_rejected_after_redelivery,
            too_many_stalls_is_dead,
            renewal_keeps_a_lease,
            graceful_shutdown_releases_unfinished_at_once,
            undeserializable_payload_is_dead_and_worker_goes_on,
            unknown_job_name_retries_then_dead,
            jobs_run_concurrently,
            long_job_completes_exactly_once,
            enqueue_with_same_id_is_idempotent,
            enqueue_many_stores_all,
            jobs_are_looked_up_in_any_state,
            orphan_sweep_moves_nothing_on_a_healthy_queue,
            retry_dead_runs_again,
            retention_trims_succeeded,
            dead_set_is_capped,
            oversized_payload_refused,
            invalid_queue_refused,
            worker_refuses_missing_data,
            scheduled_work_wakes_sleeping_workers_on_time,
            events_follow_the_lifecycle,
            events_resume_after_a_cursor,
            events_are_bounded,
            wait_for_reports_how_a_job_ended,
            typed_outcome,
            progress_is_coalesced_and_readable,
            batch_callbacks_fire_once_with_a_summary,
            batch_of_successes_fires_success_not_failure,
            batch_counts_retried_members_once,
            jobs_added_from_inside_keep_the_batch_open,
            empty_batch_completes_at_once,
            batch_spans_queues,
            batch_status_is_one_call_and_counts_running,
            batch_members_and_dead_ids_are_paged,
            cancelled_waiting_job_never_runs,
            cancelled_running_job_is_told_and_ends_cancelled,
            cancelled_batch_finishes_with_its_callbacks,
            concurrency_limit_holds_across_workers,
            per_key_limit_does_not_block_other_keys,
            a_key_slot_is_given_back_on_every_ending,
            an_expired_lease_gives_back_its_queue_slot,
            paused_queue_starts_nothing_until_resumed,
            limits_are_stored_and_bad_ones_refused,
            raised_key_limit_applies_and_keyed_jobs_cancel,
            queue_rate_limit_holds_in_any_window,
            per_key_rate_limit_holds_and_other_keys_go_on,
            rate_limited_job_holds_its_key,
            a_job_past_its_deadline_expires_instead_of_starting,
            waiting_jobs_are_rescheduled_by_id,
            unique_jobs_hold_their_key,
            concurrent_unique_enqueues_store_one,
            paused_batch_holds_its_waiting_members,
            jobs_are_listed_by_state_in_pages,
            jobs_are_deleted_and_states_purged,
            dead_jobs_are_retried_by_time,
            throughput_counts_ended_attempts_per_minute,
            queues_and_live_workers_are_listed,
            deleted_waiting_jobs_give_back_their_flow_control,
            worker_registrations_are_kept_as_sent,
            pages_go_on_from_the_cursor_place_when_its_job_moved,
            purge_of_ready_takes_every_waiting_job,
        );
    };
    (@cases $test:meta, $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[$test]
            async fn $case() {
                $crate::conformance::$case(&$harness).await;
            }
        )*
    };
}
