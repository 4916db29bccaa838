//! `set_flow.lua`: change a queue's flow control (its limits, or paused), and read it.

use jobs_core::{BackendError, QueueLimits};

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;

super::script!("set_flow", Writes, Queue);

/// A change of a queue's flow control.
pub(crate) enum Change {
    /// New limits, replacing the old ones (already validated).
    Limits(QueueLimits),
    /// Paused (`true`) or resumed.
    Paused(bool),
}

/// Applies `change` to `k`'s queue.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    change: Change,
) -> Result<(), BackendError> {
    let mut call = SCRIPT.on_queue(k);
    match change {
        Change::Limits(limits) => {
            let arg = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
            call.arg("limits")
                .arg(arg(limits.concurrency))
                .arg(arg(limits.per_key));
        }
        Change::Paused(true) => {
            call.arg("pause");
        }
        Change::Paused(false) => {
            call.arg("resume");
        }
    }
    call.invoke_async::<()>(conn).await.map_err(error::map)
}

/// `k`'s queue's limits as stored. A value that is not a positive count (edited by hand)
/// reads as no limit, as the scripts read it.
pub(crate) async fn limits(conn: &mut Conn, k: &QueueKeys) -> Result<QueueLimits, BackendError> {
    let (concurrency, per_key): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(&k.flow)
        .arg("concurrency")
        .arg("per_key")
        .query_async(conn)
        .await
        .map_err(error::map)?;
    let count = |v: Option<String>| v.and_then(|v| v.parse().ok()).filter(|n| *n > 0);
    let mut limits = QueueLimits::new();
    limits.concurrency = count(concurrency);
    limits.per_key = count(per_key);
    Ok(limits)
}
