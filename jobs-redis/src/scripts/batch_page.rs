//! `batch_page.lua`: one page of a batch's members, or of its dead members.

use jobs_core::{BackendError, JobId};
use redis::Value;

use super::BatchKeys;
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("batch_page", ReadOnly, Batch);

async fn page(
    conn: &mut Conn,
    bk: &BatchKeys,
    what: &str,
    offset: usize,
    limit: usize,
) -> Result<Vec<Value>, BackendError> {
    let reply: Value = SCRIPT
        .on_batch(bk)
        .arg(what)
        .arg(offset)
        .arg(limit)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    reply::array(reply)
}

/// Members (id, queue) in the order they joined, from `offset`, at most `limit`.
pub(crate) async fn members(
    conn: &mut Conn,
    bk: &BatchKeys,
    offset: usize,
    limit: usize,
) -> Result<Vec<(JobId, String)>, BackendError> {
    let mut it = page(conn, bk, "members", offset, limit).await?.into_iter();
    let mut out = Vec::new();
    while let Ok([job, queue]) = take::<2>(&mut it) {
        out.push((reply::job_id(job)?, reply::string(queue)?));
    }
    Ok(out)
}

/// Dead members in the order they were counted, from `offset`, at most `limit`.
pub(crate) async fn dead(
    conn: &mut Conn,
    bk: &BatchKeys,
    offset: usize,
    limit: usize,
) -> Result<Vec<JobId>, BackendError> {
    page(conn, bk, "dead", offset, limit)
        .await?
        .into_iter()
        .map(reply::job_id)
        .collect()
}
