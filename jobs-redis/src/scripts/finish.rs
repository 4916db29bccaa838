//! `finish.lua`: end leases with their outcomes.

use jobs_core::BackendError;
use jobs_core::backend::{Lease, LeaseStatus, Outcome};

use super::{QueueKeys, Settings, ms};
use crate::conn::Conn;
use crate::{error, reply};

super::script!("finish", AllowOom, Queue);

/// One lease to end, as the script's seven arguments per item.
pub(crate) struct Item<'a> {
    /// The id exactly as stored (a job the worker cannot use may have any id).
    id: Vec<u8>,
    token: u64,
    kind: &'static str,
    data: &'a [u8],
    delay: String,
    batch: String,
    limit_key: &'a str,
}

impl<'a> Item<'a> {
    /// `lease` ended with `outcome`.
    pub(crate) fn new(lease: &'a Lease, outcome: &'a Outcome) -> Self {
        let (kind, data, delay) = match outcome {
            Outcome::Succeeded { result } => {
                ("ok", result.as_deref().unwrap_or_default(), String::new())
            }
            Outcome::Failed { error, retry_after } => (
                "fail",
                error.as_bytes(),
                retry_after.map(|d| ms(d).to_string()).unwrap_or_default(),
            ),
            Outcome::Snooze { after } => ("snooze", &[][..], ms(*after).to_string()),
            Outcome::RateLimited { after } => ("limited", &[][..], ms(*after).to_string()),
            _ => ("release", &[][..], String::new()),
        };
        Item {
            id: lease.id.to_string().into_bytes(),
            token: lease.token,
            kind,
            data,
            delay,
            batch: lease.batch.map(|b| b.to_string()).unwrap_or_default(),
            limit_key: lease.limit_key.as_deref().unwrap_or_default(),
        }
    }

    /// A job the worker cannot use (its id or record cannot be read): dead with `why`.
    /// Its batch and limit key, if any, are read from the record by the script.
    pub(crate) fn corrupt(id: Vec<u8>, token: u64, why: &'a str) -> Self {
        Item {
            id,
            token,
            kind: "corrupt",
            data: why.as_bytes(),
            delay: String::new(),
            batch: String::new(),
            limit_key: "",
        }
    }
}

/// What one call did.
pub(crate) struct Reply {
    /// One per item: `Held` (the outcome is recorded; the lease it was held under),
    /// `Stale` (the token is stale: nothing changed) or `Finished` (this delivery's outcome
    /// was already recorded, or the job is gone: nothing changed).
    pub statuses: Vec<LeaseStatus>,
    /// Outbox entries due when an item belonged to a batch (else 0).
    pub outbox: u64,
}

/// Ends the leases of `items` (all of `k`'s queue, at most a chunk).
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    items: impl Iterator<Item = Item<'_>>,
) -> Result<Reply, BackendError> {
    let r = settings.store.retention();
    let [dead_max, dead_age, trim] = settings.dead_args();
    let mut call = SCRIPT.on_queue(k);
    call.arg(r.succeeded_max)
        .arg(ms(r.succeeded_max_age))
        .arg(dead_max)
        .arg(dead_age)
        .arg(trim)
        .arg(settings.store.events_max_len());
    for item in items {
        call.arg(&item.id[..])
            .arg(item.token)
            .arg(item.kind)
            .arg(item.data)
            .arg(item.delay)
            .arg(item.batch)
            .arg(item.limit_key);
    }
    let reply = call.invoke_async(conn).await.map_err(error::map)?;
    let mut answers = reply::array(reply)?;
    let outbox = answers
        .pop()
        .ok_or_else(|| error::corrupt("finish: empty reply"))?;
    let statuses = answers
        .iter()
        .map(|v| {
            // The status codes named in the script's header.
            Ok(match reply::int(v)? {
                DONE => LeaseStatus::Finished,
                held if held > 0 => LeaseStatus::Held {
                    expires_at_ms: held as u64,
                },
                _ => LeaseStatus::Stale,
            })
        })
        .collect::<Result<_, BackendError>>()?;
    Ok(Reply {
        statuses,
        outbox: reply::uint(&outbox)?,
    })
}

/// The script's DONE: this delivery's outcome was already recorded.
const DONE: i64 = -1;
