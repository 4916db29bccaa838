//! `batch_confirm.lua`: the callbacks of a complete batch are enqueued; it is finished.

use std::sync::LazyLock;

use jobs_core::BackendError;

use super::{BATCH_KEYS, BatchKeys, Flags, Libs, Lua, batch_keys};
use crate::conn::Conn;
use crate::error;

pub(crate) static SCRIPT: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        "batch_confirm",
        Flags::AllowOom,
        Libs::Batch,
        include_str!("../../lua/batch_confirm.lua"),
        BATCH_KEYS,
    )
});

/// Marks the batch finished; it stays readable for `keep_ms`.
pub(crate) async fn call(
    conn: &mut Conn,
    bk: &BatchKeys,
    keep_ms: u64,
) -> Result<(), BackendError> {
    let _: i64 = SCRIPT
        .call(batch_keys(bk))
        .arg(keep_ms)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(())
}
