//! `cancel.lua`: cancel a waiting job at once, or mark a running one.

use jobs_core::backend::CancelOutcome;
use jobs_core::{BackendError, JobId};

use redis::Value;

use super::{QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("cancel", Writes, Queue);

/// What a cancel answered.
pub(crate) struct Reply {
    /// Outbox entries due (batch work for the caller).
    pub outbox: u64,
    what: Value,
}

impl Reply {
    /// What happened to the job (one of the status codes named in the script's header).
    pub(crate) fn outcome(self) -> Result<CancelOutcome, BackendError> {
        Ok(match reply::string(self.what)?.as_str() {
            "cancelled" => CancelOutcome::Cancelled,
            "requested" => CancelOutcome::Requested,
            "finished" => CancelOutcome::Finished,
            _ => CancelOutcome::NotFound,
        })
    }
}

/// Cancels job `id` of `k`'s queue.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    id: JobId,
) -> Result<Reply, BackendError> {
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
    Ok(Reply {
        outbox: reply::uint(&outbox)?,
        what,
    })
}
