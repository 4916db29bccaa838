//! `cancel.lua`: cancel a waiting job at once, or mark a running one.

use jobs_core::backend::CancelOutcome;
use jobs_core::{BackendError, JobId};

use super::{QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("cancel", Writes, Queue);

/// Cancels job `id` of `k`'s queue: what happened, and the outbox entries due.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    id: JobId,
) -> Result<(CancelOutcome, u64), BackendError> {
    let [dead_max, dead_age, trim] = settings.dead_args();
    let reply = SCRIPT
        .on_queue(k)
        .arg(id.to_string())
        .arg(settings.store.events_max_len())
        .arg(dead_max)
        .arg(dead_age)
        .arg(trim)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    let mut it = reply::array(reply)?.into_iter();
    let [what, outbox] = take::<2>(&mut it)?;
    // The status codes named in the script's header.
    let outcome = match reply::string(what)?.as_str() {
        "cancelled" => CancelOutcome::Cancelled,
        "requested" => CancelOutcome::Requested,
        "finished" => CancelOutcome::Finished,
        _ => CancelOutcome::NotFound,
    };
    Ok((outcome, reply::uint(&outbox)?))
}
