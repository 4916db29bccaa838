//! Configuring a worker: [`Worker::builder`], the [`WorkerBuilder`] settings and their
//! defaults, and the checks a configuration must pass before the worker starts.

use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::job::Job;
use crate::job::data::DataMap;
use crate::job::registry::Registry;
use crate::store::backend::Backend;
use crate::store::flow::{InvalidFlow, QueueLimits};
use crate::store::queue_name::{InvalidQueueName, validate_queue_name};

use super::health::{HealthState, WorkerHealth};

/// Shortest bound on the fetch loop's silence before the worker is reported not alive:
/// longer than the longest backoff between failed backend calls (5 s).
const STALL_BOUND_MIN: Duration = Duration::from_secs(10);

/// Settings of a worker; see the setters on [`WorkerBuilder`] for defaults.
#[derive(Debug, Clone)]
pub(super) struct Config {
    /// Every queue the worker serves: in strict order, the order a reservation tries
    /// them; with weights, the order they were given in.
    pub(super) queues: Vec<String>,
    /// One weight per queue of `queues` ([`WorkerBuilder::weighted_queues`]); `None`:
    /// strict order ([`WorkerBuilder::queues`]).
    pub(super) weights: Option<Vec<u32>>,
    pub(super) concurrency: usize,
    pub(super) lease: Duration,
    pub(super) grace: Duration,
    pub(super) idle_wait: Duration,
    pub(super) progress_every: Duration,
    /// Limits to store for these queues when the worker starts.
    pub(super) limits: Vec<(String, QueueLimits)>,
    /// How long the worker stays in the list of live workers without a beat.
    pub(super) registry_ttl: Duration,
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
    #[error(
        "no queues to take jobs from; name them with `Worker::builder(..).queues([..])`, or \
         with `.weighted_queues([(\"name\", weight), ..])`"
    )]
    NoQueues,
    /// A queue was given weight 0 in [`WorkerBuilder::weighted_queues`]: it would never
    /// be served.
    #[error(
        "queue `{queue}` has weight 0 in `weighted_queues`, so it would never be served; \
         give it a weight of 1 or more, or leave it out"
    )]
    ZeroWeight {
        /// The queue.
        queue: String,
    },
    /// A queue was listed twice in [`WorkerBuilder::weighted_queues`].
    #[error(
        "queue `{queue}` is listed twice in `weighted_queues`; list it once, with the sum of \
         its weights"
    )]
    DuplicateQueue {
        /// The queue.
        queue: String,
    },
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
    /// Limits given to [`WorkerBuilder::limits`] that the store refuses.
    #[error("limits of queue `{queue}`: {source}")]
    InvalidLimits {
        /// The queue.
        queue: String,
        /// What is wrong with them.
        source: InvalidFlow,
    },
    /// The store refused the limits given to [`WorkerBuilder::limits`] for good (not a
    /// transient failure: those are retried).
    #[error("cannot store the limits of queue `{queue}`: {source}")]
    StoreLimits {
        /// The queue.
        queue: String,
        /// The store's error.
        source: crate::store::error::BackendError,
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
    pub(super) client: Client<B>,
    pub(super) registry: Registry,
    pub(super) data: DataMap,
    pub(super) config: Config,
    /// This run's id in the list of live workers.
    pub(super) id: uuid::Uuid,
    pub(super) health: Arc<HealthState>,
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
                    weights: None,
                    concurrency: 16,
                    lease: Duration::from_secs(30),
                    grace: Duration::from_secs(25),
                    idle_wait: Duration::from_secs(5),
                    progress_every: Duration::from_millis(250),
                    limits: Vec::new(),
                    registry_ttl: Duration::from_secs(30),
                },
                id: uuid::Uuid::now_v7(),
                health: Arc::new(HealthState::new()),
            },
            queues_set: false,
        }
    }
}

impl<B: Backend> WorkerBuilder<B> {
    /// Lets the worker run jobs of type `J`.
    ///
    /// Unless [`WorkerBuilder::queues`] or [`WorkerBuilder::weighted_queues`] is called,
    /// the worker takes jobs from the queues of its registered types, in strict
    /// registration order.
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

    /// The queues to take jobs from, in strict order, highest precedence first: a queue
    /// is served only while the ones before it have no ready job. This is the default
    /// (with the queues of the registered types, in registration order).
    ///
    /// For shares instead of precedence, see [`WorkerBuilder::weighted_queues`]; the later
    /// of the two calls decides.
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.worker.config.queues = queues.into_iter().map(Into::into).collect();
        self.worker.config.weights = None;
        self.queues_set = true;
        self
    }

    /// The queues to take jobs from, each with a weight: before each reservation the
    /// worker draws the order in which it tries them, at random, weighted, without
    /// replacement. A queue of weight `w` is tried first with probability `w / total`;
    /// the next is drawn the same way among the others, and so on, and each is tried only
    /// while the reservation still has room (as with [`WorkerBuilder::queues`]).
    ///
    /// So while every queue has work, each gets about its share of the jobs (3:1 below:
    /// about three `disks` jobs for each `callbacks` one), no queue with work starves, and
    /// a queue with no work leaves its share to the others. A reservation fills its free
    /// slots from the first queue drawn before trying the next, so the shares hold over
    /// many reservations rather than inside each one. Strict order
    /// ([`WorkerBuilder::queues`]) remains the default; the later of the two calls
    /// decides. The worker waits for work on every queue either way.
    ///
    /// The worker refuses to start ([`WorkerError`]) when the list is empty
    /// ([`WorkerError::NoQueues`]), when a weight is 0 ([`WorkerError::ZeroWeight`]),
    /// when a queue is listed twice ([`WorkerError::DuplicateQueue`]) or when a name is
    /// invalid ([`WorkerError::InvalidQueue`]).
    ///
    /// ```
    /// use jobs_core::{job, Client, JobError, MemoryBackend, Worker};
    ///
    /// #[job(queue = "disks")]
    /// async fn format_disk(host: String) -> Result<(), JobError> { Ok(()) }
    ///
    /// #[job(queue = "callbacks")]
    /// async fn notify(host: String) -> Result<(), JobError> { Ok(()) }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// let worker = Worker::builder(client)
    ///     .register::<FormatDisk>()
    ///     .register::<Notify>()
    ///     // `callbacks` gets about a quarter of the reservations while `disks` is busy.
    ///     .weighted_queues([("disks", 3), ("callbacks", 1)])
    ///     .build();
    /// # worker.run_until(async {}).await?;
    /// # Ok(()) }
    /// ```
    pub fn weighted_queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = (S, u32)>,
        S: Into<String>,
    {
        let (queues, weights) = queues.into_iter().map(|(q, w)| (q.into(), w)).unzip();
        self.worker.config.queues = queues;
        self.worker.config.weights = Some(weights);
        self.queues_set = true;
        self
    }

    /// Stores `limits` as `queue`'s limits when the worker starts (see
    /// [`Client::set_limits`]): they then hold for every worker of the fleet, this one's
    /// own concurrency aside. The last process to store a queue's limits sets them.
    /// Invalid limits (a limit of 0) stop the worker from starting.
    ///
    /// ```
    /// # use jobs_core::{job, Client, JobError, MemoryBackend, QueueLimits, Worker};
    /// # #[job(queue = "disks")] async fn format_disk(host: String) -> Result<(), JobError> { Ok(()) }
    /// # let client = Client::new(MemoryBackend::new());
    /// let worker = Worker::builder(client)
    ///     .register::<FormatDisk>()
    ///     .limits("disks", QueueLimits::new().concurrency(50).per_key(1))
    ///     .build();
    /// ```
    pub fn limits(mut self, queue: impl Into<String>, limits: QueueLimits) -> Self {
        self.worker.config.limits.push((queue.into(), limits));
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

    /// How long this worker stays in the list of live workers ([`Client::workers`])
    /// without a beat; it beats every third of it. A worker that stops cleanly leaves the
    /// list at once; one killed outright (or cut off from the store) leaves it after this.
    /// Default: 30 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use jobs_core::{job, Client, JobError, MemoryBackend, Worker};
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # let client = Client::new(MemoryBackend::new());
    /// let worker = Worker::builder(client)
    ///     .register::<Ping>()
    ///     .registry_ttl(Duration::from_secs(9)) // beats every 3 s
    ///     .build();
    /// ```
    pub fn registry_ttl(mut self, ttl: Duration) -> Self {
        self.worker.config.registry_ttl = ttl.max(Duration::from_millis(30));
        self
    }

    /// The configured worker.
    pub fn build(self) -> Worker<B> {
        let config = &self.worker.config;
        let stall_bound = (config.lease * 2).max(STALL_BOUND_MIN);
        self.worker.health.set_stall_bound(stall_bound);
        self.worker
    }
}

impl<B> Worker<B> {
    /// This worker's id in the list of live workers ([`Client::workers`],
    /// [`WorkerInfo::id`](crate::WorkerInfo::id)): a UUIDv7, new for each worker built.
    pub fn id(&self) -> String {
        self.id.to_string()
    }

    /// A handle on this worker's health, to read while it runs (see [`WorkerHealth`]).
    pub fn health(&self) -> WorkerHealth {
        WorkerHealth {
            state: self.health.clone(),
        }
    }
}

impl<B: Backend> Worker<B> {
    /// Refuses a configuration the worker cannot run with.
    pub(super) fn check(&self) -> Result<(), WorkerError> {
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
        for (queue, limits) in &self.config.limits {
            validate_queue_name(queue)?;
            limits
                .validate()
                .map_err(|source| WorkerError::InvalidLimits {
                    queue: queue.clone(),
                    source,
                })?;
        }
        if let Some(weights) = &self.config.weights {
            let queues = &self.config.queues;
            for (i, (queue, &weight)) in queues.iter().zip(weights).enumerate() {
                if weight == 0 {
                    return Err(WorkerError::ZeroWeight {
                        queue: queue.clone(),
                    });
                }
                if queues[..i].contains(queue) {
                    return Err(WorkerError::DuplicateQueue {
                        queue: queue.clone(),
                    });
                }
            }
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
}
