//! `delete.lua`: delete jobs by id, or a purge step over one state.

use jobs_core::backend::JobState;
use jobs_core::{BackendError, Deleted, JobId};
use redis::{ScriptInvocation, Value};

use super::{QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("delete", Writes, Queue);

/// Deletes `ids` (the caller bounds how many): one answer per id, and the outbox entries
/// due (batch work for the caller).
pub(crate) async fn ids(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    ids: &[JobId],
) -> Result<(Vec<Deleted>, u64), BackendError> {
    let mut call = invocation(k, settings);
    call.arg("ids");
    for id in ids {
        call.arg(id.to_string());
    }
    let (answers, outbox) = invoke(conn, call).await?;
    let answers = reply::array(answers)?
        .into_iter()
        .map(|a| {
            Ok(match reply::string(a)?.as_str() {
                "deleted" => Deleted::Deleted,
                "running" => Deleted::Running,
                _ => Deleted::NotFound,
            })
        })
        .collect::<Result<_, BackendError>>()?;
    Ok((answers, outbox))
}

/// Deletes the first `limit` jobs of `state` (the caller bounds it): how many, and the
/// outbox entries due.
pub(crate) async fn first(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    state: JobState,
    limit: usize,
) -> Result<(u64, u64), BackendError> {
    let mut call = invocation(k, settings);
    call.arg(super::list::set_name(state)).arg(limit);
    let (deleted, outbox) = invoke(conn, call).await?;
    Ok((reply::uint(&deleted)?, outbox))
}

/// A call with the keys and the retention arguments; the mode and its arguments follow.
fn invocation<'a>(k: &QueueKeys, settings: &Settings) -> ScriptInvocation<'a> {
    let [dead_max, dead_age, trim] = settings.dead_args();
    let mut call = SCRIPT.on_queue(k);
    call.arg(settings.store.events_max_len())
        .arg(dead_max)
        .arg(dead_age)
        .arg(trim);
    call
}

/// Runs the call: its answers, and the outbox entries due.
async fn invoke(conn: &mut Conn, call: ScriptInvocation<'_>) -> Result<(Value, u64), BackendError> {
    let reply: Value = call.invoke_async(conn).await.map_err(error::map)?;
    let mut it = reply::array(reply)?.into_iter();
    let [answers, outbox] = take::<2>(&mut it)?;
    Ok((answers, reply::uint(&outbox)?))
}
