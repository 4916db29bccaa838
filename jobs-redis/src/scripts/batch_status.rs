//! `batch_status.lua`: a batch's counts, read atomically in steps that do not grow with it.

use jobs_core::{BATCH_DEAD_JOBS_MAX, BackendError, JobId};
use redis::Value;

use super::BatchKeys;
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("batch_status", ReadOnly, Batch);

/// A batch's counts, as stored with the batch.
pub(crate) struct Status {
    pub total: u64,
    pub succeeded: u64,
    pub dead: u64,
    pub finished: bool,
    /// The first dead ids.
    pub dead_jobs: Vec<JobId>,
    /// The queues its members sit on, while it is not finished (it runs nothing then).
    pub queues: Vec<String>,
    pub paused: bool,
}

/// The batch's counts; `None` for a batch never opened.
pub(crate) async fn call(conn: &mut Conn, bk: &BatchKeys) -> Result<Option<Status>, BackendError> {
    let reply: Value = SCRIPT
        .on_batch(bk)
        .arg(BATCH_DEAD_JOBS_MAX)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    if reply == Value::Nil {
        return Ok(None);
    }
    let mut it = reply::array(reply)?.into_iter();
    let [total, succeeded, dead, finished, dead_ids, queues, paused] = take::<7>(&mut it)?;
    let finished = reply::uint(&finished)? == 1;
    let queues = if finished {
        Vec::new()
    } else {
        reply::array(queues)?
            .into_iter()
            .map(reply::string)
            .collect::<Result<_, _>>()?
    };
    Ok(Some(Status {
        total: reply::uint(&total)?,
        succeeded: reply::uint(&succeeded)?,
        dead: reply::uint(&dead)?,
        finished,
        dead_jobs: reply::array(dead_ids)?
            .into_iter()
            .map(reply::job_id)
            .collect::<Result<_, _>>()?,
        queues,
        paused: reply::uint(&paused)? == 1,
    }))
}
