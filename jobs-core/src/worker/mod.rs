//! The worker pool: one process running many jobs at once from several queues.
//!
//! Duties of [`Worker::run_until`] (the launcher and manager): check the configuration,
//! start the heartbeat and the acker, reserve jobs while there are free slots and hand
//! each to a processor task, block on the backend when there is nothing to do, and on the
//! shutdown signal stop reserving, wait for running jobs up to the grace period, then
//! release the rest to the queue at once and record every outcome.

mod acker;
mod active;
mod heartbeat;
mod processor;
mod progress;
pub(crate) mod signal;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::Client;
use crate::job::Job;
use crate::job::backoff::Backoff;
use crate::job::data::DataMap;
use crate::job::registry::Registry;
use crate::store::backend::Backend;
use crate::store::error::BackendError;
use crate::store::queue_name::{InvalidQueueName, validate_queue_name};

/// Backoff between retries of a failing backend call (reserve, finish).
const RETRY_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5));

/// Settings of a worker; see the setters on [`WorkerBuilder`] for defaults.
#[derive(Debug, Clone)]
struct Config {
    queues: Vec<String>,
    concurrency: usize,
    lease: Duration,
    grace: Duration,
    idle_wait: Duration,
    progress_every: Duration,
}

/// A worker refused to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// A registered job needs shared data the worker was not given.
    #[error("job `{job}` needs data of type `{data}`; add it with `Worker::builder(..).data(..)`")]
    MissingData {
        /// The job's wire name.
        job: &'static str,
        /// The missing type.
        data: &'static str,
    },
    /// No job type was registered.
    #[error("no job types registered; add them with `Worker::builder(..).register::<MyJob>()`")]
    NothingRegistered,
    /// A queue name is not valid.
    #[error(transparent)]
    InvalidQueue(#[from] InvalidQueueName),
    /// The worker was given no queue to take jobs from.
    #[error("no queues to take jobs from; name them with `Worker::builder(..).queues([..])`")]
    NoQueues,
    /// Two registered job types share a wire name: one would run the other's jobs.
    #[error(
        "two registered job types use the wire name `{name}` (one is `{job_type}`); give one \
         of them another with `#[job(name = \"...\")]`"
    )]
    DuplicateName {
        /// The wire name.
        name: &'static str,
        /// One of the two types.
        job_type: &'static str,
    },
}

/// Runs jobs: reserves them from a backend, runs up to `concurrency` at a time, keeps their
/// leases alive, and records their outcomes.
///
/// ```
/// use jobs_core::{job, Client, JobError, MemoryBackend, Worker};
///
/// #[job]
/// async fn greet(name: String) -> Result<String, JobError> {
///     Ok(format!("hello {name}"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(MemoryBackend::new());
/// let id = client.enqueue(Greet { name: "disk".into() }).await?;
///
/// let worker = Worker::builder(client.clone()).register::<Greet>().concurrency(4).build();
/// let stop = tokio_util::sync::CancellationToken::new();
/// let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
/// while client.stats("default").await?.succeeded == 0 {
///     tokio::task::yield_now().await;
/// }
/// stop.cancel();
/// running.await??;
/// let result = client.job("default", id).await?.unwrap().result.unwrap();
/// assert_eq!(result, br#""hello disk""#);
/// # Ok(()) }
/// ```
pub struct Worker<B> {
    client: Client<B>,
    registry: Registry,
    data: DataMap,
    config: Config,
}

/// Configures a [`Worker`].
pub struct WorkerBuilder<B> {
    worker: Worker<B>,
    queues_set: bool,
}

impl<B: Backend> Worker<B> {
    /// Starts configuring a worker that takes jobs through `client`.
    pub fn builder(client: Client<B>) -> WorkerBuilder<B> {
        WorkerBuilder {
            worker: Worker {
                client,
                registry: Registry::default(),
                data: DataMap::new(),
                config: Config {
                    queues: Vec::new(),
                    concurrency: 16,
                    lease: Duration::from_secs(30),
                    grace: Duration::from_secs(25),
                    idle_wait: Duration::from_secs(5),
                    progress_every: Duration::from_millis(250),
                },
            },
            queues_set: false,
        }
    }
}

impl<B: Backend> WorkerBuilder<B> {
    /// Lets the worker run jobs of type `J`.
    ///
    /// Unless [`WorkerBuilder::queues`] is called, the worker takes jobs from the queues of
    /// its registered types, in registration order.
    pub fn register<J: Job>(mut self) -> Self {
        self.worker.registry.register::<J>();
        if !self.queues_set
            && !self
                .worker
                .config
                .queues
                .iter()
                .any(|q| q == J::OPTIONS.queue)
        {
            self.worker.config.queues.push(J::OPTIONS.queue.to_owned());
        }
        self
    }

    /// Shared data for jobs that take a [`crate::Data<T>`] parameter.
    pub fn data<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.worker.data.insert(value);
        self
    }

    /// Shared data already behind an `Arc`.
    pub fn data_arc<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> Self {
        self.worker.data.insert_arc(value);
        self
    }

    /// The queues to take jobs from, highest precedence first: a queue is served only
    /// while the ones before it have no ready job.
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.worker.config.queues = queues.into_iter().map(Into::into).collect();
        self.queues_set = true;
        self
    }

    /// How many jobs run at once in this process. Default: 16.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.worker.config.concurrency = n.max(1);
        self
    }

    /// Lease length: how long a job stays reserved to this worker without a heartbeat.
    /// Renewed every third of it while the job runs, so it bounds how fast a crashed
    /// worker's jobs are picked up again, not how long a job may run. Default: 30 s.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.worker.config.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How often running jobs' progress reports are sent (the latest of each, all in one
    /// call): a job reporting a thousand times a second costs the backend one call per
    /// period. Default: 250 ms.
    pub fn progress_every(mut self, every: Duration) -> Self {
        self.worker.config.progress_every = every.max(Duration::from_millis(10));
        self
    }

    /// How long shutdown waits for running jobs before releasing them. Default: 25 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.worker.config.grace = grace;
        self
    }

    /// How long each blocking wait of an idle worker lasts (at most the lease). An idle
    /// worker wakes at once when work arrives and when a scheduled job or a lease end is
    /// due; when a wait times out, a backend that knows nothing is due (Redis) re-issues
    /// it (and lets the worker look again only once every 60 waits, as a backstop),
    /// others let the worker look again at once. So it bounds how long a dead connection
    /// goes unnoticed. Default: 5 s.
    pub fn idle_wait(mut self, wait: Duration) -> Self {
        self.worker.config.idle_wait = wait.max(Duration::from_millis(1));
        self
    }

    /// The configured worker.
    pub fn build(self) -> Worker<B> {
        self.worker
    }
}

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
}

impl<B: Backend> Worker<B> {
    fn check(&self) -> Result<(), WorkerError> {
        if self.registry.names().next().is_none() {
            return Err(WorkerError::NothingRegistered);
        }
        if let Some((name, job_type)) = self.registry.clash() {
            return Err(WorkerError::DuplicateName { name, job_type });
        }
        if self.config.queues.is_empty() {
            return Err(WorkerError::NoQueues);
        }
        for queue in &self.config.queues {
            validate_queue_name(queue)?;
        }
        for (job, handler) in self.registry.iter() {
            if let Some(missing) = handler
                .required_data()
                .into_iter()
                .find(|t| !self.data.contains(t))
            {
                return Err(WorkerError::MissingData {
                    job,
                    data: missing.name(),
                });
            }
        }
        Ok(())
    }

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
        self.check()?;
        let (acks, ack_queue) = acker::channel();
        let shared = Arc::new(Shared {
            backend: self.client.backend_arc().clone(),
            registry: self.registry,
            data: Arc::new(self.data),
            config: self.config,
            active: active::Active::default(),
            hard_stop: CancellationToken::new(),
            acks,
        });
        let config = &shared.config;
        tracing::info!(queues = ?config.queues, concurrency = config.concurrency, lease = ?config.lease, "worker started");

        let stop_heartbeat = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeat::run(shared.clone(), stop_heartbeat.clone()));
        let progress = tokio::spawn(progress::run(shared.clone(), stop_heartbeat.clone()));
        let stop_acker = CancellationToken::new();
        let mut acker = tokio::spawn(acker::run(shared.clone(), ack_queue, stop_acker.clone()));
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        {
            let fetch = fetch_loop(&shared, &tracker, &stop);
            tokio::pin!(fetch);
            tokio::select! {
                _ = &mut fetch => {}
                _ = signal => {
                    stop.cancel();
                    // Let an in-flight reservation land: its jobs then run (or are released).
                    fetch.await;
                }
            }
        }

        tracker.close();
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
        tracing::info!("worker stopped");
        Ok(())
    }

    /// Runs until ctrl-c or SIGTERM; see [`Worker::run_until`].
    pub async fn run(self) -> Result<(), WorkerError> {
        self.run_until(signal::shutdown_signal()).await
    }
}

/// Reserves jobs while there are free slots; blocks on the backend when there is no work.
async fn fetch_loop<B: Backend>(
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
        match shared
            .backend
            .reserve(&config.queues, asked, config.lease)
            .await
        {
            Ok(jobs) => {
                failures = 0;
                let drained = jobs.len() < asked;
                let mut permits = permits.into_iter();
                for (job, permit) in jobs.into_iter().zip(&mut permits) {
                    tracker.spawn(processor::process(shared.clone(), job, permit));
                }
                drop(permits);
                // Fewer jobs than free slots: the queues are drained, so block until there
                // is work instead of asking again at once.
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
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = stop.cancelled() => {}
    }
}
