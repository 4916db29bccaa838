//! The worker pool: one process running many jobs at once from several queues.
//!
//! Duties of [`Worker::run_until`] (the launcher and manager): check the configuration,
//! start the heartbeat, the acker and the registration, reserve jobs while there are free
//! slots and hand each to a processor task, block on the backend when there is nothing to
//! do, and on the shutdown signal (or, in burst mode, once the queues are empty) stop
//! reserving, wait for running jobs up to the grace period, then release the rest to the
//! queue at once and record every outcome.
//!
//! The launcher is here; [`WorkerBuilder`] (`builder.rs`) configures it, and each task it
//! starts has its own file: `fetch.rs` (reserve), `processor.rs` (run one job),
//! `acker.rs` (record outcomes), `heartbeat.rs` (renew leases), `progress.rs` (send
//! progress), `registry.rs` (the list of live workers), `health.rs` (the health signal), with `active.rs` holding the leases they share and `weights.rs` drawing the
//! order of weighted queues for each reservation.

mod acker;
mod active;
mod builder;
mod fetch;
mod health;
mod heartbeat;
mod processor;
mod progress;
mod registry;
pub(crate) mod signal;
mod weights;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::job::backoff::Backoff;
use crate::job::data::DataMap;
use crate::job::registry::Registry;
use crate::store::backend::Backend;
use builder::Config;
pub use builder::{Worker, WorkerBuilder, WorkerError};
pub use health::{HealthStatus, WorkerHealth, WorkerPhase};

/// Backoff between retries of a failing backend call (reserve, finish).
const RETRY_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5));

/// What the worker's tasks share.
pub(crate) struct Shared<B> {
    backend: Arc<B>,
    registry: Registry,
    data: Arc<DataMap>,
    config: Config,
    active: active::Active,
    /// Fired when the grace period is over: running jobs are aborted and released.
    hard_stop: CancellationToken,
    /// Outcomes of finished jobs, for the acker.
    acks: tokio::sync::mpsc::UnboundedSender<acker::Ack>,
    health: Arc<health::HealthState>,
}

/// When the fetch loop ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Never: only the shutdown signal ends it.
    UntilSignal,
    /// Once the queues have no job ready and none runs here ([`Worker::run_until_empty`]).
    UntilEmpty,
}

/// Sleeps for `period`, or less if `stop` fires first; true if the whole period passed.
async fn sleep_unless_stopped(period: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => true,
        _ = stop.cancelled() => false,
    }
}

impl<B: Backend> Worker<B> {
    /// Runs until `signal` resolves, then shuts down gracefully: stops reserving, lets
    /// running jobs finish within the grace period, and returns unfinished ones to their
    /// queue at once.
    ///
    /// Backend errors never end the worker: it logs them, backs off, and goes on. It
    /// returns an error only when the configuration is unusable.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), WorkerError> {
        self.run_mode(signal, Mode::UntilSignal).await
    }

    /// Burst mode: runs jobs until the queues it serves have no job ready to start and
    /// none is running in this worker, then shuts down as [`Worker::run_until`] does and
    /// returns. Also stops on ctrl-c or SIGTERM. Like Laravel's
    /// `queue:work --stop-when-empty` or RQ's burst mode: for a cron-started drain, a
    /// batch script, a test.
    ///
    /// Jobs scheduled for later do not keep it running, and neither do retries: a failed
    /// attempt is rescheduled with its backoff as usual, and runs in this worker only if it
    /// is due before the worker finds itself empty (while other jobs still run, say);
    /// otherwise a later worker (or burst) runs it. Neither do jobs held back by a paused
    /// queue, a limit or a rate limit: they are not ready to start.
    ///
    /// ```
    /// use jobs_core::{job, Client, JobError, MemoryBackend, Worker};
    ///
    /// #[job]
    /// async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// client.enqueue_many((0..10).map(|i| Ping { host: format!("node-{i}") })).await?;
    /// Worker::builder(client.clone()).register::<Ping>().build().run_until_empty().await?;
    /// assert_eq!(client.stats("default").await?.succeeded, 10);
    /// # Ok(()) }
    /// ```
    pub async fn run_until_empty(self) -> Result<(), WorkerError> {
        self.run_mode(signal::shutdown_signal(), Mode::UntilEmpty)
            .await
    }

    /// Burst mode ([`Worker::run_until_empty`]), stopping early when `signal` resolves
    /// instead of on ctrl-c or SIGTERM.
    pub async fn run_until_empty_or(
        self,
        signal: impl Future<Output = ()> + Send,
    ) -> Result<(), WorkerError> {
        self.run_mode(signal, Mode::UntilEmpty).await
    }

    async fn run_mode(
        self,
        signal: impl Future<Output = ()> + Send,
        mode: Mode,
    ) -> Result<(), WorkerError> {
        self.check()?;
        tokio::pin!(signal);
        let health = self.health.clone();
        health.set_phase(WorkerPhase::Running);
        health.step();
        if !self.store_limits(&mut signal).await? {
            health.set_phase(WorkerPhase::Stopped);
            return Ok(());
        }
        let id = self.id.to_string();
        let (acks, ack_queue) = acker::channel();
        let shared = Arc::new(Shared {
            backend: self.client.backend_arc().clone(),
            registry: self.registry,
            data: Arc::new(self.data),
            config: self.config,
            active: active::Active::default(),
            hard_stop: CancellationToken::new(),
            acks,
            health: health.clone(),
        });
        let config = &shared.config;
        tracing::info!(worker_id = %id, queues = ?config.queues, weights = ?config.weights, concurrency = config.concurrency, lease = ?config.lease, burst = (mode == Mode::UntilEmpty), "worker started");

        let stop_heartbeat = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat::run(shared.clone(), stop_heartbeat.clone()));
        let progress = tokio::spawn(progress::run(shared.clone(), stop_heartbeat.clone()));
        let registration = registry::info(&shared, id);
        let registry = tokio::spawn(registry::run(
            shared.clone(),
            registration,
            stop_heartbeat.clone(),
        ));
        let stop_acker = CancellationToken::new();
        let mut acker = tokio::spawn(acker::run(shared.clone(), ack_queue, stop_acker.clone()));
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        {
            let fetch = fetch::run(&shared, &tracker, &stop, mode);
            tokio::pin!(fetch);
            tokio::select! {
                _ = &mut fetch => {}
                _ = &mut signal => {
                    stop.cancel();
                    // Let an in-flight reservation land: its jobs then run (or are released).
                    fetch.await;
                }
            }
        }

        tracker.close();
        health.set_phase(WorkerPhase::ShuttingDown);
        tracing::info!(running = shared.active.running(), grace = ?config.grace, "shutting down: no new jobs; waiting for running ones");
        // One deadline for the running jobs and for recording their outcomes.
        let deadline = tokio::time::Instant::now() + config.grace;
        if tokio::time::timeout_at(deadline, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = shared.active.running(),
                "grace period over: returning unfinished jobs to the queue"
            );
            shared.hard_stop.cancel();
            tracker.wait().await;
        }
        // Every processor has handed over its outcome: record them, then stop.
        stop_acker.cancel();
        if tokio::time::timeout_at(deadline, &mut acker).await.is_err() {
            shared.hard_stop.cancel();
            let _ = acker.await;
        }
        stop_heartbeat.cancel();
        let _ = heartbeat.await;
        let _ = progress.await;
        let _ = registry.await;
        health.set_phase(WorkerPhase::Stopped);
        tracing::info!("worker stopped");
        Ok(())
    }

    /// Stores the limits given to [`WorkerBuilder::limits`], retrying while the backend is
    /// unreachable; false if `signal` came first.
    async fn store_limits(
        &self,
        signal: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<bool, WorkerError> {
        for (queue, limits) in &self.config.limits {
            let mut failures = 0;
            loop {
                match self.client.set_limits(queue, *limits).await {
                    Ok(()) => break,
                    Err(e) if e.is_transient() => {
                        failures += 1;
                        let wait = RETRY_BACKOFF.delay(failures);
                        tracing::warn!(error = %e, queue, retry_in = ?wait, "cannot store the queue's limits; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = &mut *signal => return Ok(false),
                        }
                    }
                    Err(source) => {
                        return Err(WorkerError::StoreLimits {
                            queue: queue.clone(),
                            source,
                        });
                    }
                }
            }
        }
        Ok(true)
    }

    /// Runs until ctrl-c or SIGTERM; see [`Worker::run_until`].
    pub async fn run(self) -> Result<(), WorkerError> {
        self.run_until(signal::shutdown_signal()).await
    }
}
