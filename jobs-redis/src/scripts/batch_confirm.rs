//! `batch_confirm.lua`: the callbacks of a complete batch are enqueued; it is finished.

use jobs_core::BackendError;

use super::BatchKeys;
use crate::conn::Conn;
use crate::error;

super::script!("batch_confirm", AllowOom, Batch);

/// Marks the batch finished; it stays readable for `keep_ms`.
pub(crate) async fn call(
    conn: &mut Conn,
    bk: &BatchKeys,
    keep_ms: u64,
) -> Result<(), BackendError> {
    let _: i64 = SCRIPT
        .on_batch(bk)
        .arg(keep_ms)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(())
}
