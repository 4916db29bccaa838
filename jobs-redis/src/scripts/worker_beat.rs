//! `worker_beat.lua`: register, refresh or remove a live worker.

use std::time::Duration;

use jobs_core::{BackendError, WorkerInfo};

use super::StoreKeys;
use crate::conn::Conn;
use crate::error;

super::script!("worker_beat", Writes, Store);

/// Registers `info` for `ttl`, or removes worker `id` (`info` `None`).
pub(crate) async fn call(
    conn: &mut Conn,
    sk: &StoreKeys,
    id: &str,
    info: Option<&WorkerInfo>,
    ttl: Duration,
) -> Result<(), BackendError> {
    let json = match info {
        Some(info) => serde_json::to_string(info)
            .map_err(|e| BackendError::Other(format!("worker registration: {e}").into()))?,
        None => String::new(),
    };
    let _: i64 = SCRIPT
        .on_workers(sk)
        .arg(id)
        .arg(json)
        .arg(super::ms(ttl))
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    Ok(())
}
