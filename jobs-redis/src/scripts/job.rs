//! `job.lua`: records and states of jobs of one queue, read atomically; and the decoding
//! of a record's fields that `dead_list.lua` shares.

use jobs_core::backend::{JobInfo, JobState, Progress};
use jobs_core::{BackendError, JobId};
use redis::Value;

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("job", ReadOnly, Queue);

/// Looks `ids` of `queue` up (the caller bounds how many): per id, its record, `None`
/// when not stored, or why it cannot be shown.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    queue: &str,
    ids: &[JobId],
) -> Result<Vec<Result<Option<JobInfo>, BackendError>>, BackendError> {
    let mut call = SCRIPT.on_queue(k);
    for id in ids {
        call.arg(id.to_string());
    }
    let reply: Value = call.invoke_async(conn).await.map_err(error::map)?;
    Ok(ids
        .iter()
        .zip(reply::array(reply)?)
        .map(|(id, entry)| entry_of(queue, *id, entry))
        .collect())
}

/// One entry of the reply.
fn entry_of(queue: &str, id: JobId, entry: Value) -> Result<Option<JobInfo>, BackendError> {
    if matches!(entry, Value::Nil | Value::Boolean(false)) {
        return Ok(None);
    }
    let fields = reply::array(entry)?;
    if fields.len() == 1 {
        return Err(error::corrupt(format!(
            "the record of job {id} in queue {queue} cannot be read"
        )));
    }
    let mut it = fields.into_iter();
    let [state] = take::<1>(&mut it)?;
    let fixed = take::<8>(&mut it)?;
    let varying = take::<5>(&mut it)?;
    let progress = take::<2>(&mut it)?;
    let [batch] = take::<1>(&mut it)?;
    let state = reply::string(state)?;
    let state = match state.as_str() {
        "ready" => JobState::Ready,
        "scheduled" => JobState::Scheduled,
        "active" => JobState::Active,
        "succeeded" => JobState::Succeeded,
        "dead" | "cancelled" | "expired" => ended_as(&state),
        other => {
            return Err(error::corrupt(format!(
                "job {id} in queue {queue} is in no state ({other}): `sweep_orphans` moves it to dead"
            )));
        }
    };
    let mut info = info(id, queue, state, fixed, varying, progress)?;
    info.batch = batch_of(batch)?;
    Ok(Some(info))
}

/// A record's batch id ('' for none).
pub(crate) fn batch_of(v: Value) -> Result<Option<jobs_core::BatchId>, BackendError> {
    let s = reply::string(v)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| error::corrupt(format!("a record's batch id {s:?} is not a batch id")))
}

/// The state of a job kept with the dead, from how the scripts say it ended.
pub(crate) fn ended_as(how: &str) -> JobState {
    match how {
        "cancelled" => JobState::Cancelled,
        "expired" => JobState::Expired,
        _ => JobState::Dead,
    }
}

/// Builds a [`JobInfo`] from the fields the `job` and `dead_list` scripts return: `fixed`
/// = name, payload, priority, max attempts, attempts, deliveries, stalls, created;
/// `varying` = run-at, lease end, finished, last error, result ('' when absent); then
/// the progress percent and message.
pub(crate) fn info(
    id: JobId,
    queue: &str,
    state: JobState,
    fixed: [Value; 8],
    varying: [Value; 5],
    [percent, message]: [Value; 2],
) -> Result<JobInfo, BackendError> {
    let [
        name,
        payload,
        priority,
        max_attempts,
        attempts,
        deliveries,
        stalls,
        created,
    ] = fixed;
    let [run_at, lease_end, finished, last_error, result] = varying;
    let finished = reply::opt_uint(&finished)?.filter(|f| *f > 0);
    let mut info = JobInfo::new(id, reply::string(name)?, queue.to_owned(), state);
    info.payload = reply::bytes(payload)?;
    info.priority = reply::int(&priority)? as i8;
    info.max_attempts = reply::uint(&max_attempts)? as u32;
    info.attempts = reply::uint(&attempts)? as u32;
    info.deliveries = reply::uint(&deliveries)? as u32;
    info.stalls = reply::uint(&stalls)? as u32;
    info.created_at_ms = reply::uint(&created)?;
    info.run_at_ms = reply::opt_uint(&run_at)?;
    info.lease_expires_at_ms = reply::opt_uint(&lease_end)?;
    info.finished_at_ms = finished;
    info.last_error =
        reply::opt_bytes(last_error)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    info.result = reply::opt_bytes(result)?;
    if let Some(percent) = reply::opt_uint(&percent)? {
        info.progress = Some(Progress::new(
            percent.min(100) as u8,
            reply::string(message)?,
        ));
    }
    Ok(info)
}
