//! `cancel.lua`: cancel a waiting job at once, or mark a running one.

use std::sync::LazyLock;

use jobs_core::backend::CancelOutcome;
use jobs_core::{BackendError, JobId};

use super::{Flags, Libs, Lua, QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

const KEYS: usize = 9;

pub(crate) static SCRIPT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        "cancel",
        Flags::Writes,
        Libs::Queue,
        include_str!("../../lua/cancel.lua"),
        KEYS,
    )
});

fn keys(k: &QueueKeys) -> [&str; KEYS] {
    [
        &k.jobs,
        &k.ready,
        &k.scheduled,
        &k.leased,
        &k.succeeded,
        &k.dead,
        &k.events,
        &k.outbox,
        &k.cancel,
    ]
}

/// Cancels job `id` of `k`'s queue: what happened, and the outbox entries due.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    id: JobId,
) -> Result<(CancelOutcome, u64), BackendError> {
    let [dead_max, dead_age, trim] = settings.dead_args();
    let reply = SCRIPT
        .call(keys(k))
        .arg(id.to_string())
        .arg(settings.events_max_len)
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
