//! `batch_outbox.lua`: a queue's outbox of batch work, on the server's clock.

use jobs_core::{BackendError, BatchId};

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;

// Removes and re-times entries (and writes a check before new work, which is
// itself refused at maxmemory): runs at maxmemory too.
super::script!("batch_outbox", AllowOom, Queue);

/// The oldest due entries, at most `limit`.
pub(crate) async fn due(
    conn: &mut Conn,
    k: &QueueKeys,
    limit: usize,
) -> Result<Vec<String>, BackendError> {
    SCRIPT
        .on_queue(k)
        .arg("due")
        .arg(limit)
        .invoke_async(conn)
        .await
        .map_err(error::map)
}

/// Schedules a check of `batch`, due `delay_ms` from now.
pub(crate) async fn check(
    conn: &mut Conn,
    k: &QueueKeys,
    batch: BatchId,
    delay_ms: u64,
) -> Result<(), BackendError> {
    let _: i64 = SCRIPT
        .on_queue(k)
        .arg("check")
        .arg(delay_ms)
        .arg(batch.to_string())
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(())
}

/// Removes `remove` (those still due) and makes each of `retry` due again after its ms.
pub(crate) async fn settle(
    conn: &mut Conn,
    k: &QueueKeys,
    remove: &[&str],
    retry: &[(&str, u64)],
) -> Result<(), BackendError> {
    let mut call = SCRIPT.on_queue(k);
    call.arg("settle").arg(remove.len());
    for entry in remove {
        call.arg(*entry);
    }
    for (entry, ms) in retry {
        call.arg(*entry).arg(*ms);
    }
    let _: i64 = call.invoke_async(conn).await.map_err(error::map)?;
    Ok(())
}
