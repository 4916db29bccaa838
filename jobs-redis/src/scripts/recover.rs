//! `recover.lua`: requeue (or bury) jobs whose lease expired.

use std::sync::LazyLock;

use jobs_core::BackendError;

use super::{Flags, Libs, Lua, QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;

const KEYS: usize = 10;

pub(crate) static SCRIPT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        "recover",
        Flags::AllowOom,
        Libs::Queue,
        include_str!("../../lua/recover.lua"),
        KEYS,
    )
});

fn keys(k: &QueueKeys) -> [&str; KEYS] {
    [
        &k.jobs,
        &k.ready,
        &k.leased,
        &k.dead,
        &k.wake,
        &k.events,
        &k.outbox,
        &k.cancel,
        &k.tokens,
        &k.batch_active,
    ]
}

/// What one call recovered.
pub(crate) struct Reply {
    pub requeued: u64,
    pub dead: u64,
    /// Outbox entries due (batch work for the caller).
    pub outbox: u64,
}

/// Recovers at most `limit` expired leases of `k`'s queue.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    limit: usize,
) -> Result<Reply, BackendError> {
    let [dead_max, dead_age, trim] = settings.dead_args();
    let (requeued, dead, outbox) = SCRIPT
        .call(keys(k))
        .arg(limit)
        .arg(settings.max_stalls)
        .arg(dead_max)
        .arg(dead_age)
        .arg(trim)
        .arg(settings.events_max_len)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(Reply {
        requeued,
        dead,
        outbox,
    })
}
