//! Flow control: what a queue allows ([`QueueLimits`], paused or not) and what a job
//! carries for it ([`JobFlow`]: its limit key). Both are enforced by the store when it
//! hands out jobs, so they hold across every worker process.

use std::time::Duration;

use super::record::RunAt;

/// Longest limit key a job may carry, in bytes.
pub const MAX_LIMIT_KEY_LEN: usize = 256;

/// Longest uniqueness key, in bytes. A key made from a job's arguments that would be
/// longer is shortened to the job's name and a 128-bit hash of its arguments.
pub const MAX_UNIQUE_KEY_LEN: usize = 512;

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
    /// At most one job of the queue holds this uniqueness key at a time.
    pub unique: Option<Unique>,
}

/// A job that must not be stored twice: at most one job of its queue holds `key` at a
/// time, for as long as `hold` says; an enqueue that finds the key held does what
/// `on_conflict` says. Enforced by the store in the same step as the insert, so it holds
/// across processes.
///
/// ```
/// use std::time::Duration;
/// use jobs_core::{OnConflict, Unique};
///
/// // One format of a disk waiting at a time: a second request is refused.
/// let once = Unique::while_waiting();
/// // A refresh of a host's inventory at most every 10 minutes, pushed back by each request.
/// let debounced = Unique::for_period(Duration::from_secs(600))
///     .key("inventory:node-7")
///     .on_conflict(OnConflict::Debounce);
/// assert_eq!(debounced.key.as_deref(), Some("inventory:node-7"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unique {
    /// The key; `None`: the job's name and arguments ([`Unique::key_for`]).
    pub key: Option<String>,
    /// How long the job holds the key.
    pub hold: UniqueFor,
    /// What an enqueue that finds the key held does.
    pub on_conflict: OnConflict,
}

/// How long a unique job holds its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UniqueFor {
    /// While it waits (ready or scheduled): once it starts, the same job may be
    /// enqueued again.
    Waiting,
    /// While it waits or runs: until it ends.
    WaitingOrRunning,
    /// For this long after the enqueue, whatever happens to the job.
    Period(Duration),
}

/// What an enqueue does when its uniqueness key is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnConflict {
    /// Refused: [`EnqueueError::Duplicate`](crate::EnqueueError::Duplicate) names the
    /// job holding the key.
    #[default]
    Reject,
    /// The job holding the key is cancelled if it still waits, and the new one stored in
    /// its place; refused as for `Reject` if it is already running.
    Replace,
    /// The job holding the key stays (with its arguments) and takes the new one's run-at
    /// (a delay pushed back by every request); refused as for `Reject` if it is already
    /// running. The enqueue answers the kept job's id.
    Debounce,
}

impl Unique {
    /// Held while the job waits; conflicts rejected.
    pub fn while_waiting() -> Self {
        Unique::new(UniqueFor::Waiting)
    }

    /// Held until the job ends; conflicts rejected.
    pub fn until_done() -> Self {
        Unique::new(UniqueFor::WaitingOrRunning)
    }

    /// Held for `period` after the enqueue; conflicts rejected.
    pub fn for_period(period: Duration) -> Self {
        Unique::new(UniqueFor::Period(period))
    }

    /// Held as `hold` says, the key made from the job's name and arguments; conflicts
    /// rejected.
    pub fn new(hold: UniqueFor) -> Self {
        Unique {
            key: None,
            hold,
            on_conflict: OnConflict::Reject,
        }
    }

    /// Uses `key` instead of the job's name and arguments.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// What an enqueue that finds the key held does.
    pub fn on_conflict(mut self, on_conflict: OnConflict) -> Self {
        self.on_conflict = on_conflict;
        self
    }

    /// The key of a job named `name` with serialized arguments `payload`: both, as they
    /// are, or, beyond [`MAX_UNIQUE_KEY_LEN`], the name and a 128-bit hash of the
    /// arguments (FNV-1a: stable across builds and platforms).
    ///
    /// ```
    /// assert_eq!(jobs_core::Unique::key_for("ping", br#"{"host":"a"}"#), r#"ping:{"host":"a"}"#);
    /// ```
    pub fn key_for(name: &str, payload: &[u8]) -> String {
        if name.len() + 1 + payload.len() <= MAX_UNIQUE_KEY_LEN
            && let Ok(args) = std::str::from_utf8(payload)
        {
            return format!("{name}:{args}");
        }
        let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
        for b in payload {
            h ^= u128::from(*b);
            h = h.wrapping_mul(0x0000000001000000000000000000013b);
        }
        format!("{name}:#{h:032x}")
    }

    fn validate(&self) -> Result<(), InvalidFlow> {
        match &self.key {
            Some(key) if key.is_empty() => return Err(InvalidFlow::EmptyKey),
            Some(key) if key.len() > MAX_UNIQUE_KEY_LEN => {
                return Err(InvalidFlow::KeyTooLong(key.len()));
            }
            _ => {}
        }
        if let UniqueFor::Period(p) = self.hold
            && p < Duration::from_millis(1)
        {
            return Err(InvalidFlow::ZeroWindow(p));
        }
        Ok(())
    }
}

impl JobFlow {
    /// Refuses a limit key that is empty or longer than [`MAX_LIMIT_KEY_LEN`], and a
    /// uniqueness key that is empty or longer than [`MAX_UNIQUE_KEY_LEN`].
    pub fn validate(&self) -> Result<(), InvalidFlow> {
        if let Some(unique) = &self.unique {
            unique.validate()?;
        }
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
    /// A limit key longer than [`MAX_LIMIT_KEY_LEN`] (or a uniqueness key longer than
    /// [`MAX_UNIQUE_KEY_LEN`]).
    #[error(
        "a key of {0} bytes is longer than allowed ({MAX_LIMIT_KEY_LEN} for a limit key, {MAX_UNIQUE_KEY_LEN} for a uniqueness key)"
    )]
    KeyTooLong(usize),
    /// A unique job in a batch: a batch counts each member it opened with, so a member
    /// must not be merged into another job.
    #[error("a batch member cannot be unique")]
    UniqueInBatch,
}
