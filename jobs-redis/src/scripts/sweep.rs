//! `sweep.lua`: move stored jobs that are in no state to dead, one page of the job hash
//! per call.

use jobs_core::BackendError;

use super::{QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;

// Moves records, adds none: runs at maxmemory too.
super::script!("sweep", AllowOom, Queue);

/// One page of a sweep.
pub(crate) struct Reply {
    /// Where the next page starts; `None` when the walk is over.
    pub next: Option<String>,
    /// Jobs moved to dead.
    pub moved: u64,
    /// Outbox entries due (batch work for the caller).
    pub outbox: u64,
}

/// Sweeps the page of `k`'s job hash at `cursor` (`"0"` to start).
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    cursor: &str,
    page: usize,
) -> Result<Reply, BackendError> {
    let (next, moved, outbox): (String, u64, u64) = SCRIPT
        .on_queue(k)
        .arg(cursor)
        .arg(page)
        .arg(settings.store.events_max_len())
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(Reply {
        next: (next != "0").then_some(next),
        moved,
        outbox,
    })
}
