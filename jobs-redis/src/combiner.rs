//! Group commit for enqueues: jobs from concurrent callers share script calls.
//!
//! Each enqueue script call costs Redis a fixed overhead (the call, its key checks, its
//! wake-up) on top of the per-job work. When many tasks enqueue one job each at the same
//! time, the jobs that arrive while a call is in flight are sent together in the next
//! one. A lone caller is not delayed: with nothing in flight, its call starts at once.

use std::future::Future;
use std::sync::{Arc, Mutex};

use jobs_core::BackendError;
use jobs_core::backend::NewJob;
use tokio::sync::oneshot;

/// Most jobs one combined flush carries.
const FLUSH_MAX: usize = 1_000;

type Reply = oneshot::Sender<Result<(), BackendError>>;

/// The jobs waiting for the next flush, and whether a flush task is running. Cheap to
/// clone; clones share the queue. It knows nothing of Redis: the caller says how a flush
/// sends its jobs (one result per job, in order).
#[derive(Default, Clone)]
pub(crate) struct Combiner {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    pending: Vec<(Vec<NewJob>, Reply)>,
    flushing: bool,
}

impl Combiner {
    /// Enqueues `jobs` in a call shared with other callers' jobs; `send` sends one
    /// flush's jobs and returns each job's result, in order.
    pub(crate) async fn submit<F, Fut>(
        &self,
        jobs: Vec<NewJob>,
        send: F,
    ) -> Result<(), BackendError>
    where
        F: Fn(Vec<NewJob>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Result<(), BackendError>>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut state = self.lock();
            state.pending.push((jobs, tx));
            !std::mem::replace(&mut state.flushing, true)
        };
        if start {
            // A task of its own, not the caller's future: a caller that gives up (a
            // timeout) must not cancel the call carrying other callers' jobs.
            tokio::spawn(self.clone().flush(send));
        }
        rx.await.unwrap_or_else(|_| {
            Err(BackendError::Unavailable(
                "the enqueue flush task stopped; the job may or may not be stored: retry with the same id".into(),
            ))
        })
    }

    async fn flush<F, Fut>(self, send: F)
    where
        F: Fn(Vec<NewJob>) -> Fut,
        Fut: Future<Output = Vec<Result<(), BackendError>>>,
    {
        loop {
            let batch = {
                let mut state = self.lock();
                if state.pending.is_empty() {
                    state.flushing = false;
                    return;
                }
                let mut n = 0;
                let take = state
                    .pending
                    .iter()
                    .take_while(|(jobs, _)| {
                        n += jobs.len();
                        n <= FLUSH_MAX || n == jobs.len()
                    })
                    .count();
                state.pending.drain(..take).collect::<Vec<_>>()
            };
            let counts: Vec<usize> = batch.iter().map(|(jobs, _)| jobs.len()).collect();
            let (jobs, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let jobs: Vec<NewJob> = jobs.into_iter().flatten().collect();
            // Each caller gets the result of its own jobs' calls: when one queue's call
            // fails, callers whose jobs were stored by another call must hear Ok (or they
            // would enqueue them again under fresh ids).
            let mut results = send(jobs).await.into_iter();
            for (reply, n) in replies.into_iter().zip(counts) {
                let mut mine: Result<(), BackendError> = Ok(());
                for result in results.by_ref().take(n) {
                    if let (Ok(()), Err(e)) = (&mine, result) {
                        mine = Err(e);
                    }
                }
                // The caller may have given up; nothing to do then.
                let _ = reply.send(mine);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
