//! `set_batch_pause.lua`: pause or resume a batch's members on one queue.

use jobs_core::{BackendError, BatchId};

use super::QueueKeys;
use super::batch_pause::what;
use crate::conn::Conn;
use crate::error;

super::script!("set_batch_pause", AllowOom, Queue);

/// Most parked members one resume call puts back in line.
const UNPARK_BATCH: usize = 1000;

/// Applies the pause on `k`'s queue; for a resume, puts back up to a bounded number of
/// parked members: returns how many are left.
pub(crate) async fn apply(
    conn: &mut Conn,
    k: &QueueKeys,
    batch: BatchId,
    paused: bool,
) -> Result<u64, BackendError> {
    SCRIPT
        .on_queue(k)
        .arg(batch.to_string())
        .arg(what(paused))
        .arg(UNPARK_BATCH)
        .invoke_async(conn)
        .await
        .map_err(error::map)
}
