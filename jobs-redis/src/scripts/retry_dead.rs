//! `retry_dead.lua`: move dead jobs back to ready with fresh attempts.

use std::sync::LazyLock;

use jobs_core::{BackendError, JobId};

use super::{Flags, Libs, Lua, QueueKeys};
use crate::conn::Conn;
use crate::error;

const KEYS: usize = 4;

pub(crate) static SCRIPT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        "retry_dead",
        Flags::Writes,
        Libs::Queue,
        include_str!("../../lua/retry_dead.lua"),
        KEYS,
    )
});

fn keys(k: &QueueKeys) -> [&str; KEYS] {
    [&k.jobs, &k.dead, &k.ready, &k.wake]
}

/// Retries the dead jobs among `ids` (the caller bounds how many); how many moved.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    ids: &[JobId],
) -> Result<u64, BackendError> {
    let mut call = SCRIPT.call(keys(k));
    for id in ids {
        call.arg(id.to_string());
    }
    call.invoke_async(conn).await.map_err(error::map)
}
