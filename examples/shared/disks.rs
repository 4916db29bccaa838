//! The disk-format job shared by the examples (`#[path]`-included by each).

use std::time::Duration;

use jobs_core::{Data, JobContext, JobError, job};
use serde::{Deserialize, Serialize};

/// Stands in for the RPC client that runs a command on a node.
pub struct NodeRpc {
    /// How long one command takes.
    pub latency: Duration,
}

impl NodeRpc {
    /// Runs `command` on `host`. `node-3` drops the connection on a first attempt, to show
    /// a retry.
    pub async fn run(
        &self,
        host: &str,
        command: &str,
        attempt: u32,
    ) -> Result<String, std::io::Error> {
        tokio::time::sleep(self.latency).await;
        if host == "node-3" && attempt == 1 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by node-3",
            ));
        }
        Ok(format!("{host}: `{command}` done"))
    }
}

/// What formatting one disk reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct FormatReport {
    /// The node.
    pub host: String,
    /// What the node printed.
    pub output: String,
}

/// Partition and format one disk on one node.
#[job(
    queue = "disks",
    max_attempts = 3,
    backoff = "fixed(300ms)",
    timeout = "2h"
)]
pub async fn format_disk(
    host: String,
    device: String,
    rpc: Data<NodeRpc>,
    ctx: JobContext,
) -> Result<FormatReport, JobError> {
    println!(
        "  [{host}] attempt {} of {}: formatting {device}",
        ctx.attempt(),
        ctx.max_attempts()
    );
    let output = rpc
        .run(&host, &format!("mkfs.ext4 {device}"), ctx.attempt())
        .await?;
    Ok(FormatReport { host, output })
}
