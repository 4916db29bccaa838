//! `list.lua`: a page of one queue's jobs in one state, with their records.

use jobs_core::backend::JobState;
use jobs_core::{BackendError, JobPage, ListCursor};
use redis::Value;

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("list", ReadOnly, Queue);

/// The script's name for a listed state (cancelled and expired jobs are in the dead set).
pub(crate) fn set_name(state: JobState) -> &'static str {
    match jobs_core::backend::listed_state(state) {
        JobState::Ready => "ready",
        JobState::Scheduled => "scheduled",
        JobState::Active => "active",
        JobState::Succeeded => "succeeded",
        _ => "dead",
    }
}

/// The page of `queue`'s jobs in `state` after `after`, at most `limit` (the caller
/// bounds it).
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    queue: &str,
    state: JobState,
    after: Option<ListCursor>,
    limit: usize,
) -> Result<JobPage, BackendError> {
    let (score, id) = after.map_or((String::new(), String::new()), |c| {
        (c.score.to_string(), c.id.to_string())
    });
    let reply: Value = SCRIPT
        .on_queue(k)
        .arg(set_name(state))
        .arg(score)
        .arg(id)
        .arg(limit)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    let entries = reply::array(reply)?;
    let full = entries.len() == limit && limit > 0;
    let mut jobs = Vec::with_capacity(entries.len());
    let mut last = None;
    for entry in entries {
        let mut it = reply::array(entry)?.into_iter();
        let [id, score, how] = take::<3>(&mut it)?;
        let fixed = take::<8>(&mut it)?;
        let varying = take::<5>(&mut it)?;
        let progress = take::<2>(&mut it)?;
        let [batch] = take::<1>(&mut it)?;
        // An id written outside the framework cannot be shown as a JobId: skipped (the
        // page still goes on after it).
        let Ok(job_id) = reply::job_id(id.clone()) else {
            tracing::warn!(queue, id = ?id, "skipped a listed entry whose id is not a job id");
            continue;
        };
        last = Some(ListCursor {
            score: reply::int(&score)?,
            id: job_id,
        });
        let state = match reply::string(how)?.as_str() {
            "ready" => JobState::Ready,
            "scheduled" => JobState::Scheduled,
            "active" => JobState::Active,
            "succeeded" => JobState::Succeeded,
            other => super::job::ended_as(other),
        };
        let mut info = super::job::info(job_id, queue, state, fixed, varying, progress)?;
        info.batch = super::job::batch_of(batch)?;
        jobs.push(info);
    }
    Ok(JobPage::new(jobs, if full { last } else { None }))
}
