//! Helpers shared by the suites: running a worker in the background, waiting on a
//! condition with a deadline, and recording what jobs did.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_core::{Backend, Client, JobId, JobInfo, JobState, Worker, WorkerBuilder, WorkerError};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Polls `check` until it returns `Some`, failing the test with `what` after `timeout`.
///
/// Works on a paused clock too: each poll advances tokio's time a little.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until job `id` of `queue` is in `state`, and returns its record.
pub async fn wait_for_state<B: Backend>(
    client: &Client<B>,
    queue: &str,
    id: JobId,
    state: JobState,
    timeout: Duration,
) -> JobInfo {
    let what = format!("job {id} to be {state:?}");
    eventually(&what, timeout, || async {
        client
            .job(queue, id)
            .await
            .expect("job lookup")
            .filter(|info| info.state == state)
    })
    .await
}

/// A worker running in a background task until [`RunningWorker::stop`].
pub struct RunningWorker {
    stop: CancellationToken,
    handle: JoinHandle<Result<(), WorkerError>>,
}

impl RunningWorker {
    /// Starts a worker over `client`, configured by `configure`.
    pub fn start<B: Backend>(
        client: &Client<B>,
        configure: impl FnOnce(WorkerBuilder<B>) -> WorkerBuilder<B>,
    ) -> Self {
        let worker = configure(Worker::builder(client.clone())).build();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
        RunningWorker { stop, handle }
    }

    /// Signals shutdown and waits for the worker to return (failing the test if it does
    /// not within two minutes).
    pub async fn stop(self) -> Result<(), WorkerError> {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(120), self.handle)
            .await
            .expect("worker did not stop within 2 minutes")
            .expect("worker task panicked")
    }
}

/// One run of a job, as recorded by the suite's jobs.
#[derive(Debug, Clone)]
pub struct Run {
    /// The label the test gave the job.
    pub label: String,
    /// The job's id.
    pub id: JobId,
    /// The attempt number the context reported.
    pub attempt: u32,
    /// When the run started (tokio's clock).
    pub started: Instant,
}

/// What the suite's jobs did, shared with them as worker data.
#[derive(Default, Clone)]
pub struct Recorder {
    runs: Arc<Mutex<Vec<Run>>>,
    running: Arc<Mutex<(usize, usize)>>,
    /// Per key: (running now, peak).
    keyed: Arc<Mutex<std::collections::HashMap<String, (usize, usize)>>>,
    callbacks: Arc<Mutex<Vec<(String, jobs_core::BatchSummary)>>>,
}

impl Recorder {
    /// Records a batch callback's summary.
    pub fn callback(&self, label: &str, summary: jobs_core::BatchSummary) {
        self.callbacks
            .lock()
            .unwrap()
            .push((label.to_owned(), summary));
    }

    /// The batch callbacks run so far: (label, summary), in order.
    pub fn callbacks(&self) -> Vec<(String, jobs_core::BatchSummary)> {
        self.callbacks.lock().unwrap().clone()
    }

    /// Records a run.
    pub fn record(&self, label: &str, ctx: &jobs_core::JobContext) {
        self.runs.lock().unwrap().push(Run {
            label: label.to_owned(),
            id: ctx.id(),
            attempt: ctx.attempt(),
            started: Instant::now(),
        });
    }

    /// Every run so far.
    pub fn runs(&self) -> Vec<Run> {
        self.runs.lock().unwrap().clone()
    }

    /// The runs of jobs labelled `label`.
    pub fn runs_of(&self, label: &str) -> Vec<Run> {
        self.runs()
            .into_iter()
            .filter(|r| r.label == label)
            .collect()
    }

    /// Marks a job as running until the guard drops; tracks the peak.
    pub fn enter(&self) -> RunningGuard {
        let mut c = self.running.lock().unwrap();
        c.0 += 1;
        c.1 = c.1.max(c.0);
        RunningGuard(self.running.clone())
    }

    /// Most jobs seen running at once.
    pub fn peak_running(&self) -> usize {
        self.running.lock().unwrap().1
    }

    /// Marks a job of `key` as running until the guard drops (and as running at all, as
    /// [`Recorder::enter`]); tracks the peak per key.
    pub fn enter_key(&self, key: &str) -> (RunningGuard, KeyGuard) {
        let mut keyed = self.keyed.lock().unwrap();
        let c = keyed.entry(key.to_owned()).or_default();
        c.0 += 1;
        c.1 = c.1.max(c.0);
        (self.enter(), KeyGuard(self.keyed.clone(), key.to_owned()))
    }

    /// Most jobs of `key` seen running at once.
    pub fn peak_of(&self, key: &str) -> usize {
        self.keyed.lock().unwrap().get(key).map_or(0, |c| c.1)
    }
}

/// See [`Recorder::enter_key`].
pub struct KeyGuard(
    Arc<Mutex<std::collections::HashMap<String, (usize, usize)>>>,
    String,
);

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.lock().unwrap().get_mut(&self.1) {
            c.0 -= 1;
        }
    }
}

/// See [`Recorder::enter`].
pub struct RunningGuard(Arc<Mutex<(usize, usize)>>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.lock().unwrap().0 -= 1;
    }
}
