//! `sweep.lua`: move stored jobs that are in no state to dead, one page of the job hash
//! per call.

use std::sync::LazyLock;

use jobs_core::BackendError;

use super::{Flags, Libs, Lua, QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;

const KEYS: usize = 8;

pub(crate) static SCRIPT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        "sweep",
        // Moves records, adds none: runs at maxmemory too.
        Flags::AllowOom,
        Libs::Queue,
        include_str!("../../lua/sweep.lua"),
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
    ]
}

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
        .call(keys(k))
        .arg(cursor)
        .arg(page)
        .arg(settings.events_max_len)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(Reply {
        next: (next != "0").then_some(next),
        moved,
        outbox,
    })
}
