//! Blocking wake-ups: idle workers wait on the queues' wake lists (BLPOP) instead of
//! polling, on connections of their own.
//!
//! A blocked connection must not serve anyone else, and one whose wait was abandoned
//! (the worker shut down mid-wait) is still blocked on the server, so it is dropped, never
//! reused. Each wait is also bounded on the client side, so a connection that died
//! silently is noticed within seconds.

use std::sync::Mutex;
use std::time::Duration;

use jobs_core::BackendError;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use crate::error;

/// Slack on top of the server-side timeout before the client gives up on a wait.
const CLIENT_SLACK: Duration = Duration::from_secs(2);

pub(crate) struct Waiter {
    client: redis::Client,
    connect_timeout: Duration,
    idle: Mutex<Vec<MultiplexedConnection>>,
}

impl Waiter {
    pub(crate) fn new(client: redis::Client, connect_timeout: Duration) -> Self {
        Waiter {
            client,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Blocks until one of `keys` gets a token or `timeout` passes.
    pub(crate) async fn wait(
        &self,
        keys: &[String],
        timeout: Duration,
    ) -> Result<(), BackendError> {
        let mut conn = match self.take() {
            Some(conn) => conn,
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(None);
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(error::map)?
            }
        };
        // BLPOP takes seconds as a decimal; 0 would mean "forever".
        let secs = timeout.as_secs_f64().max(0.001);
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg(keys).arg(secs);
        let blpop = cmd.query_async::<Option<(String, String)>>(&mut conn);
        match tokio::time::timeout(timeout + CLIENT_SLACK, blpop).await {
            Ok(Ok(_)) => {
                self.give_back(conn);
                Ok(())
            }
            Ok(Err(e)) => Err(error::map(e)),
            Err(_) => Err(BackendError::Unavailable(
                "no answer to a blocking wait: connection lost?".into(),
            )),
        }
        // On any early exit (error, or this future dropped) `conn` is dropped, not reused.
    }

    fn take(&self) -> Option<MultiplexedConnection> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give_back(&self, conn: MultiplexedConnection) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}
