//! `retry_dead.lua`: move dead jobs back to ready with fresh attempts.

use jobs_core::{BackendError, JobId};

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;

super::script!("retry_dead", Writes, Queue);

/// Retries the dead jobs among `ids` (the caller bounds how many); how many moved.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    ids: &[JobId],
) -> Result<u64, BackendError> {
    let mut call = SCRIPT.on_queue(k);
    for id in ids {
        call.arg(id.to_string());
    }
    call.invoke_async(conn).await.map_err(error::map)
}
