//! `dead_list.lua`: a page of a queue's dead set, most recent first, with the records.

use jobs_core::BackendError;
use jobs_core::backend::JobInfo;
use redis::Value;

use super::QueueKeys;
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("dead_list", ReadOnly, Queue);

/// The dead jobs of `queue` from `offset`, at most `limit` (the caller bounds it).
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    queue: &str,
    offset: usize,
    limit: usize,
) -> Result<Vec<JobInfo>, BackendError> {
    let reply: Value = SCRIPT
        .on_queue(k)
        .arg(offset)
        .arg(limit)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    let mut out = Vec::new();
    for entry in reply::array(reply)? {
        let mut it = reply::array(entry)?.into_iter();
        let [id] = take::<1>(&mut it)?;
        let fixed = take::<8>(&mut it)?;
        let [finished, last_error, result] = take::<3>(&mut it)?;
        let progress = take::<2>(&mut it)?;
        let [ended_as, batch] = take::<2>(&mut it)?;
        // An id written outside the framework cannot be shown as a JobId: skipped
        // (counted in `stats`), so the rest of the page is still listed.
        let Ok(id) = reply::job_id(id.clone()) else {
            tracing::warn!(queue, id = ?id, "skipped a dead entry whose id is not a job id");
            continue;
        };
        let varying = [
            Value::BulkString(Vec::new()),
            Value::BulkString(Vec::new()),
            finished,
            last_error,
            result,
        ];
        let mut info = super::job::info(
            id,
            queue,
            super::job::ended_as(&reply::string(ended_as)?),
            fixed,
            varying,
            progress,
        )?;
        info.batch = super::job::batch_of(batch)?;
        out.push(info);
    }
    Ok(out)
}
