//! `progress.lua`: record the progress of leased jobs.

use jobs_core::BackendError;
use jobs_core::backend::{Lease, LeaseStatus, Progress};

use super::{QueueKeys, Settings};
use crate::conn::Conn;
use crate::{error, reply};

super::script!("progress", Writes, Queue);

/// Records each item's progress if its lease is still held (at most a chunk, all of
/// `k`'s queue): one status per item, in order.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    items: impl Iterator<Item = &(Lease, Progress)> + Clone,
) -> Result<Vec<LeaseStatus>, BackendError> {
    let mut call = SCRIPT.on_queue(k);
    call.arg(settings.store.events_max_len());
    for (lease, progress) in items.clone() {
        call.arg(lease.id.to_string())
            .arg(lease.token)
            .arg(progress.percent)
            .arg(&progress.message);
    }
    let reply = call.invoke_async(conn).await.map_err(error::map)?;
    items
        .zip(reply::array(reply)?)
        // RECORDED = 1, STALE = 0.
        .map(|((lease, _), v)| {
            Ok(if reply::int(&v)? == 1 {
                LeaseStatus::Held {
                    expires_at_ms: lease.expires_at_ms,
                }
            } else {
                LeaseStatus::Stale
            })
        })
        .collect()
}
