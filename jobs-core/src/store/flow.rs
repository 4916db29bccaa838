//! Flow control: what a queue allows ([`QueueLimits`], paused or not) and what a job
//! carries for it ([`JobFlow`]: its limit key). Both are enforced by the store when it
//! hands out jobs, so they hold across every worker process.

use std::time::Duration;

use super::record::RunAt;

/// Longest limit key a job may carry, in bytes.
pub const MAX_LIMIT_KEY_LEN: usize = 256;

/// How many jobs of a queue may start or run at once, across every worker of the fleet.
///
/// Stored with the queue (so every worker obeys the same limits, and they survive
/// restarts) by [`Client::set_limits`](crate::Client::set_limits) or a worker built with
/// [`WorkerBuilder::limits`](crate::WorkerBuilder::limits). Each limit is off unless set.
///
/// ```
/// use std::time::Duration;
/// use jobs_core::{QueueLimits, Rate};
///
/// // At most 50 formats across the fleet, one at a time per host, and at most 10 starts
/// // per second per host (its management network).
/// let limits = QueueLimits::new()
///     .concurrency(50)
///     .per_key(1)
///     .per_key_rate(Rate::new(10, Duration::from_secs(1)));
/// assert!(limits.validate().is_ok());
/// assert!(QueueLimits::new().concurrency(0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueLimits {
    /// At most this many jobs of the queue run at once.
    pub concurrency: Option<u32>,
    /// At most this many jobs with the same limit key ([`JobFlow::key`]) run at once.
    pub per_key: Option<u32>,
    /// At most so many jobs of the queue start per window.
    pub rate: Option<Rate>,
    /// At most so many jobs with the same limit key start per window.
    pub per_key_rate: Option<Rate>,
}

/// At most `starts` jobs start in any window of `per` (a sliding window on the store's
/// clock: exact, not a fixed window that allows twice the rate across its boundary).
///
/// ```
/// use std::time::Duration;
/// use jobs_core::Rate;
/// let r = Rate::new(100, Duration::from_secs(60));
/// assert_eq!((r.starts, r.per), (100, Duration::from_secs(60)));
/// assert_eq!(Rate::per_second(5), Rate::new(5, Duration::from_secs(1)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rate {
    /// Starts allowed per window, at least 1.
    pub starts: u32,
    /// The window, at least 1 ms (kept to the millisecond).
    pub per: Duration,
}

impl Rate {
    /// At most `starts` starts in any window of `per`.
    pub const fn new(starts: u32, per: Duration) -> Self {
        Rate { starts, per }
    }

    /// At most `starts` starts in any second.
    pub const fn per_second(starts: u32) -> Self {
        Rate::new(starts, Duration::from_secs(1))
    }

    fn validate(&self, what: &'static str) -> Result<(), InvalidFlow> {
        if self.starts == 0 {
            return Err(InvalidFlow::ZeroLimit(what));
        }
        if self.per < Duration::from_millis(1) {
            return Err(InvalidFlow::ZeroWindow(self.per));
        }
        Ok(())
    }
}

impl QueueLimits {
    /// No limits.
    pub const fn new() -> Self {
        QueueLimits {
            concurrency: None,
            per_key: None,
            rate: None,
            per_key_rate: None,
        }
    }

    /// At most `n` jobs of the queue run at once, across every worker.
    pub const fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = Some(n);
        self
    }

    /// At most `n` jobs with the same limit key run at once, across every worker.
    pub const fn per_key(mut self, n: u32) -> Self {
        self.per_key = Some(n);
        self
    }

    /// At most `rate.starts` jobs of the queue start in any window of `rate.per`.
    pub const fn rate(mut self, rate: Rate) -> Self {
        self.rate = Some(rate);
        self
    }

    /// At most `rate.starts` jobs with the same limit key start in any window of
    /// `rate.per`.
    pub const fn per_key_rate(mut self, rate: Rate) -> Self {
        self.per_key_rate = Some(rate);
        self
    }

    /// Refuses limits that would stop the queue for good (a limit of 0: pause the queue
    /// instead) and rate windows under 1 ms.
    pub fn validate(&self) -> Result<(), InvalidFlow> {
        if self.concurrency == Some(0) {
            return Err(InvalidFlow::ZeroLimit("concurrency"));
        }
        if self.per_key == Some(0) {
            return Err(InvalidFlow::ZeroLimit("per_key"));
        }
        if let Some(rate) = &self.rate {
            rate.validate("rate")?;
        }
        if let Some(rate) = &self.per_key_rate {
            rate.validate("per_key_rate")?;
        }
        Ok(())
    }
}

/// The flow control one job carries (see [`NewJob`](crate::backend::NewJob)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct JobFlow {
    /// The job's limit key (a host name, say): at most the queue's
    /// [`QueueLimits::per_key`] jobs with the same key run at once. Jobs over the limit
    /// wait without holding up the jobs behind them.
    pub key: Option<String>,
    /// Do not start after this instant: a job still waiting then ends as
    /// [`JobState::Expired`](crate::JobState::Expired), with the reason, when a worker
    /// would next have taken it. [`RunAt::After`] counts from the enqueue, on the store's
    /// clock.
    pub expires: Option<RunAt>,
}

impl JobFlow {
    /// Refuses a limit key that is empty or longer than [`MAX_LIMIT_KEY_LEN`].
    pub fn validate(&self) -> Result<(), InvalidFlow> {
        if let Some(key) = &self.key {
            if key.is_empty() {
                return Err(InvalidFlow::EmptyKey);
            }
            if key.len() > MAX_LIMIT_KEY_LEN {
                return Err(InvalidFlow::KeyTooLong(key.len()));
            }
        }
        Ok(())
    }
}

/// Flow-control settings a store refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidFlow {
    /// A limit of 0 would never let a job start; pause the queue instead.
    #[error("a `{0}` limit of 0 never lets a job start; pause the queue instead")]
    ZeroLimit(&'static str),
    /// A rate limit over no time at all.
    #[error("a rate limit's window must be at least 1 ms, not {0:?}")]
    ZeroWindow(Duration),
    /// An empty limit key.
    #[error("a limit key must not be empty")]
    EmptyKey,
    /// A limit key longer than [`MAX_LIMIT_KEY_LEN`].
    #[error("a limit key of {0} bytes is longer than the {MAX_LIMIT_KEY_LEN} allowed")]
    KeyTooLong(usize),
}
