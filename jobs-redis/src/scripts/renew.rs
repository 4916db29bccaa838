//! `renew.lua`: extend the leases still held by their tokens.

use jobs_core::BackendError;
use jobs_core::backend::{Lease, LeaseStatus};

use super::QueueKeys;
use crate::conn::Conn;
use crate::{error, reply};

super::script!("renew", AllowOom, Queue);

/// Renews `leases` (all of `k`'s queue, at most a chunk) for `lease_ms`: one status per
/// lease, in order.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    lease_ms: u64,
    leases: impl Iterator<Item = &Lease>,
) -> Result<Vec<LeaseStatus>, BackendError> {
    let mut call = SCRIPT.on_queue(k);
    call.arg(lease_ms);
    for lease in leases {
        call.arg(lease.id.to_string()).arg(lease.token);
    }
    let reply = call.invoke_async(conn).await.map_err(error::map)?;
    reply::array(reply)?
        .iter()
        .map(|v| {
            // HELD: the new lease end (> 0); CANCEL: its negative; STALE = 0.
            let expires = reply::int(v)?;
            Ok(match expires {
                e if e > 0 => LeaseStatus::Held {
                    expires_at_ms: e as u64,
                },
                e if e < 0 => LeaseStatus::CancelRequested {
                    expires_at_ms: e.unsigned_abs(),
                },
                _ => LeaseStatus::Stale,
            })
        })
        .collect()
}
