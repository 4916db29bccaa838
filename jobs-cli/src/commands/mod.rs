//! One module per command group; each `run` returns the exit status.

pub mod events;
pub mod list;
pub mod modify;
pub mod show;
pub mod stats;
pub mod wait;
pub mod web;
pub mod workers;

use crate::connect::JobsClient;
use crate::exit;

/// Fails with exit 3 unless the store knows `queue`: it was enqueued to or served, or
/// holds jobs (a store written before the queue list existed).
pub async fn known_queue(client: &JobsClient, queue: &str) -> anyhow::Result<()> {
    let queues = client.queues().await?;
    if queues.iter().any(|q| q == queue) {
        return Ok(());
    }
    if jobs_core::validate_queue_name(queue).is_ok() {
        let s = client.stats(queue).await?;
        if s.scheduled + s.ready + s.active + s.succeeded + s.dead > 0 || s.paused {
            return Ok(());
        }
    }
    let known = if queues.is_empty() {
        "it knows none".to_owned()
    } else {
        format!("known: {}", queues.join(", "))
    };
    Err(exit::not_found(format!(
        "queue {queue:?} is not known to the store ({known})"
    )))
}
