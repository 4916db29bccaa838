//! The jobs the suite runs. Each records its runs in the shared [`Recorder`].

use std::time::Duration;

use jobs_core::{Data, JobContext, JobError, job};

use crate::support::Recorder;

/// Every suite job's queue.
pub const Q: &str = "suite";

/// Succeeds with its label.
#[job(queue = "suite")]
pub async fn echo(label: String, rec: Data<Recorder>, ctx: JobContext) -> Result<String, JobError> {
    rec.record(&label, &ctx);
    Ok(label)
}

/// Always fails, retryably.
#[job(queue = "suite", max_attempts = 3, backoff = "fixed(200ms)")]
pub async fn flaky(label: String, rec: Data<Recorder>, ctx: JobContext) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    Err(format!("boom on attempt {}", ctx.attempt()).into())
}

/// Fails permanently.
#[job(queue = "suite")]
pub async fn refuse(label: String, rec: Data<Recorder>, ctx: JobContext) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    Err(JobError::permanent("disk is not empty"))
}

/// Snoozes on its first run, succeeds with its attempt number on the second.
#[job(queue = "suite")]
pub async fn snoozer(
    label: String,
    snooze_ms: u64,
    rec: Data<Recorder>,
    ctx: JobContext,
) -> Result<u32, JobError> {
    rec.record(&label, &ctx);
    if rec.runs_of(&label).len() == 1 {
        return Err(JobError::snooze(Duration::from_millis(snooze_ms)));
    }
    Ok(ctx.attempt())
}

/// Never finishes by itself; has a 300 ms timeout and one attempt.
#[job(queue = "suite", timeout = "300ms", max_attempts = 1)]
pub async fn stuck(label: String, rec: Data<Recorder>, ctx: JobContext) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    std::future::pending().await
}

/// Never finishes by itself, and has no timeout.
#[job(queue = "suite")]
pub async fn forever(label: String, rec: Data<Recorder>, ctx: JobContext) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    std::future::pending().await
}

/// Panics; two attempts.
#[job(queue = "suite", max_attempts = 2, backoff = "fixed(10ms)")]
pub async fn panicker(label: String, rec: Data<Recorder>, ctx: JobContext) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    panic!("boom")
}

/// Runs for `ms` milliseconds, then succeeds.
#[job(queue = "suite")]
pub async fn hold(
    label: String,
    ms: u64,
    rec: Data<Recorder>,
    ctx: JobContext,
) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    let _running = rec.enter();
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(())
}

/// Runs for `ms` milliseconds under its limit key `key`, then succeeds; the recorder
/// tracks how many of each key run at once.
#[job(queue = "suite", limit_key = "key")]
pub async fn keyed(
    label: String,
    key: String,
    ms: u64,
    rec: Data<Recorder>,
    ctx: JobContext,
) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    let _running = rec.enter_key(&key);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(())
}

/// Says it was rate limited (for `ms` milliseconds) on its first run, then succeeds.
#[job(queue = "suite", limit_key = "key")]
pub async fn throttled(
    label: String,
    key: String,
    ms: u64,
    rec: Data<Recorder>,
    ctx: JobContext,
) -> Result<(), JobError> {
    // `key` is the job's limit key: for the store, not for the job.
    let _ = key;
    let first = rec.runs_of(&label).is_empty();
    rec.record(&label, &ctx);
    if first {
        return Err(JobError::rate_limited(Duration::from_millis(ms)));
    }
    Ok(())
}

/// Waits until as many jobs as the barrier's size are running at once.
#[job(queue = "suite")]
pub async fn rendezvous(
    label: String,
    rec: Data<Recorder>,
    barrier: Data<tokio::sync::Barrier>,
    ctx: JobContext,
) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    let _running = rec.enter();
    barrier.wait().await;
    Ok(())
}

/// Reports progress 100 times in a row (no await between), then once more after `ms`
/// milliseconds, and succeeds.
#[job(queue = "suite")]
pub async fn reporter(
    label: String,
    ms: u64,
    rec: Data<Recorder>,
    ctx: JobContext,
) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    for i in 1..=100 {
        ctx.progress(i, format!("step {i}"));
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ctx.progress(100, "done");
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(())
}

/// A batch callback: records its summary.
#[job(queue = "suite")]
pub async fn batch_done(
    label: String,
    batch: jobs_core::BatchSummary,
    rec: Data<Recorder>,
    ctx: JobContext,
) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    rec.callback(&label, batch);
    Ok(())
}

/// Adds jobs to its batch from inside the batch (what a job can do with a client).
pub type SpawnFn = Box<
    dyn Fn(
            jobs_core::BatchId,
            Echo,
            jobs_core::JobId,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<jobs_core::JobId, jobs_core::BatchError>> + Send>,
        > + Send
        + Sync,
>;

/// Where [`Spawner`] adds its children.
pub struct Spawn(pub SpawnFn);

/// Adds `children` Echo jobs to its own batch (with ids derived from its own, so a re-run
/// adds the same ones), then waits `ms` milliseconds and succeeds.
#[job(queue = "suite")]
pub async fn spawner(
    label: String,
    children: u64,
    ms: u64,
    rec: Data<Recorder>,
    spawn: Data<Spawn>,
    ctx: JobContext,
) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    let batch = ctx.batch().ok_or("not in a batch")?;
    for n in 0..children {
        let child = Echo {
            label: format!("{label}-child{n}"),
        };
        (spawn.0)(batch, child, ctx.child_id(n))
            .await
            .map_err(JobError::retry)?;
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(())
}

/// Runs until it is cancelled, then fails (retryable: a cancelled job is not retried).
#[job(queue = "suite")]
pub async fn patient(label: String, rec: Data<Recorder>, ctx: JobContext) -> Result<(), JobError> {
    rec.record(&label, &ctx);
    ctx.cancelled().await;
    Err(JobError::retry(format!(
        "stopped: {:?}",
        ctx.cancel_reason()
    )))
}
