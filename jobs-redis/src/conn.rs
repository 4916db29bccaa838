//! Connections: a pool for one Redis server, or a cluster connection for Redis Cluster,
//! behind one type the scripts run on.

use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use jobs_core::BackendError;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, Value};
use tokio::sync::OnceCell;

use crate::error;

/// The pool of connections to one server.
pub(crate) type Pool = managed::Pool<Manager>;

/// Makes and checks pooled connections.
///
/// Unlike a manager that PINGs every connection it hands out (a round trip per call),
/// this one trusts a connection until a call on it fails with a connection error; the
/// pool then drops it and makes a new one.
pub(crate) struct Manager {
    pub(crate) client: redis::Client,
    pub(crate) config: AsyncConnectionConfig,
}

/// A pooled connection, marked broken by a failed call.
pub(crate) struct Pooled {
    conn: MultiplexedConnection,
    broken: bool,
}

impl managed::Manager for Manager {
    type Type = Pooled;
    type Error = RedisError;

    async fn create(&self) -> Result<Pooled, RedisError> {
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(Pooled {
            conn,
            broken: false,
        })
    }

    async fn recycle(&self, conn: &mut Pooled, _: &Metrics) -> RecycleResult<RedisError> {
        match conn.broken {
            true => Err(RecycleError::message("the connection failed")),
            false => Ok(()),
        }
    }
}

/// Errors after which a connection is not worth keeping.
fn breaks(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_unrecoverable_error()
}

impl ConnectionLike for Pooled {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Pooled { conn, broken } = self;
        let call = conn.req_packed_command(cmd);
        Box::pin(async move {
            let reply = call.await;
            *broken |= reply.as_ref().is_err_and(breaks);
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let Pooled { conn, broken } = self;
        let call = conn.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let reply = call.await;
            *broken |= reply.as_ref().is_err_and(breaks);
            reply
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// A connection checked out of the pool for one call.
pub(crate) struct Checkout(Object<Manager>);

impl ConnectionLike for Checkout {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}

/// Where ordinary (non-blocking) calls go.
pub(crate) enum Connections {
    /// One server: a pool of multiplexed connections.
    Single(Pool),
    /// A cluster: one multiplexed, slot-routing connection, shared by clones, made on first
    /// use (so a backend can be built while the cluster is still down). Every script
    /// touches the keys of one queue, which share a slot, so each call goes to one node.
    Cluster {
        client: Box<ClusterClient>,
        conn: OnceCell<ClusterConnection>,
    },
}

impl Connections {
    pub(crate) async fn get(&self) -> Result<Conn, BackendError> {
        match self {
            Connections::Single(pool) => Ok(Conn::Single(Checkout(
                pool.get().await.map_err(error::pool)?,
            ))),
            Connections::Cluster { client, conn } => {
                let conn = conn
                    .get_or_try_init(|| client.get_async_connection())
                    .await
                    .map_err(error::map)?;
                Ok(Conn::Cluster(conn.clone()))
            }
        }
    }
}

/// A connection to one server or to a cluster: `S` is a pooled connection for ordinary
/// calls, a dedicated one for blocking waits.
pub(crate) enum Conn<S = Checkout> {
    Single(S),
    Cluster(ClusterConnection),
}

impl<S: ConnectionLike + Send> ConnectionLike for Conn<S> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}
