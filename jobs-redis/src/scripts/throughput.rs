//! `throughput.lua`: one queue's ended jobs per minute.

use jobs_core::{BackendError, MinuteCounts};
use redis::Value;

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;
use crate::reply;

super::script!("throughput", ReadOnly, Queue);

/// The last `minutes` minutes' counts (the caller bounds it), oldest first.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    minutes: u32,
) -> Result<Vec<MinuteCounts>, BackendError> {
    let reply: Value = SCRIPT
        .on_queue(k)
        .arg(minutes)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    let values = reply::array(reply)?;
    let Some((current, counts)) = values.split_first() else {
        return Err(error::corrupt("an empty throughput reply"));
    };
    let current = reply::uint(current)?;
    let first = (current + 1).saturating_sub(counts.len() as u64 / 3);
    counts
        .chunks(3)
        .zip(first..)
        .map(|(triple, minute)| {
            let [s, f, x] = triple else {
                return Err(error::corrupt("a throughput reply cut short"));
            };
            let mut counts = MinuteCounts::new(minute * 60_000, reply::uint(s)?, reply::uint(f)?);
            counts.stalled = reply::uint(x)?;
            Ok(counts)
        })
        .collect()
}
