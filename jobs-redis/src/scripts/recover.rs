//! `recover.lua`: requeue (or bury) jobs whose lease expired.

use jobs_core::BackendError;

use super::{QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;

super::script!("recover", AllowOom, Queue);

/// What one call recovered.
pub(crate) struct Reply {
    pub requeued: u64,
    pub dead: u64,
    /// Outbox entries due (batch work for the caller).
    pub outbox: u64,
}

/// Recovers at most `limit` expired leases of `k`'s queue.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    limit: usize,
) -> Result<Reply, BackendError> {
    let (requeued, dead, outbox) = SCRIPT
        .on_queue(k)
        .arg(limit)
        .arg(&settings.recovery_args()[..])
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(Reply {
        requeued,
        dead,
        outbox,
    })
}
