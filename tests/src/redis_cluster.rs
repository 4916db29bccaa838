//! A private Redis Cluster for tests: N masters on loopback ports, slots split evenly.
//!
//! Built from [`RedisServer`]s with `--cluster-enabled yes`; the slots are assigned and
//! the nodes introduced with plain commands (`CLUSTER ADDSLOTSRANGE`, `CLUSTER MEET`), so
//! no `redis-cli` is needed. Dropping it stops every node.
//!
//! ```no_run
//! use jobs_tests::redis_cluster::RedisCluster;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = RedisCluster::start(3)?;
//! println!("seed nodes: {:?}", cluster.urls());
//! # Ok(()) }
//! ```

use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use crate::redis_server::{self, RedisServer};

/// Why a cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A node could not be started.
    #[error(transparent)]
    Node(#[from] redis_server::Error),
    /// The nodes did not form a cluster.
    #[error("cluster set-up failed: {0}")]
    Setup(String),
}

/// Redis Cluster's slot count.
pub const SLOTS: u16 = 16384;

/// A running cluster of masters (no replicas).
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn setup_error(what: String) -> Error {
    Error::Setup(what)
}

impl RedisCluster {
    /// Starts `masters` nodes, splits the slots evenly between them, and waits until every
    /// node reports the cluster `ok`.
    pub fn start(masters: usize) -> Result<Self, Error> {
        assert!(masters >= 1, "a cluster needs at least one master");
        let mut nodes = Vec::with_capacity(masters);
        for _ in 0..masters {
            // The cluster bus port must be free too; port + 10000 may not be.
            let bus = free_port()
                .map_err(|e| setup_error(format!("no free port for the cluster bus: {e}")))?;
            let node = RedisServer::builder()
                .arg("--cluster-enabled")
                .arg("yes")
                .arg("--cluster-config-file")
                .arg("nodes.conf")
                .arg("--cluster-port")
                .arg(bus.to_string())
                .arg("--cluster-node-timeout")
                .arg("5000")
                .start()?;
            nodes.push((node, bus));
        }
        let per = SLOTS as usize / masters;
        for (i, (node, _)) in nodes.iter().enumerate() {
            let first = i * per;
            let last = if i + 1 == masters {
                SLOTS as usize - 1
            } else {
                (i + 1) * per - 1
            };
            let reply = node
                .command(&[
                    "CLUSTER",
                    "ADDSLOTSRANGE",
                    &first.to_string(),
                    &last.to_string(),
                ])
                .map_err(|e| setup_error(format!("CLUSTER ADDSLOTSRANGE: {e}")))?;
            if reply != "+OK" {
                return Err(setup_error(format!(
                    "CLUSTER ADDSLOTSRANGE answered {reply}"
                )));
            }
        }
        let (first, _) = &nodes[0];
        for (node, bus) in &nodes[1..] {
            let reply = first
                .command(&[
                    "CLUSTER",
                    "MEET",
                    "127.0.0.1",
                    &node.port().to_string(),
                    &bus.to_string(),
                ])
                .map_err(|e| setup_error(format!("CLUSTER MEET: {e}")))?;
            if reply != "+OK" {
                return Err(setup_error(format!("CLUSTER MEET answered {reply}")));
            }
        }
        let cluster = RedisCluster {
            nodes: nodes.into_iter().map(|(node, _)| node).collect(),
        };
        cluster.wait_ok(masters, Duration::from_secs(30))?;
        Ok(cluster)
    }

    fn wait_ok(&self, masters: usize, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let known = format!("cluster_known_nodes:{masters}");
        loop {
            let infos: Vec<String> = self
                .nodes
                .iter()
                .map(|n| n.command(&["CLUSTER", "INFO"]).unwrap_or_default())
                .collect();
            if infos
                .iter()
                .all(|i| i.contains("cluster_state:ok") && i.contains(&known))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(setup_error(format!(
                    "cluster not ok after {timeout:?}: {infos:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Seed URLs, one per node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The index of the node that owns `key`'s slot.
    pub fn node_of(&self, key: &str) -> usize {
        let slot: usize = self.nodes[0]
            .command(&["CLUSTER", "KEYSLOT", key])
            .expect("CLUSTER KEYSLOT")
            .trim_start_matches(':')
            .parse()
            .expect("a slot number");
        let per = SLOTS as usize / self.nodes.len();
        (slot / per).min(self.nodes.len() - 1)
    }
}
