//! `enqueue.lua`: store new jobs of one queue; each becomes ready, or scheduled.

use jobs_core::BackendError;
use jobs_core::backend::{NewJob, RunAt};
use redis::ScriptInvocation;

use super::{QueueKeys, Settings, ms};
use crate::conn::Conn;
use crate::error;

super::script!("enqueue", Writes, Queue);

/// Stores `jobs` (all of `k`'s queue) in one atomic call; an id already stored is
/// skipped. Returns how many were stored.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    jobs: impl ExactSizeIterator<Item = &NewJob>,
) -> Result<u64, BackendError> {
    let mut call = SCRIPT.on_queue(k);
    call.arg(jobs.len()).arg(settings.store.events_max_len());
    for job in jobs {
        job_args(&mut call, job);
    }
    call.invoke_async(conn).await.map_err(error::map)
}

/// A new job as the enqueue scripts take it: the nine arguments `new_job` reads (see
/// `lua/lib.lua`).
pub(crate) fn job_args(call: &mut ScriptInvocation<'_>, job: &NewJob) {
    call.arg(job.id.to_string())
        .arg(&job.name)
        .arg(&job.payload[..])
        .arg(job.priority)
        .arg(job.max_attempts.max(1))
        .arg(run_at_arg(job.run_at))
        .arg(job.batch.map(|b| b.to_string()).unwrap_or_default())
        .arg(job.flow.key.as_deref().unwrap_or_default())
        .arg(job.flow.expires.map(run_at_arg).unwrap_or_default());
}

/// A run-at as the script takes it: '' now, '+ms' after a delay, 'ms' at a time.
pub(crate) fn run_at_arg(run_at: RunAt) -> String {
    match run_at {
        RunAt::After(d) => format!("+{}", ms(d)),
        RunAt::UnixMillis(t) => t.to_string(),
        _ => String::new(),
    }
}
