//! Every option, including negative priorities and each backoff form.
#![deny(warnings)]

use std::time::Duration;

use jobs_core::{Backoff, Job, JobError, JobOptions, job};

#[job(queue = "tenant-7.disks_v2", max_attempts = 25, backoff = "fixed(30s)", timeout = "1h 30m", priority = -5)]
async fn everything() -> Result<(), JobError> {
    Ok(())
}

#[job(backoff = "exponential", priority = 127)]
async fn exponential_default() -> Result<(), JobError> {
    Ok(())
}

#[job(backoff = "exponential(500ms)", priority = -128)]
async fn exponential_base() -> Result<(), JobError> {
    Ok(())
}

#[job(backoff = " exponential( 2s , 10m ) ", timeout = "1500us")]
async fn exponential_base_max() -> Result<(), JobError> {
    Ok(())
}

fn main() {
    let expected = JobOptions::DEFAULT
        .queue("tenant-7.disks_v2")
        .max_attempts(25)
        .backoff(Backoff::fixed(Duration::from_secs(30)))
        .timeout(Duration::from_secs(90 * 60))
        .priority(-5);
    assert_eq!(Everything::OPTIONS, expected);

    assert_eq!(ExponentialDefault::OPTIONS.backoff, Backoff::DEFAULT);
    assert_eq!(ExponentialDefault::OPTIONS.priority, 127);

    let backoff = Backoff::exponential(Duration::from_millis(500), Duration::from_secs(3600));
    assert_eq!(ExponentialBase::OPTIONS.backoff, backoff);
    assert_eq!(ExponentialBase::OPTIONS.priority, -128);

    let backoff = Backoff::exponential(Duration::from_secs(2), Duration::from_secs(600));
    assert_eq!(ExponentialBaseMax::OPTIONS.backoff, backoff);
    assert_eq!(
        ExponentialBaseMax::OPTIONS.timeout,
        Some(Duration::from_micros(1500))
    );
}
