//! `set_flow.lua`: change a queue's flow control (its limits, or paused), and read it.

use std::time::Duration;

use jobs_core::{BackendError, QueueLimits, Rate};

use super::{QueueKeys, ms};
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
            let arg = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            let window =
                |r: Option<Rate>| (arg(r.map(|r| r.starts.into())), arg(r.map(|r| ms(r.per))));
            let (rate, rate_ms) = window(limits.rate);
            let (key_rate, key_rate_ms) = window(limits.per_key_rate);
            call.arg("limits")
                .arg(arg(limits.concurrency.map(u64::from)))
                .arg(arg(limits.per_key.map(u64::from)))
                .arg(rate)
                .arg(rate_ms)
                .arg(key_rate)
                .arg(key_rate_ms);
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
    let fields: [Option<String>; 6] = redis::cmd("HMGET")
        .arg(&k.flow)
        .arg(&[
            "concurrency",
            "per_key",
            "rate",
            "rate_ms",
            "key_rate",
            "key_rate_ms",
        ])
        .query_async(conn)
        .await
        .map_err(error::map)?;
    let count = |i: usize| {
        fields[i]
            .as_deref()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|n| *n > 0)
    };
    let rate = |i: usize| {
        let per = fields[i + 1].as_deref().and_then(|v| v.parse::<u64>().ok());
        match (count(i), per) {
            (Some(starts), Some(per)) if per > 0 => {
                Some(Rate::new(starts, Duration::from_millis(per)))
            }
            _ => None,
        }
    };
    let mut limits = QueueLimits::new();
    limits.concurrency = count(0);
    limits.per_key = count(1);
    limits.rate = rate(2);
    limits.per_key_rate = rate(4);
    Ok(limits)
}
