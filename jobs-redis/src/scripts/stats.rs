//! `stats.lua`: the counts of one queue by state, read atomically.

use std::sync::LazyLock;

use jobs_core::BackendError;
use jobs_core::backend::QueueStats;

use super::{Flags, Libs, Lua, QueueKeys};
use crate::conn::Conn;
use crate::error;

const KEYS: usize = 6;

pub(crate) static SCRIPT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        "stats",
        Flags::ReadOnly,
        Libs::Queue,
        include_str!("../../lua/stats.lua"),
        KEYS,
    )
});

fn keys(k: &QueueKeys) -> [&str; KEYS] {
    [
        &k.scheduled,
        &k.ready,
        &k.leased,
        &k.succeeded,
        &k.dead,
        &k.jobs,
    ]
}

/// The queue's counts.
pub(crate) async fn call(conn: &mut Conn, k: &QueueKeys) -> Result<QueueStats, BackendError> {
    let (scheduled, ready, active, succeeded, dead, orphaned): (u64, u64, u64, u64, u64, u64) =
        SCRIPT
            .call(keys(k))
            .invoke_async(conn)
            .await
            .map_err(error::map)?;
    let mut stats = QueueStats::default();
    stats.scheduled = scheduled;
    stats.ready = ready;
    stats.active = active;
    stats.succeeded = succeeded;
    stats.dead = dead;
    stats.orphaned = orphaned;
    Ok(stats)
}
