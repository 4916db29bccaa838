//! The words a job's events and errors carry when the store, not the job, decides its
//! fate: the same on every store. The Redis backend hands these very values to its Lua
//! scripts, so they are written here once.
//!
//! ```
//! use jobs_core::reason;
//! assert_eq!(
//!     reason::stalled(3, 2, 5),
//!     "lease expired 3 time(s): the worker running the job crashed or stalled (attempt 2 of 5)"
//! );
//! ```

/// The reason of a `Retrying` event after an attempt returned an error.
pub const ATTEMPT_FAILED: &str = "attempt failed";
/// The reason of a `Retrying` event after a lease expired (the job goes back to ready).
pub const LEASE_EXPIRED: &str = "lease expired";
/// The error a cancelled job keeps.
pub const CANCELLED: &str = "cancelled";
/// The reason a job is dead after its leases expired too often, as a `printf` template
/// (`%d` = stalls, attempt, attempts allowed): Lua's `string.format` reads it as it is;
/// [`stalled`] fills it in Rust.
pub const STALLED_TEMPLATE: &str =
    "lease expired %d time(s): the worker running the job crashed or stalled (attempt %d of %d)";

/// The reason a job ended as expired: it was still waiting at its deadline ([`JobFlow::expires`](crate::JobFlow::expires)),
/// as a `printf` template (`%d` = the deadline, ms since the Unix epoch); [`expired`]
/// fills it in Rust.
pub const EXPIRED_TEMPLATE: &str =
    "expired: not started by its deadline (%d ms since the Unix epoch)";

/// The reason a job ended as expired, its deadline `at` (ms since the Unix epoch).
///
/// ```
/// assert_eq!(
///     jobs_core::reason::expired(1_700_000_000_000),
///     "expired: not started by its deadline (1700000000000 ms since the Unix epoch)"
/// );
/// ```
pub fn expired(at: u64) -> String {
    EXPIRED_TEMPLATE.replacen("%d", &at.to_string(), 1)
}

/// The reason a job is dead after its lease expired `stalls` times (attempt `attempt` of
/// `max_attempts`).
pub fn stalled(stalls: u32, attempt: u32, max_attempts: u32) -> String {
    let mut values = [stalls, attempt, max_attempts].into_iter();
    let mut out = String::with_capacity(STALLED_TEMPLATE.len() + 8);
    let mut parts = STALLED_TEMPLATE.split("%d");
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for part in parts {
        if let Some(v) = values.next() {
            out.push_str(&v.to_string());
        }
        out.push_str(part);
    }
    out
}

/// Why [`Backend::purge`](crate::Backend::purge) refuses running jobs
/// ([`BackendError::Refused`](crate::BackendError::Refused)), on every store.
pub const PURGE_ACTIVE: &str =
    "running jobs cannot be purged: cancel them, then purge or delete them once ended";
