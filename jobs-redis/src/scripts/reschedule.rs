//! `reschedule.lua`: move a waiting job to another run-at or priority.

use jobs_core::BackendError;
use jobs_core::JobId;
use jobs_core::backend::{Reschedule, RescheduleOutcome};

use super::QueueKeys;
use super::enqueue::run_at_arg;
use crate::conn::Conn;
use crate::{error, reply};

super::script!("reschedule", Writes, Queue);

/// Moves job `id` of `k`'s queue as `change` says.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    id: JobId,
    change: Reschedule,
) -> Result<RescheduleOutcome, BackendError> {
    let reply = SCRIPT
        .on_queue(k)
        .arg(id.to_string())
        .arg(change.run_at.map_or_else(|| "keep".to_owned(), run_at_arg))
        .arg(change.priority.map(|p| p.to_string()).unwrap_or_default())
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    // The answers named in the script's header.
    match reply::string(reply)?.as_str() {
        "moved" => Ok(RescheduleOutcome::Moved),
        "not_waiting" => Ok(RescheduleOutcome::NotWaiting),
        "not_found" => Ok(RescheduleOutcome::NotFound),
        other => Err(error::corrupt(format!(
            "reschedule: unknown answer {other:?}"
        ))),
    }
}
