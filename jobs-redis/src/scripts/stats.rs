//! `stats.lua`: the counts of one queue by state, read atomically.

use jobs_core::BackendError;
use jobs_core::backend::QueueStats;

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;

super::script!("stats", ReadOnly, Queue);

/// The queue's counts.
pub(crate) async fn call(conn: &mut Conn, k: &QueueKeys) -> Result<QueueStats, BackendError> {
    let [scheduled, ready, active, succeeded, dead, orphaned, paused]: [u64; 7] = SCRIPT
        .on_queue(k)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    let mut stats = QueueStats::default();
    stats.scheduled = scheduled;
    stats.ready = ready;
    stats.active = active;
    stats.succeeded = succeeded;
    stats.dead = dead;
    stats.orphaned = orphaned;
    stats.paused = paused == 1;
    Ok(stats)
}
