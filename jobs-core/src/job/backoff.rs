//! Retry delay policies: pure functions of the attempt number.

use std::time::Duration;

/// How long to wait before retrying a failed attempt.
///
/// Policies are pure: [`Backoff::delay`] depends only on the attempt number, and
/// [`Backoff::delay_with_jitter`] takes its randomness as an argument, so both can be
/// tested and reasoned about without a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backoff {
    /// `base * 2^(attempt - 1)`, capped at `max`.
    Exponential {
        /// Delay after the first failed attempt.
        base: Duration,
        /// Upper bound for any delay.
        max: Duration,
    },
    /// The same delay after every failed attempt.
    Fixed(Duration),
}

impl Backoff {
    /// The default policy: exponential from 1 second, capped at 1 hour.
    pub const DEFAULT: Backoff =
        Backoff::exponential(Duration::from_secs(1), Duration::from_secs(3600));

    /// Exponential backoff from `base`, capped at `max`.
    pub const fn exponential(base: Duration, max: Duration) -> Self {
        Backoff::Exponential { base, max }
    }

    /// A fixed delay between attempts.
    pub const fn fixed(delay: Duration) -> Self {
        Backoff::Fixed(delay)
    }

    /// The delay after failed attempt number `attempt` (1-based), without jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use jobs_core::Backoff;
    ///
    /// let b = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60));
    /// assert_eq!(b.delay(1), Duration::from_secs(1));
    /// assert_eq!(b.delay(2), Duration::from_secs(2));
    /// assert_eq!(b.delay(4), Duration::from_secs(8));
    /// assert_eq!(b.delay(7), Duration::from_secs(60)); // 64 s, capped
    /// assert_eq!(b.delay(500), Duration::from_secs(60)); // no overflow
    ///
    /// assert_eq!(Backoff::fixed(Duration::from_secs(5)).delay(9), Duration::from_secs(5));
    /// ```
    pub fn delay(&self, attempt: u32) -> Duration {
        match *self {
            Backoff::Exponential { base, max } => {
                let exp = attempt.saturating_sub(1).min(63);
                let factor = 1u64 << exp;
                let millis = (base.as_millis() as u64).saturating_mul(factor);
                Duration::from_millis(millis).min(max)
            }
            Backoff::Fixed(d) => d,
        }
    }

    /// The delay with jitter: [`Backoff::delay`] scaled by a factor between 0.75 and 1.25
    /// chosen by `unit` (a number in `0.0..=1.0`, normally random), so that jobs that
    /// failed together do not all retry at the same instant.
    ///
    /// ```
    /// use std::time::Duration;
    /// use jobs_core::Backoff;
    ///
    /// let b = Backoff::fixed(Duration::from_secs(100));
    /// assert_eq!(b.delay_with_jitter(1, 0.0), Duration::from_secs(75));
    /// assert_eq!(b.delay_with_jitter(1, 0.5), Duration::from_secs(100));
    /// assert_eq!(b.delay_with_jitter(1, 1.0), Duration::from_secs(125));
    /// // Out-of-range randomness is clamped rather than trusted.
    /// assert_eq!(b.delay_with_jitter(1, 7.0), Duration::from_secs(125));
    /// // Huge delays saturate instead of overflowing.
    /// assert_eq!(Backoff::fixed(Duration::MAX).delay_with_jitter(1, 1.0), Duration::MAX);
    /// ```
    pub fn delay_with_jitter(&self, attempt: u32, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            0.5
        } else {
            unit.clamp(0.0, 1.0)
        };
        // Saturate rather than panic for delays near `Duration::MAX`.
        Duration::try_from_secs_f64(self.delay(attempt).as_secs_f64() * (0.75 + 0.5 * unit))
            .unwrap_or(Duration::MAX)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}
