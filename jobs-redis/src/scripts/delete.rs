//! `delete.lua`: delete jobs by id, or a purge step over one state.

use jobs_core::backend::JobState;
use jobs_core::{BackendError, Deleted, JobId};
use redis::Value;

use super::{QueueKeys, Settings};
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

super::script!("delete", Writes, Queue);

/// Which jobs a call deletes.
pub(crate) enum Which<'a> {
    /// These (the caller bounds how many).
    Ids(&'a [JobId]),
    /// The first ones of a state, at most this many (the caller bounds it).
    First(JobState, usize),
}

/// What a delete answered: the answers (one per id, or the count deleted), and the
/// outbox entries due (batch work for the caller).
pub(crate) struct Reply {
    pub answers: Answers,
    pub outbox: u64,
}

/// The answers of one call.
pub(crate) enum Answers {
    /// One per id.
    Each(Vec<Deleted>),
    /// How many were deleted.
    Count(u64),
}

pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    which: Which<'_>,
) -> Result<Reply, BackendError> {
    let [dead_max, dead_age, trim] = settings.dead_args();
    let mut call = SCRIPT.on_queue(k);
    call.arg(settings.store.events_max_len())
        .arg(dead_max)
        .arg(dead_age)
        .arg(trim);
    match which {
        Which::Ids(ids) => {
            call.arg("ids");
            for id in ids {
                call.arg(id.to_string());
            }
        }
        Which::First(state, limit) => {
            call.arg(super::list::set_name(state)).arg(limit);
        }
    }
    let reply: Value = call.invoke_async(conn).await.map_err(error::map)?;
    let mut it = reply::array(reply)?.into_iter();
    let [answers, outbox] = take::<2>(&mut it)?;
    let answers = match answers {
        Value::Int(n) => Answers::Count(u64::try_from(n).unwrap_or(0)),
        other => Answers::Each(
            reply::array(other)?
                .into_iter()
                .map(|a| {
                    Ok(match reply::string(a)?.as_str() {
                        "deleted" => Deleted::Deleted,
                        "running" => Deleted::Running,
                        _ => Deleted::NotFound,
                    })
                })
                .collect::<Result<_, BackendError>>()?,
        ),
    };
    Ok(Reply {
        answers,
        outbox: reply::uint(&outbox)?,
    })
}
