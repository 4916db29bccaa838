//! The handle the application holds: [`RedisBackend`], its connections and settings,
//! and the steps every part of the backend shares (a queue's keys, a connection, sending
//! enqueue calls). What the `Backend` trait asks of it is coordinated in `backend.rs`.

use std::sync::Arc;

use jobs_core::backend::NewJob;
use jobs_core::{BackendError, BatchId};

use crate::combiner::Combiner;
use crate::conn::{Conn, Connections};
use crate::error;
use crate::grouping::by_queue;
use crate::keys::{BatchKeys, QueueKeys, StoreKeys};
use crate::scripts::{self, Settings};
use crate::waiter::Waiter;

/// Most jobs sent in one enqueue script call; bigger batches are split. Sized so that one
/// call holds the server for less than 5 ms (up to 13 µs a job, its event included, on a
/// small machine, measured: 500 took 6-7 ms): a batch of 100,000 or a bulk enqueue never
/// stalls other clients.
pub(crate) const ENQUEUE_CHUNK: usize = 250;

/// The Redis backend. Cheap to clone; clones share the connection pool.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use jobs_core::Client;
/// use jobs_redis::RedisBackend;
///
/// let client = Client::new(RedisBackend::connect("redis://127.0.0.1:6379").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) conns: Connections,
    pub(crate) prefix: String,
    pub(crate) settings: Settings,
    pub(crate) waiter: Arc<Waiter>,
    pub(crate) combiner: Combiner,
    /// The store's own keys (queue list, workers).
    pub(crate) store_keys: StoreKeys,
    /// Queues this handle has added to the store's queue list.
    pub(crate) known_queues: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    pub(crate) async fn conn(&self) -> Result<Conn, BackendError> {
        self.inner.conns.get().await
    }

    pub(crate) fn keys(&self, queue: &str) -> Result<QueueKeys, BackendError> {
        QueueKeys::new(&self.inner.prefix, queue)
    }

    pub(crate) fn batch_keys(&self, id: BatchId) -> BatchKeys {
        BatchKeys::new(&self.inner.prefix, id)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Adds `queue` to the store's queue list ([`jobs_core::Backend::queues`]) the first
    /// time this handle meets it: one set add per process and queue, off the hot path
    /// after that. A failure is only logged (the enqueue is what matters; the next one
    /// tries again).
    pub(crate) async fn note_queue(&self, conn: &mut Conn, queue: &str) {
        let known = |q: &str| self.inner.known_queues.lock().is_ok_and(|k| k.contains(q));
        if known(queue) {
            return;
        }
        let added: Result<i64, _> = redis::cmd("SADD")
            .arg(&self.inner.store_keys.queues)
            .arg(queue)
            .query_async(conn)
            .await;
        match added {
            Ok(_) => {
                if let Ok(mut k) = self.inner.known_queues.lock() {
                    k.insert(queue.to_owned());
                }
            }
            Err(e) => {
                tracing::debug!(queue, error = %e, "could not add the queue to the queue list")
            }
        }
    }

    /// Sends `jobs` now, in calls of at most [`ENQUEUE_CHUNK`] per queue; the first error.
    pub(crate) async fn enqueue_now(&self, jobs: Vec<NewJob>) -> Result<(), BackendError> {
        self.enqueue_each(&jobs).await.into_iter().collect()
    }

    /// Sends `jobs` in calls of at most [`ENQUEUE_CHUNK`] per queue and returns, for each
    /// job in order, the result of the call that carried it: a call that failed does not
    /// stop the others (another queue may live on another node), and a job is reported
    /// failed only when its own call failed.
    pub(crate) async fn enqueue_each(&self, jobs: &[NewJob]) -> Vec<Result<(), BackendError>> {
        let mut out: Vec<Result<(), BackendError>> = Vec::with_capacity(jobs.len());
        out.resize_with(jobs.len(), || Ok(()));
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(e) => return (0..jobs.len()).map(|_| Err(error::copy(&e))).collect(),
        };
        let groups = by_queue(
            jobs.iter()
                .enumerate()
                .map(|(i, j)| (i, j.queue.as_str(), j)),
        );
        for (queue, group) in groups {
            self.note_queue(&mut conn, queue).await;
            let k = match self.keys(queue) {
                Ok(k) => k,
                Err(e) => {
                    for (pos, _) in &group {
                        out[*pos] = Err(error::copy(&e));
                    }
                    continue;
                }
            };
            for chunk in group.chunks(ENQUEUE_CHUNK) {
                let news = chunk.iter().map(|(_, job)| *job);
                let stored = scripts::enqueue::call(&mut conn, &k, &self.inner.settings, news);
                if let Err(e) = stored.await {
                    for (pos, _) in chunk {
                        out[*pos] = Err(error::copy(&e));
                    }
                }
            }
        }
        out
    }
}
