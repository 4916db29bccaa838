//! Connections: a pool for one Redis server, or a cluster connection for Redis Cluster,
//! behind one type the scripts run on.

use deadpool_redis::Pool;
use jobs_core::BackendError;
use redis::aio::ConnectionLike;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

use crate::error;

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
            Connections::Single(pool) => Ok(Conn::Single(pool.get().await.map_err(error::pool)?)),
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

/// A connection for one call.
pub(crate) enum Conn {
    Single(deadpool_redis::Connection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
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
