//! What a job returns when it fails: retry, give up, or run again later.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::store::error::BoxError;

/// The error a job returns. Decides what happens next: retry, give up, or run again later.
///
/// Any error type (and `&str`/`String`) converts into a retryable `JobError`, so `?` works
/// in job functions:
///
/// ```
/// use jobs_core::{JobError, JobErrorKind};
/// use std::time::Duration;
///
/// fn parse(s: &str) -> Result<u32, JobError> {
///     Ok(s.parse::<u32>()?) // retried with backoff if it fails
/// }
/// assert!(matches!(parse("x").unwrap_err().kind(), JobErrorKind::Retry { after: None }));
///
/// let e = JobError::permanent("disk is not empty"); // no retry: straight to dead
/// assert_eq!(e.kind(), JobErrorKind::Permanent);
///
/// let e = JobError::snooze(Duration::from_secs(30)); // run again later, not a failure
/// assert_eq!(e.kind(), JobErrorKind::Snooze { after: Duration::from_secs(30) });
/// ```
pub struct JobError {
    kind: JobErrorKind,
    source: Option<BoxError>,
}

/// What the worker does with a [`JobError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobErrorKind {
    /// A failed attempt: retry after the job's backoff (or `after`) until `max_attempts`.
    Retry {
        /// Overrides the backoff policy for this retry.
        after: Option<Duration>,
    },
    /// A failure that retrying cannot fix: the job goes to dead at once.
    Permanent,
    /// Not a failure: run again after `after`, without using up an attempt.
    Snooze {
        /// How long to wait before the next run.
        after: Duration,
    },
    /// Not a failure: what the job calls said "too many requests". Like `Snooze`, and
    /// the jobs with the same limit key wait as long.
    RateLimited {
        /// How long to wait before the next run.
        after: Duration,
    },
}

impl JobError {
    /// A retryable failure (the same as `JobError::from(err)`).
    pub fn retry(err: impl Into<BoxError>) -> Self {
        JobError {
            kind: JobErrorKind::Retry { after: None },
            source: Some(err.into()),
        }
    }

    /// A retryable failure whose next attempt waits `after` instead of the backoff delay.
    pub fn retry_after(err: impl Into<BoxError>, after: Duration) -> Self {
        JobError {
            kind: JobErrorKind::Retry { after: Some(after) },
            source: Some(err.into()),
        }
    }

    /// A failure that must not be retried: the job goes to dead with this error.
    pub fn permanent(err: impl Into<BoxError>) -> Self {
        JobError {
            kind: JobErrorKind::Permanent,
            source: Some(err.into()),
        }
    }

    /// Asks to run the job again after `after`, without counting a failed attempt.
    pub fn snooze(after: Duration) -> Self {
        JobError {
            kind: JobErrorKind::Snooze { after },
            source: None,
        }
    }

    /// Rate limited (an HTTP 429 from the service the job calls, say): run again after
    /// `after` without using up an attempt, and hold back every other job with the same
    /// limit key ([`Job::limit_key`](crate::Job::limit_key)) until then too, on every
    /// worker, so they do not hit the same limit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use jobs_core::{job, JobError};
    ///
    /// #[job(limit_key = "rack")]
    /// async fn power_cycle(rack: String, host: String) -> Result<(), JobError> {
    ///     let status = 429; // what the rack's management API answered
    ///     if status == 429 {
    ///         return Err(JobError::rate_limited(Duration::from_secs(5)));
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn rate_limited(after: Duration) -> Self {
        JobError {
            kind: JobErrorKind::RateLimited { after },
            source: None,
        }
    }

    /// What happens next.
    pub fn kind(&self) -> JobErrorKind {
        self.kind
    }

    /// The underlying error, if any.
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// The error and its causes, joined by `": "`: what is stored on the job record.
    ///
    /// ```
    /// let e = jobs_core::JobError::from(std::io::Error::other("connection reset"));
    /// assert_eq!(e.chain(), "connection reset");
    /// ```
    pub fn chain(&self) -> String {
        let Some(top) = self.source.as_deref() else {
            return match self.kind {
                JobErrorKind::Snooze { after } => format!("snoozed for {after:?}"),
                _ => "unknown error".to_owned(),
            };
        };
        let mut out = top.to_string();
        let mut next = top.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            // Many errors repeat their source in their own message; skip the echo.
            if !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = cause.source();
        }
        out
    }
}

impl<E> From<E> for JobError
where
    E: Into<BoxError>,
{
    fn from(err: E) -> Self {
        JobError::retry(err)
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain())
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobError")
            .field("kind", &self.kind)
            .field("error", &self.chain())
            .finish()
    }
}
