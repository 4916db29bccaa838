//! `reserve.lua`: lease up to N ready jobs of one queue (after making due scheduled jobs
//! ready and recovering expired leases, each in a bounded slice).

use std::time::Duration;

use jobs_core::backend::{Lease, Reserved};
use jobs_core::{BackendError, JobId, PROMOTE_BATCH, RECOVER_BATCH};

use super::{QueueKeys, Settings, ms};
use crate::conn::Conn;
use crate::error;
use crate::record::{self, Record};
use crate::reply::{self, take};

super::script!("reserve", AllowOom, Queue);

/// One leased job as the script handed it out.
pub(crate) struct Leased {
    /// The id exactly as stored: a job the worker cannot use goes back to finish by it.
    pub raw_id: Vec<u8>,
    pub token: u64,
    /// The job, or why the worker cannot use it (its id or its record cannot be read).
    pub job: Result<(JobId, Record), String>,
}

/// What one reservation answered.
pub(crate) struct Reply {
    /// When nothing was leased: ms until the earliest scheduled run-at, lease end or
    /// outbox entry, `None` if there is none.
    pub next_in_ms: Option<u64>,
    /// Ids of ready entries whose record was missing (taken out of ready).
    pub skipped: Vec<String>,
    /// The lease end of every job leased by this call.
    pub lease_end: u64,
    /// Outbox entries due (batch work for the caller).
    pub outbox: u64,
    pub leased: Vec<Leased>,
}

impl Reply {
    /// Appends the jobs the worker can use to `out`, as reservations from `queue`, and
    /// returns the others, (raw id, token, why), for finish to move to dead: each costs
    /// only itself, the others of the reply run.
    pub(crate) fn split(
        &mut self,
        queue: &str,
        out: &mut Vec<Reserved>,
    ) -> Vec<(Vec<u8>, u64, String)> {
        let mut unusable = Vec::new();
        for leased in self.leased.drain(..) {
            match leased.job {
                // The record counts the deliveries that ended; this one is added here.
                Ok((id, rec)) => out.push(Reserved {
                    lease: Lease {
                        queue: queue.to_owned(),
                        id,
                        token: leased.token,
                        expires_at_ms: self.lease_end,
                        batch: rec.batch,
                    },
                    batch: rec.batch,
                    name: rec.name,
                    payload: rec.payload,
                    attempt: rec.attempts + 1,
                    max_attempts: rec.max_attempts,
                    deliveries: rec.deliveries + 1,
                }),
                Err(why) => unusable.push((leased.raw_id, leased.token, why)),
            }
        }
        unusable
    }
}

/// Leases at most `max` jobs of `k`'s queue for `lease_for`.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    max: usize,
    lease_for: Duration,
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
    let mut leased = Vec::with_capacity(it.len() / 3);
    while let Ok([id, raw, token]) = take::<3>(&mut it) {
        let raw_id = reply::bytes(id)?;
        let token = reply::uint(&token)?;
        let job = parse_id(&raw_id).and_then(|id| {
            record::decode(&reply::bytes(raw).map_err(|e| e.to_string())?)
                .map(|rec| (id, rec))
                .map_err(|why| format!("the job record cannot be read: {why}"))
        });
        leased.push(Leased { raw_id, token, job });
    }
    Ok(Reply {
        next_in_ms: u64::try_from(reply::int(&next_in)?).ok(),
        skipped: reply::array(skipped)?
            .into_iter()
            .map(reply::string)
            .collect::<Result<_, _>>()?,
        lease_end: reply::uint(&lease_end)?,
        outbox: reply::uint(&outbox)?,
        leased,
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
