//! `reserve.lua`: lease up to N ready jobs of one queue (after making due scheduled jobs
//! ready and recovering expired leases, each in a bounded slice).

use std::time::Duration;

use jobs_core::backend::{Lease, Reserved};
use jobs_core::{BackendError, JobId, PROMOTE_BATCH, RECOVER_BATCH};
use redis::Value;

use super::{QueueKeys, Settings, ms};
use crate::conn::Conn;
use crate::error;
use crate::record;
use crate::reply::{self, take};

super::script!("reserve", AllowOom, Queue);

/// What one reservation answered, besides the jobs (which go straight to the caller's
/// list, so that jobs decoded before a malformed entry still reach the worker).
pub(crate) struct Reply {
    /// Ids of ready entries whose record was missing (taken out of ready).
    pub skipped: Vec<String>,
    /// Jobs the worker cannot use (their id or record cannot be read): (id as stored,
    /// token, why), for finish to move to dead. Each costs only itself.
    pub unusable: Vec<(Vec<u8>, u64, String)>,
    next_in: Value,
    outbox: Value,
}

impl Reply {
    /// When nothing was leased: ms until the earliest scheduled run-at, lease end or
    /// outbox entry, `None` if there is none. (Read only then.)
    pub(crate) fn next_in_ms(&self) -> Result<Option<u64>, BackendError> {
        Ok(u64::try_from(reply::int(&self.next_in)?).ok())
    }

    /// Outbox entries due (batch work for the caller).
    pub(crate) fn outbox(&self) -> Result<u64, BackendError> {
        reply::uint(&self.outbox)
    }
}

/// Leases at most `max` jobs of `k`'s queue (`queue`) for `lease_for`, appending the jobs
/// the worker can use to `out`.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    queue: &str,
    (max, lease_for): (usize, Duration),
    out: &mut Vec<Reserved>,
) -> Result<Reply, BackendError> {
    let reply = SCRIPT
        .on_queue(k)
        .arg(max)
        .arg(ms(lease_for))
        .arg(PROMOTE_BATCH)
        .arg(RECOVER_BATCH)
        .arg(&settings.recovery_args()[..])
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    let mut it = reply::array(reply)?.into_iter();
    let [next_in, skipped, lease_end, outbox] = take::<4>(&mut it)?;
    let skipped = reply::array(skipped)?
        .into_iter()
        .map(reply::string)
        .collect::<Result<_, _>>()?;
    let expires_at_ms = reply::uint(&lease_end)?;
    let mut unusable = Vec::new();
    while let Ok([id, raw, token]) = take::<3>(&mut it) {
        // Kept as bytes: the id goes back to finish exactly as stored, whatever it is.
        let raw_id = reply::bytes(id)?;
        let token = reply::uint(&token)?;
        let id = match parse_id(&raw_id) {
            Ok(id) => id,
            Err(why) => {
                unusable.push((raw_id, token, why));
                continue;
            }
        };
        match record::decode(&reply::bytes(raw)?) {
            // The record counts the deliveries that ended; this one is added here.
            Ok(rec) => out.push(Reserved {
                lease: Lease {
                    queue: queue.to_owned(),
                    id,
                    token,
                    expires_at_ms,
                    batch: rec.batch,
                    limit_key: rec.limit_key,
                },
                batch: rec.batch,
                name: rec.name,
                payload: rec.payload,
                attempt: rec.attempts + 1,
                max_attempts: rec.max_attempts,
                deliveries: rec.deliveries + 1,
            }),
            Err(why) => {
                let why = format!("the job record cannot be read: {why}");
                unusable.push((raw_id, token, why));
            }
        }
    }
    Ok(Reply {
        skipped,
        unusable,
        next_in,
        outbox,
    })
}

/// A stored id as a [`JobId`]. Renewals and outcomes name the job by its canonical form
/// (36 characters, lower case): a job stored under another spelling could never be
/// renewed or finished. Checked without formatting the id again (hot path).
fn parse_id(raw: &[u8]) -> Result<JobId, String> {
    match std::str::from_utf8(raw) {
        Ok(text) => match text.parse::<JobId>() {
            Ok(id) if text.len() == 36 && !text.bytes().any(|b| b.is_ascii_uppercase()) => Ok(id),
            Ok(_) => Err(format!(
                "job id {text:?} is not in canonical form (lower-case, hyphenated UUID): written outside the framework?"
            )),
            Err(_) => Err(format!(
                "job id {:?} is not a UUID: written outside the framework?",
                cut(text)
            )),
        },
        Err(_) => Err(format!(
            "job id {:?} is not UTF-8: written outside the framework?",
            String::from_utf8_lossy(&raw[..raw.len().min(64)])
        )),
    }
}

/// At most 64 bytes of a string from the store, for messages.
pub(crate) fn cut(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
