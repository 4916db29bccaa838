//! The `metrics` feature is off: every recording call is an empty inline function.

use std::time::Duration;

use crate::store::backend::{Enqueued, LeaseStatus, NewJob, Outcome, Reserved};

/// Nothing to count.
pub(crate) struct Tally;

impl Tally {
    #[inline(always)]
    pub(crate) fn of(_jobs: &[NewJob]) -> Tally {
        Tally
    }

    #[inline(always)]
    pub(crate) fn all(self) {}

    #[inline(always)]
    pub(crate) fn stored(self, _answers: &[Enqueued]) {}
}

#[inline(always)]
pub(crate) fn started(_job: &Reserved, _lease: Duration) {}

#[inline(always)]
pub(crate) fn ran(_job: &Reserved, _elapsed: Duration) {}

#[inline(always)]
pub(crate) fn recorded(
    _queue: &str,
    _job: &str,
    _outcome: &Outcome,
    _attempt: u32,
    _max_attempts: u32,
    _status: LeaseStatus,
) {
}

#[inline(always)]
pub(crate) fn renewed(_queue: &str) {}

#[inline(always)]
pub(crate) fn backend_error(_op: &'static str) {}
