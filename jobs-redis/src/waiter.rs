//! Blocking wake-ups: idle workers wait on the queues' wake lists (BLPOP) instead of
//! polling, on connections of their own.
//!
//! Duties:
//! - one BLPOP in flight per wait target (all of a caller's keys at once on one server;
//!   one key each on Redis Cluster, where the keys may sit on different nodes), shared by
//!   every caller waiting on that target, each in a task of its own that owns its
//!   connection;
//! - while anyone waits on a target, re-issue its BLPOP when it times out: an idle worker
//!   sends nothing else;
//! - hand a token to one caller waiting on its target; a token nobody takes (the caller
//!   returned on another target's token, or was dropped at shutdown) goes back on its list
//!   (LPUSH + LTRIM 0 0, as the scripts' `wake()`), so another worker gets it;
//! - when a BLPOP completes and nobody waits any more, give its connection back to the
//!   idle set, so later waits reuse it instead of connecting. A connection whose wait
//!   failed or got no answer in time is dropped: it may be dead.
//!
//! Each BLPOP is bounded on the server (the caller's `block`), so a wait nobody listens to
//! any more ends on its own, and on the client (plus [`CLIENT_SLACK`]), so a connection that
//! died silently is noticed.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jobs_core::BackendError;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use crate::conn::Conn;
use crate::error;

/// Slack on top of the server-side timeout before the client gives up on a wait.
const CLIENT_SLACK: Duration = Duration::from_secs(2);

/// How blocking connections are made.
pub(crate) enum WaitClient {
    Single {
        client: redis::Client,
        connect_timeout: Duration,
    },
    Cluster(ClusterClient),
}

/// A dedicated connection for blocking waits.
type WaitConn = Conn<MultiplexedConnection>;

/// The keys of one BLPOP.
type Target = Vec<String>;

/// What a wait task tells a caller.
enum Woken {
    /// A token was taken from this key's list.
    Token(String),
    /// The wait failed; the caller reports it (and its worker backs off).
    Failed(BackendError),
}

/// An idle worker with nothing due reserves again after this many idle waits (5 min with
/// the default `idle_wait`).
const IDLE_BACKSTOP: u32 = 60;

/// Callers waiting on one target, oldest first. A target is in the map exactly while a
/// task runs its BLPOP.
type Callers = Vec<UnboundedSender<Woken>>;

pub(crate) struct Waiter {
    client: WaitClient,
    idle: Mutex<Vec<WaitConn>>,
    waits: Mutex<HashMap<Target, Callers>>,
    /// Per queue: when the earliest scheduled job, lease end or batch work is due, as
    /// learned from the last empty reservation. Idle workers block until then at most.
    hints: Mutex<HashMap<String, Instant>>,
}

/// A caller's end: tokens handed to it but not used when it goes (it returned on another
/// one, or was dropped) are put back.
struct Subscription {
    waiter: Arc<Waiter>,
    woken: UnboundedReceiver<Woken>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // After `close`, no task can hand this caller anything more: each sees the closed
        // channel and puts its token back itself. What was handed before is here.
        self.woken.close();
        while let Ok(woken) = self.woken.try_recv() {
            if let Woken::Token(key) = woken {
                let waiter = self.waiter.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => drop(rt.spawn(async move {
                        if let Some(conn) = waiter.put_back(None, &key).await {
                            waiter.give_back(conn);
                        }
                    })),
                    Err(_) => {
                        tracing::warn!(key, "a wake-up token was lost: no runtime to put it back")
                    }
                }
            }
        }
    }
}

impl Waiter {
    pub(crate) fn new(client: WaitClient) -> Arc<Self> {
        Arc::new(Waiter {
            client,
            idle: Mutex::new(Vec::new()),
            waits: Mutex::new(HashMap::new()),
            hints: Mutex::new(HashMap::new()),
        })
    }

    /// Notes what an empty reservation of `queue` learned: work is due in `next_in_ms`
    /// (`None`: nothing is due unannounced).
    pub(crate) fn note_next(&self, queue: &str, next_in_ms: Option<u64>) {
        let mut hints = self.hints.lock().unwrap_or_else(|p| p.into_inner());
        match next_in_ms {
            Some(ms) => {
                hints.insert(queue.to_owned(), Instant::now() + Duration::from_millis(ms));
            }
            None => {
                hints.remove(queue);
            }
        }
    }

    /// How long an idle worker on `queues` waits (each blocking call lasting `timeout`):
    /// until the earliest work the queues are known to have comes due; `None` when it is
    /// due already.
    pub(crate) fn wait_until(&self, queues: &[String], timeout: Duration) -> Option<Instant> {
        // With nothing known to come due, nothing comes due unannounced (a script that
        // makes work pushes a wake-up token), so the wait goes on, re-issued every
        // `timeout`, until a token arrives. A backstop all the same: a wake-up token lost
        // with a dropped connection must not leave work waiting for good, so an idle
        // worker reserves once per IDLE_BACKSTOP waits even with nothing due.
        let backstop = Instant::now() + timeout.saturating_mul(IDLE_BACKSTOP);
        let due = {
            let hints = self.hints.lock().unwrap_or_else(|p| p.into_inner());
            queues.iter().filter_map(|q| hints.get(q).copied()).min()
        }
        .map_or(backstop, |due| due.min(backstop));
        (due > Instant::now()).then_some(due)
    }

    /// Blocks until one of `keys` gets a token, until `until`, or until a wait
    /// fails. Each BLPOP lasts at most `block` on the server and is re-issued while the
    /// caller waits. A token is taken by this caller only if it returns because of it.
    pub(crate) async fn wait(
        self: &Arc<Self>,
        keys: &[String],
        block: Duration,
        until: Instant,
    ) -> Result<(), BackendError> {
        if keys.is_empty() {
            return Ok(());
        }
        let (tx, rx) = unbounded_channel();
        let mut sub = Subscription {
            waiter: self.clone(),
            woken: rx,
        };
        match &self.client {
            WaitClient::Single { .. } => self.subscribe(keys.to_vec(), tx, block),
            WaitClient::Cluster(_) => {
                for key in keys {
                    self.subscribe(vec![key.clone()], tx.clone(), block);
                }
            }
        }
        let due = tokio::time::sleep_until(until);
        tokio::select! {
            // A token that is there is taken before the deadline is looked at.
            biased;
            woken = sub.woken.recv() => match woken {
                Some(Woken::Token(_)) | None => Ok(()),
                Some(Woken::Failed(e)) => Err(e),
            },
            _ = due => Ok(()),
        }
    }

    fn waits(&self) -> MutexGuard<'_, HashMap<Target, Callers>> {
        self.waits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a caller to `target`'s wait, starting one if none runs.
    fn subscribe(
        self: &Arc<Self>,
        target: Target,
        caller: UnboundedSender<Woken>,
        block: Duration,
    ) {
        match self.waits().entry(target) {
            Entry::Occupied(mut waiting) => waiting.get_mut().push(caller),
            Entry::Vacant(none) => {
                let target = none.key().clone();
                none.insert(vec![caller]);
                tokio::spawn(self.clone().run(target, block));
            }
        }
    }

    /// The task behind one target: BLPOP until nobody waits, handing each token on.
    async fn run(self: Arc<Self>, target: Target, block: Duration) {
        let mut conn = None;
        loop {
            match self.blpop(&mut conn, &target, block).await {
                Ok(Some(key)) => {
                    if !self.hand_over(&target, &key) {
                        conn = self.put_back(conn, &key).await;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    // `conn` is gone. Everyone waiting hears of it; the next caller starts
                    // a new wait on a new connection.
                    let callers = self.waits().remove(&target).unwrap_or_default();
                    let mut callers = callers.into_iter().filter(|c| !c.is_closed());
                    if let Some(first) = callers.next() {
                        for caller in callers {
                            let _ = caller.send(Woken::Failed(error::copy(&e)));
                        }
                        let _ = first.send(Woken::Failed(e));
                    }
                    return;
                }
            }
            let mut waits = self.waits();
            let callers = waits
                .get_mut(&target)
                .expect("a running wait is in the map");
            callers.retain(|c| !c.is_closed());
            if callers.is_empty() {
                waits.remove(&target);
                drop(waits);
                if let Some(conn) = conn {
                    self.give_back(conn);
                }
                return;
            }
        }
    }

    /// Gives a token to the oldest caller still waiting on `target`; false if there is none.
    fn hand_over(&self, target: &Target, key: &str) -> bool {
        let mut waits = self.waits();
        let callers = waits.get_mut(target).expect("a running wait is in the map");
        while !callers.is_empty() {
            // One token wakes one caller, which then waits no more on this target.
            if callers.remove(0).send(Woken::Token(key.to_owned())).is_ok() {
                return true;
            }
        }
        false
    }

    /// One BLPOP on `target`, on `conn` (taken from the idle set or made if `None`).
    /// Returns the key a token came from, or `None` when the wait timed out; on error
    /// `conn` is left `None`.
    async fn blpop(
        &self,
        conn: &mut Option<WaitConn>,
        target: &Target,
        block: Duration,
    ) -> Result<Option<String>, BackendError> {
        let mut c = match conn.take() {
            Some(c) => c,
            None => self.get().await?,
        };
        // BLPOP takes seconds as a decimal; 0 would mean "forever".
        let secs = block.as_secs_f64().max(0.001);
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg(target).arg(secs);
        let query = cmd.query_async::<Option<(String, redis::Value)>>(&mut c);
        match tokio::time::timeout(block + CLIENT_SLACK, query).await {
            Ok(Ok(reply)) => {
                *conn = Some(c);
                Ok(reply.map(|(key, _)| key))
            }
            Ok(Err(e)) => Err(error::map(e)),
            Err(_) => Err(BackendError::Unavailable(
                "no answer to a blocking wait: connection lost?".into(),
            )),
        }
    }

    /// Puts a token nobody took back on `key`'s list, on `conn` or an idle connection.
    /// Returns the connection if it is still good.
    ///
    /// Retried a few times (on a new connection each time): a lost token leaves an idle
    /// worker asleep until its backstop, so one failed connect, on a starved machine or
    /// a cluster client's first connection, must not lose it.
    async fn put_back(&self, mut conn: Option<WaitConn>, key: &str) -> Option<WaitConn> {
        const TRIES: u32 = 5;
        let mut pause = Duration::from_millis(50);
        for attempt in 1..=TRIES {
            let c = match conn.take() {
                Some(c) => Ok(c),
                None => self.get().await,
            };
            let failed = match c {
                Ok(mut c) => {
                    let mut pipe = redis::pipe();
                    pipe.cmd("LPUSH").arg(key).arg("1").ignore();
                    pipe.cmd("LTRIM").arg(key).arg(0).arg(0).ignore();
                    match pipe.query_async::<()>(&mut c).await {
                        Ok(()) => return Some(c),
                        Err(e) => error::map(e),
                    }
                }
                Err(e) => e,
            };
            if attempt == TRIES {
                tracing::warn!(key, error = %failed, "a wake-up token was lost: could not put it back");
            } else {
                tracing::debug!(key, error = %failed, attempt, "putting a wake-up token back failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        None
    }

    /// Runs a blocking command (`cmd` must give up on the server by `timeout`) on a
    /// connection of its own.
    pub(crate) async fn blocking(
        &self,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<redis::Value, BackendError> {
        let mut conn = self.get().await?;
        let query = cmd.query_async::<redis::Value>(&mut conn);
        match tokio::time::timeout(timeout + CLIENT_SLACK, query).await {
            Ok(Ok(value)) => {
                self.give_back(conn);
                Ok(value)
            }
            Ok(Err(e)) => Err(error::map(e)),
            Err(_) => Err(BackendError::Unavailable(
                "no answer to a blocking wait: connection lost?".into(),
            )),
        }
        // On any early exit (error, or this future dropped) `conn` is dropped, not reused.
    }

    /// An idle connection, or a new one.
    async fn get(&self) -> Result<WaitConn, BackendError> {
        match self.take() {
            Some(conn) => Ok(conn),
            None => self.connect().await,
        }
    }

    async fn connect(&self) -> Result<WaitConn, BackendError> {
        match &self.client {
            WaitClient::Single {
                client,
                connect_timeout,
            } => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(*connect_timeout))
                    .set_response_timeout(None);
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(error::map)?;
                Ok(Conn::Single(conn))
            }
            WaitClient::Cluster(client) => Ok(Conn::Cluster(
                client.get_async_connection().await.map_err(error::map)?,
            )),
        }
    }

    fn take(&self) -> Option<WaitConn> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give_back(&self, conn: WaitConn) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}
