//! Enqueueing: [`Client::enqueue`] and [`Client::enqueue_many`], the options a call may
//! override ([`EnqueueOptions`], set on [`Enqueue`]), and how a job becomes a [`NewJob`].

use std::borrow::Cow;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Client;
use crate::job::Job;
use crate::metrics;
use crate::store::backend::{Backend, Enqueued, NewJob, RunAt};
use crate::store::error::BackendError;
use crate::store::flow::{InvalidFlow, JobFlow, Unique};
use crate::store::id::JobId;
use crate::store::queue_name::{InvalidQueueName, validate_queue_name};

impl<B: Backend> Client<B> {
    /// Enqueues a job with its type's options. Await the result to send it; chain
    /// options before awaiting to override them for this job:
    ///
    /// ```
    /// # use jobs_core::{job, Client, JobError, MemoryBackend};
    /// # use std::time::Duration;
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), jobs_core::EnqueueError> {
    /// # let client = Client::new(MemoryBackend::new());
    /// client.enqueue(Ping { host: "a".into() }).delay(Duration::from_secs(60)).priority(5).await?;
    /// client.enqueue(Ping { host: "b".into() }).queue("urgent").max_attempts(1).await?;
    /// # Ok(()) }
    /// ```
    pub fn enqueue<J: Job>(&self, job: J) -> Enqueue<'_, B, J> {
        Enqueue {
            client: self,
            job,
            id: None,
            options: EnqueueOptions::of::<J>(),
        }
    }

    /// Enqueues many jobs of one type, with their type's options unless overridden (the
    /// same options as [`Client::enqueue`], applied to every job). Await it to send.
    ///
    /// The jobs go to the backend in one call (Redis: one script call per 250 jobs,
    /// each chunk atomic). On an error, earlier chunks may already be stored; where a
    /// retry must not duplicate them, enqueue one by one with ids of your own
    /// ([`Enqueue::id`]).
    ///
    /// ```
    /// # use jobs_core::{job, Client, JobError, MemoryBackend};
    /// # use std::time::Duration;
    /// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), jobs_core::EnqueueError> {
    /// # let client = Client::new(MemoryBackend::new());
    /// let hosts = ["node-1", "node-2", "node-3"];
    /// let ids = client.enqueue_many(hosts.map(|h| Ping { host: h.into() })).await?;
    /// let later = client.enqueue_many(hosts.map(|h| Ping { host: h.into() })).delay(Duration::from_secs(60)).await?;
    /// assert_eq!((ids.len(), later.len()), (3, 3));
    /// # Ok(()) }
    /// ```
    pub fn enqueue_many<J, I>(&self, jobs: I) -> EnqueueMany<'_, B, I>
    where
        J: Job,
        I: IntoIterator<Item = J>,
    {
        Enqueue {
            client: self,
            job: ManyJobs(jobs),
            id: None,
            options: EnqueueOptions::of::<J>(),
        }
    }

    /// The job to store: `job` serialized, with `id` and `options`. Refuses an invalid
    /// queue, a payload that does not serialize or is above the client's limit.
    pub(crate) fn new_job<J: Job>(
        &self,
        job: &J,
        id: JobId,
        options: &EnqueueOptions<'_>,
    ) -> Result<NewJob, EnqueueError> {
        validate_queue_name(&options.queue)?;
        let payload = serde_json::to_vec(job).map_err(|source| EnqueueError::Serialize {
            name: J::NAME,
            source,
        })?;
        if payload.len() > self.max_payload_bytes {
            return Err(EnqueueError::PayloadTooLarge {
                name: J::NAME.to_owned(),
                size: payload.len(),
                limit: self.max_payload_bytes,
            });
        }
        let flow = JobFlow {
            key: match &options.limit_key {
                Some(key) => Some(key.as_ref().to_owned()),
                None => job.limit_key(),
            },
            expires: options.expires,
            unique: options
                .unique
                .clone()
                .or_else(|| job.unique())
                .map(|mut u| {
                    if u.key.is_none() {
                        u.key = Some(Unique::key_for(J::NAME, &payload));
                    }
                    u
                }),
        };
        flow.validate()?;
        Ok(NewJob {
            id,
            name: J::NAME.to_owned(),
            queue: options.queue.as_ref().to_owned(),
            payload,
            priority: options.priority,
            run_at: options.run_at,
            max_attempts: options.max_attempts.max(1),
            batch: None,
            flow,
        })
    }
}

impl<B: Backend> Client<B> {
    /// The job to store as a member of `batch` (see [`Client::new_job`]); a unique job
    /// is refused: a batch counts each member it opened with, so none may be merged
    /// into another job.
    pub(crate) fn new_member<J: Job>(
        &self,
        job: &J,
        id: JobId,
        options: &EnqueueOptions<'_>,
        batch: crate::store::batch::BatchId,
    ) -> Result<NewJob, EnqueueError> {
        let mut new = self.new_job(job, id, options)?;
        new.batch = Some(batch);
        new.validate_flow()?;
        Ok(new)
    }
}

/// Where and when an enqueue stores its jobs: their type's options ([`Job::OPTIONS`]),
/// overridden per call through [`Enqueue`]'s setters.
#[derive(Debug, Clone)]
pub(crate) struct EnqueueOptions<'q> {
    pub(crate) queue: Cow<'q, str>,
    pub(crate) priority: i8,
    pub(crate) run_at: RunAt,
    pub(crate) max_attempts: u32,
    /// Replaces the limit key the job gives itself ([`Job::limit_key`]).
    pub(crate) limit_key: Option<Cow<'q, str>>,
    /// Do not start after this.
    pub(crate) expires: Option<RunAt>,
    /// Replaces the uniqueness the job gives itself ([`Job::unique`]).
    pub(crate) unique: Option<Unique>,
}

impl EnqueueOptions<'static> {
    /// `J`'s own options, ready at once.
    pub(crate) fn of<J: Job>() -> Self {
        EnqueueOptions {
            queue: Cow::Borrowed(J::OPTIONS.queue),
            priority: J::OPTIONS.priority,
            run_at: RunAt::Now,
            max_attempts: J::OPTIONS.max_attempts,
            limit_key: None,
            expires: None,
            unique: None,
        }
    }
}

/// A pending enqueue of one job (`J`), or of many as an [`EnqueueMany`]; see
/// [`Client::enqueue`]. Chain options before awaiting it; it does nothing until awaited.
#[must_use = "an enqueue does nothing until it is awaited"]
pub struct Enqueue<'a, B, J> {
    client: &'a Client<B>,
    /// The job, or [`ManyJobs`].
    job: J,
    /// Set by [`Enqueue::id`], which only one job has.
    id: Option<JobId>,
    options: EnqueueOptions<'static>,
}

/// A pending bulk enqueue; see [`Client::enqueue_many`]. It does nothing until awaited.
///
/// It is an [`Enqueue`] of [`ManyJobs`], so it takes the same options, applied to every
/// job: [`delay`](Enqueue::delay), [`run_at`](Enqueue::run_at),
/// [`priority`](Enqueue::priority), [`queue`](Enqueue::queue) and
/// [`max_attempts`](Enqueue::max_attempts).
pub type EnqueueMany<'a, B, I> = Enqueue<'a, B, ManyJobs<I>>;

/// The jobs of an [`EnqueueMany`]: many jobs of one type, as given to
/// [`Client::enqueue_many`].
#[derive(Debug)]
pub struct ManyJobs<I>(I);

impl<B, J> Enqueue<'_, B, J> {
    /// Ready after `delay` (measured on the backend's clock).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.options.run_at = RunAt::After(delay);
        self
    }

    /// Ready at `at` (an absolute time chosen by the caller).
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.options.run_at = RunAt::UnixMillis(unix_ms(at));
        self
    }

    /// Higher runs first within the queue.
    pub fn priority(mut self, priority: i8) -> Self {
        self.options.priority = priority;
        self
    }

    /// Sends the job(s) to another queue than their type's.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.options.queue = Cow::Owned(queue.into());
        self
    }

    /// Overrides the attempts allowed.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.options.max_attempts = max_attempts;
        self
    }

    /// Overrides the limit key the job gives itself ([`Job::limit_key`]): at most the
    /// queue's [`QueueLimits::per_key`](crate::QueueLimits::per_key) jobs with the same
    /// key run at once.
    ///
    /// ```
    /// # use jobs_core::{job, Client, JobError, MemoryBackend};
    /// # #[job] async fn reboot(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), jobs_core::EnqueueError> {
    /// # let client = Client::new(MemoryBackend::new());
    /// client.enqueue(Reboot { host: "node-7".into() }).limit_key("rack-3").await?;
    /// # Ok(()) }
    /// ```
    pub fn limit_key(mut self, key: impl Into<String>) -> Self {
        self.options.limit_key = Some(Cow::Owned(key.into()));
        self
    }

    /// Do not start the job later than `after` from now (on the store's clock): still
    /// waiting then (a queue backed up, paused, or limited; a maintenance window that
    /// closed), it ends as [`JobState::Expired`](crate::JobState::Expired) instead.
    ///
    /// ```
    /// # use jobs_core::{job, Client, JobError, MemoryBackend};
    /// # use std::time::Duration;
    /// # #[job] async fn reboot(host: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), jobs_core::EnqueueError> {
    /// # let client = Client::new(MemoryBackend::new());
    /// client.enqueue(Reboot { host: "node-7".into() }).expires_after(Duration::from_secs(3600)).await?;
    /// # Ok(()) }
    /// ```
    pub fn expires_after(mut self, after: Duration) -> Self {
        self.options.expires = Some(RunAt::After(after));
        self
    }

    /// Makes the job unique (see [`Unique`]): at most one job of its queue holds the key
    /// at a time. A single enqueue whose key is held answers as `unique.on_conflict` says:
    /// [`EnqueueError::Duplicate`] when refused, the kept job's id when debounced.
    ///
    /// ```
    /// # use jobs_core::{job, Client, EnqueueError, JobError, MemoryBackend, Unique};
    /// # #[job] async fn format_disk(host: String, device: String) -> Result<(), JobError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), EnqueueError> {
    /// # let client = Client::new(MemoryBackend::new());
    /// let job = || FormatDisk { host: "node-7".into(), device: "/dev/sdb".into() };
    /// let first = client.enqueue(job()).unique(Unique::until_done()).await?;
    /// match client.enqueue(job()).unique(Unique::until_done()).await {
    ///     Err(EnqueueError::Duplicate { existing, .. }) => assert_eq!(existing, first),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn unique(mut self, unique: Unique) -> Self {
        self.options.unique = Some(unique);
        self
    }

    /// Do not start the job after `at`: see [`Enqueue::expires_after`].
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.options.expires = Some(RunAt::UnixMillis(unix_ms(at)));
        self
    }
}

impl<B, J: Job> Enqueue<'_, B, J> {
    /// Uses this id instead of a new one. Enqueueing an id that is still stored does
    /// nothing, so retrying a failed or timed-out enqueue with the same id is safe.
    pub fn id(mut self, id: JobId) -> Self {
        self.id = Some(id);
        self
    }
}

impl<'a, B: Backend, J: Job> IntoFuture for Enqueue<'a, B, J> {
    type Output = Result<JobId, EnqueueError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let client = self.client;
        let id = self.id.unwrap_or_default();
        let new = client.new_job(&self.job, id, &self.options);
        Box::pin(async move {
            let new = vec![new?];
            let tally = metrics::Tally::of(&new);
            let Some(unique) = new[0].flow.unique.clone() else {
                client
                    .backend
                    .enqueue(new)
                    .await
                    .inspect_err(enqueue_failed)?;
                tally.all();
                return Ok(id);
            };
            let answer = client
                .backend
                .enqueue_unique(new)
                .await
                .inspect_err(enqueue_failed)?;
            tally.stored(&answer);
            match answer.first() {
                Some(Enqueued::Duplicate { existing }) => Err(EnqueueError::Duplicate {
                    key: unique.key.unwrap_or_default(),
                    existing: *existing,
                }),
                Some(Enqueued::Debounced { existing }) => Ok(*existing),
                _ => Ok(id),
            }
        })
    }
}

impl<'a, B: Backend, J: Job, I: IntoIterator<Item = J>> IntoFuture for EnqueueMany<'a, B, I> {
    type Output = Result<Vec<JobId>, EnqueueError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let client = self.client;
        let options = &self.options;
        let news = self
            .job
            .0
            .into_iter()
            .map(|job| client.new_job(&job, JobId::new(), options))
            .collect::<Result<Vec<_>, _>>();
        Box::pin(async move {
            let news = news?;
            let mut ids: Vec<JobId> = news.iter().map(|n| n.id).collect();
            let tally = metrics::Tally::of(&news);
            if news.iter().any(|n| n.flow.unique.is_some()) {
                let answers = client
                    .backend
                    .enqueue_unique(news)
                    .await
                    .inspect_err(enqueue_failed)?;
                tally.stored(&answers);
                for (id, answer) in ids.iter_mut().zip(answers) {
                    if let Enqueued::Duplicate { existing } | Enqueued::Debounced { existing } =
                        answer
                    {
                        *id = existing;
                    }
                }
            } else {
                client
                    .backend
                    .enqueue(news)
                    .await
                    .inspect_err(enqueue_failed)?;
                tally.all();
            }
            Ok(ids)
        })
    }
}

fn enqueue_failed(_: &BackendError) {
    metrics::backend_error("enqueue");
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Why an enqueue failed. Nothing was written, except possibly for
/// [`BackendError::Unavailable`]: a call whose answer was lost may have been applied, so
/// retry it with the same id ([`crate::Enqueue::id`]), which never stores a job twice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The job's arguments could not be serialized.
    #[error("cannot serialize job `{name}`: {source}")]
    Serialize {
        /// The job's wire name.
        name: &'static str,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The queue name is not valid.
    #[error(transparent)]
    InvalidQueue(#[from] InvalidQueueName),
    /// The serialized payload is above the client's limit.
    #[error("payload of job `{name}` is {size} bytes, above the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The job's wire name.
        name: String,
        /// Serialized size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The job's flow control is not valid (an empty or too long limit key).
    #[error(transparent)]
    InvalidFlow(#[from] InvalidFlow),
    /// A unique job whose key is held by another job ([`Enqueue::unique`]): not stored.
    #[error("job {existing} holds the uniqueness key {key:?}: not stored")]
    Duplicate {
        /// The uniqueness key.
        key: String,
        /// The job holding it.
        existing: JobId,
    },
    /// The backend failed; see [`BackendError::is_transient`].
    #[error(transparent)]
    Backend(#[from] BackendError),
}
