//! How long finished jobs are kept, and how often a job may stall: store-wide limits
//! every backend applies the same way.

use std::time::Duration;

/// Bounds on what a backend keeps after jobs finish, so memory does not grow forever.
///
/// Applied per queue, as jobs finish (in bounded slices: a finish never does unbounded
/// work).
///
/// ```
/// use std::time::Duration;
/// use jobs_core::Retention;
///
/// let r = Retention::DEFAULT.succeeded(1_000, Duration::from_secs(600));
/// assert_eq!(r.succeeded_max, 1_000);
/// assert_eq!(Retention::DEFAULT.dead_max, 10_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Most succeeded jobs kept per queue (0 deletes them at once). Default: 10,000.
    pub succeeded_max: u64,
    /// Longest a succeeded job is kept. Default: 24 hours.
    pub succeeded_max_age: Duration,
    /// Most dead jobs kept per queue; the oldest are deleted first. Default: 10,000.
    pub dead_max: u64,
    /// Longest a dead job is kept. Default: 30 days.
    pub dead_max_age: Duration,
}

impl Retention {
    /// The defaults listed on each field.
    pub const DEFAULT: Retention = Retention {
        succeeded_max: 10_000,
        succeeded_max_age: Duration::from_secs(24 * 3600),
        dead_max: 10_000,
        dead_max_age: Duration::from_secs(30 * 24 * 3600),
    };

    /// Sets the bounds for succeeded jobs.
    pub const fn succeeded(mut self, max: u64, max_age: Duration) -> Self {
        self.succeeded_max = max;
        self.succeeded_max_age = max_age;
        self
    }

    /// Sets the bounds for dead jobs.
    pub const fn dead(mut self, max: u64, max_age: Duration) -> Self {
        self.dead_max = max;
        self.dead_max_age = max_age;
        self
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::DEFAULT
    }
}

/// Default for how many times a job's lease may expire before the job is dead: a job that
/// kills its worker must not loop forever.
pub const DEFAULT_MAX_STALLS: u32 = 5;

/// Most scheduled jobs one reservation promotes, and most expired leases it recovers:
/// every step works on a bounded slice, and the next call takes the rest.
pub const PROMOTE_BATCH: usize = 1_000;
/// See [`PROMOTE_BATCH`].
pub const RECOVER_BATCH: usize = 100;
/// Most finished jobs one finish call trims for age.
pub const TRIM_BATCH: usize = 100;
