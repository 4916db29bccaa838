//! Following the work from the application: event subscriptions, waiting for a job's
//! outcome without polling, and typed results.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::Client;
use crate::job::Job;
use crate::store::backend::{Backend, JobInfo, JobState};
use crate::store::error::BackendError;
use crate::store::event::{Event, EventCursor, EventKind};
use crate::store::id::JobId;

/// Stream entries fetched per read.
const READ_ENTRIES: usize = 100;
/// How long one blocking read waits; a subscription then simply reads again. Waiting for
/// an outcome re-checks the job after each such read, in case its events were trimmed.
const READ_WAIT: Duration = Duration::from_secs(5);

/// A queue's lifecycle events, in order, resumable from any [`EventCursor`].
///
/// ```
/// use jobs_core::{job, Client, EventKind, JobError, MemoryBackend};
/// # #[job] async fn ping(host: String) -> Result<(), JobError> { Ok(()) }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(MemoryBackend::new());
/// let mut events = client.subscribe("default", None);
/// let id = client.enqueue(Ping { host: "a".into() }).await?;
/// let event = events.next().await?;
/// assert_eq!((event.job, &event.kind), (id, &EventKind::Enqueued));
/// // Store `events.cursor()` to resume later with `client.subscribe(queue, cursor)`.
/// # Ok(()) }
/// ```
pub struct Subscription<B> {
    backend: Arc<B>,
    queue: String,
    cursor: Option<EventCursor>,
    buffered: VecDeque<Event>,
}

impl<B: Backend> Subscription<B> {
    /// The next event, waiting as long as it takes. Cancel-safe: dropping the future loses
    /// nothing.
    pub async fn next(&mut self) -> Result<Event, BackendError> {
        loop {
            if let Some(event) = self.buffered.pop_front() {
                self.cursor = Some(event.cursor.clone());
                return Ok(event);
            }
            let got = self
                .backend
                .read_events(&self.queue, self.cursor.clone(), READ_ENTRIES, READ_WAIT)
                .await?;
            self.buffered.extend(got);
        }
    }

    /// The cursor of the last event returned by [`Subscription::next`] (or the one the
    /// subscription started after): resume after it with [`Client::subscribe`].
    pub fn cursor(&self) -> Option<&EventCursor> {
        self.cursor.as_ref()
    }

    /// The queue followed.
    pub fn queue(&self) -> &str {
        &self.queue
    }
}

/// Why [`Client::wait_for`] returned without an outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// No such job in the queue (never enqueued, or already trimmed by retention).
    #[error("job {0} not found")]
    NotFound(JobId),
    /// The job had not finished when the timeout passed.
    #[error("job {0} still {1:?} when the wait timed out")]
    TimedOut(JobId, JobState),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// How a job ended, as [`Client::wait_for`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished {
    /// [`JobState::Succeeded`], [`JobState::Dead`], [`JobState::Cancelled`] or
    /// [`JobState::Expired`].
    pub state: JobState,
    /// The record, with the result or the error chain; `None` when retention keeps
    /// nothing of succeeded jobs.
    pub info: Option<JobInfo>,
}

/// A job's outcome, typed, as [`Client::outcome`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobOutcome<T> {
    /// Not finished yet: waiting, scheduled or running.
    Pending(JobState),
    /// Succeeded with this output (`None` if the output could not be stored).
    Succeeded(Option<T>),
    /// Failed for good, with the last error chain.
    Dead(String),
    /// Cancelled.
    Cancelled,
    /// Expired: still waiting at its deadline, so it never ran.
    Expired,
}

/// A stored result that does not deserialize as the job's output type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutcomeError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The stored result is not a `J::Output` (the job type changed since it ran?).
    #[error("the stored result of job {id} is not a {ty}: {source}")]
    Decode {
        /// The job.
        id: JobId,
        /// The output type expected.
        ty: &'static str,
        /// Why.
        source: serde_json::Error,
    },
}

fn is_final(state: JobState) -> bool {
    matches!(
        state,
        JobState::Succeeded | JobState::Dead | JobState::Cancelled | JobState::Expired
    )
}

impl<B: Backend> Client<B> {
    /// Follows `queue`'s events after `after`, or from the oldest the stream still holds
    /// when `None`.
    pub fn subscribe(&self, queue: &str, after: Option<EventCursor>) -> Subscription<B> {
        Subscription {
            backend: self.backend_arc().clone(),
            queue: queue.to_owned(),
            cursor: after,
            buffered: VecDeque::new(),
        }
    }

    /// Follows `queue`'s events from now on (after the newest event stored).
    pub async fn subscribe_from_now(&self, queue: &str) -> Result<Subscription<B>, BackendError> {
        let last = self.backend().last_event(queue).await?;
        Ok(self.subscribe(queue, last))
    }

    /// Waits until job `id` of `queue` has succeeded or is dead, or `timeout` passes.
    ///
    /// Blocks on the queue's event stream (no polling loop); a finished job returns at
    /// once. Needs events on (the default).
    ///
    /// ```
    /// use std::time::Duration;
    /// use jobs_core::{job, Client, JobError, JobState, MemoryBackend, Worker};
    /// # #[job] async fn ping(host: String) -> Result<usize, JobError> { Ok(host.len()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// let id = client.enqueue(Ping { host: "node-1".into() }).await?;
    /// let worker = Worker::builder(client.clone()).register::<Ping>().build();
    /// let stop = tokio_util::sync::CancellationToken::new();
    /// let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
    /// let done = client.wait_for("default", id, Duration::from_secs(10)).await?;
    /// assert_eq!(done.state, JobState::Succeeded);
    /// stop.cancel();
    /// running.await??;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for(
        &self,
        queue: &str,
        id: JobId,
        timeout: Duration,
    ) -> Result<Finished, WaitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // The cursor first, then the state: an ending between the two is in the stream.
        let mut events = self.subscribe_from_now(queue).await?;
        let mut state = self.check(queue, id).await?;
        loop {
            if let Some(done) = state.1 {
                return Ok(done);
            }
            let event = match tokio::time::timeout_at(deadline, events.next_or_idle()).await {
                Ok(event) => event?,
                Err(_) => return Err(WaitError::TimedOut(id, state.0)),
            };
            // After an idle read (nothing for a while) or this job's final event, look at
            // the record: it is the truth, and covers events trimmed before we read them.
            match event {
                Some(e) if e.job == id && e.is_final() => {
                    state = match self.check(queue, id).await {
                        // Succeeded and deleted at once (retention keeps nothing).
                        Err(WaitError::NotFound(_)) => {
                            let state = match e.kind {
                                EventKind::Succeeded => JobState::Succeeded,
                                EventKind::Cancelled => JobState::Cancelled,
                                _ => JobState::Dead,
                            };
                            (state, Some(Finished { state, info: None }))
                        }
                        other => other?,
                    };
                }
                Some(_) => {}
                None => state = self.check(queue, id).await?,
            }
        }
    }

    /// The job's current state, and how it ended if it did.
    async fn check(
        &self,
        queue: &str,
        id: JobId,
    ) -> Result<(JobState, Option<Finished>), WaitError> {
        match self.job(queue, id).await? {
            Some(info) if is_final(info.state) => Ok((
                info.state,
                Some(Finished {
                    state: info.state,
                    info: Some(info),
                }),
            )),
            Some(info) => Ok((info.state, None)),
            None => Err(WaitError::NotFound(id)),
        }
    }

    /// The typed outcome of job `id` in its type's default queue.
    ///
    /// ```
    /// use jobs_core::{job, Client, JobError, JobOutcome, JobState, MemoryBackend};
    /// # #[job] async fn ping(host: String) -> Result<usize, JobError> { Ok(host.len()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::new(MemoryBackend::new());
    /// let id = client.enqueue(Ping { host: "node-1".into() }).await?;
    /// assert_eq!(client.outcome::<Ping>(id).await?, Some(JobOutcome::Pending(JobState::Ready)));
    /// # Ok(()) }
    /// ```
    pub async fn outcome<J>(&self, id: JobId) -> Result<Option<JobOutcome<J::Output>>, OutcomeError>
    where
        J: Job,
        J::Output: DeserializeOwned,
    {
        self.outcome_in::<J>(J::OPTIONS.queue, id).await
    }

    /// [`Client::outcome`] for a job enqueued on another queue than its type's default.
    pub async fn outcome_in<J>(
        &self,
        queue: &str,
        id: JobId,
    ) -> Result<Option<JobOutcome<J::Output>>, OutcomeError>
    where
        J: Job,
        J::Output: DeserializeOwned,
    {
        let Some(info) = self.job(queue, id).await? else {
            return Ok(None);
        };
        Ok(Some(match info.state {
            JobState::Succeeded => {
                JobOutcome::Succeeded(match &info.result {
                    Some(bytes) => Some(serde_json::from_slice(bytes).map_err(|source| {
                        OutcomeError::Decode {
                            id,
                            ty: std::any::type_name::<J::Output>(),
                            source,
                        }
                    })?),
                    None => None,
                })
            }
            JobState::Dead => JobOutcome::Dead(info.last_error.unwrap_or_default()),
            JobState::Cancelled => JobOutcome::Cancelled,
            JobState::Expired => JobOutcome::Expired,
            other => JobOutcome::Pending(other),
        }))
    }
}

impl<B: Backend> Subscription<B> {
    /// The next event, or `None` after one blocking read found nothing.
    async fn next_or_idle(&mut self) -> Result<Option<Event>, BackendError> {
        if self.buffered.is_empty() {
            let got = self
                .backend
                .read_events(&self.queue, self.cursor.clone(), READ_ENTRIES, READ_WAIT)
                .await?;
            self.buffered.extend(got);
        }
        Ok(self.buffered.pop_front().inspect(|e| {
            self.cursor = Some(e.cursor.clone());
        }))
    }
}
