//! `batch_pause.lua`: mark a batch paused or resumed (then applied on each queue its
//! members sit on: `set_batch_pause`).

use jobs_core::BackendError;
use redis::Value;

use super::BatchKeys;
use crate::conn::Conn;
use crate::{error, reply};

super::script!("batch_pause", Writes, Batch);

pub(crate) fn what(paused: bool) -> &'static str {
    if paused { "pause" } else { "resume" }
}

/// Marks the batch; the queues its members sit on, `None` for a batch never opened.
pub(crate) async fn mark(
    conn: &mut Conn,
    bk: &BatchKeys,
    paused: bool,
) -> Result<Option<Vec<String>>, BackendError> {
    let reply: Value = SCRIPT
        .on_batch(bk)
        .arg(what(paused))
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    if reply == Value::Nil {
        return Ok(None);
    }
    reply::array(reply)?
        .into_iter()
        .map(reply::string)
        .collect::<Result<_, _>>()
        .map(Some)
}
