//! Blocking wake-ups: idle workers wait on the queues' wake lists (BLPOP) instead of
//! polling, on connections of their own.
//!
//! A blocked connection must not serve anyone else, and one whose wait was abandoned
//! (the worker shut down mid-wait) is still blocked on the server, so it is dropped, never
//! reused. Each wait is also bounded on the client side, so a connection that died
//! silently is noticed within seconds. On Redis Cluster the queues' wake lists may sit on
//! different nodes, so each is waited on separately and the first to answer wins.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_core::BackendError;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use tokio::task::JoinSet;

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

pub(crate) struct Waiter {
    client: WaitClient,
    idle: Mutex<Vec<WaitConn>>,
}

impl Waiter {
    pub(crate) fn new(client: WaitClient) -> Arc<Self> {
        Arc::new(Waiter {
            client,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Blocks until one of `keys` gets a token or `timeout` passes.
    pub(crate) async fn wait(
        self: &Arc<Self>,
        keys: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        match (&self.client, keys) {
            (_, []) => Ok(()),
            (WaitClient::Single { .. }, _) | (WaitClient::Cluster(_), [_]) => {
                self.wait_on(keys.to_vec(), timeout).await
            }
            (WaitClient::Cluster(_), _) => {
                // Dropping the set aborts the other waits; their connections are dropped.
                let mut waits = JoinSet::new();
                for key in keys {
                    let waiter = self.clone();
                    let key = key.clone();
                    waits.spawn(async move { waiter.wait_on(vec![key], timeout).await });
                }
                match waits.join_next().await {
                    Some(Ok(result)) => result,
                    Some(Err(e)) => Err(BackendError::Other(Box::new(e))),
                    None => Ok(()),
                }
            }
        }
    }

    async fn wait_on(&self, keys: Vec<String>, timeout: Duration) -> Result<(), BackendError> {
        // BLPOP takes seconds as a decimal; 0 would mean "forever".
        let secs = timeout.as_secs_f64().max(0.001);
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg(&keys).arg(secs);
        self.blocking(&cmd, timeout).await.map(|_| ())
    }

    /// Runs a blocking command (`cmd` must give up on the server by `timeout`) on a
    /// connection of its own.
    pub(crate) async fn blocking(
        &self,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<redis::Value, BackendError> {
        let mut conn = match self.take() {
            Some(conn) => conn,
            None => self.connect().await?,
        };
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
