//! `enqueue_unique.lua`: store new jobs of one queue that may carry a uniqueness key,
//! each checked against the key's holder.

use jobs_core::backend::{Enqueued, NewJob};
use jobs_core::{BackendError, OnConflict, UniqueFor};

use super::enqueue::job_args;
use super::{QueueKeys, Settings, ms};
use crate::conn::Conn;
use crate::{error, reply};

super::script!("enqueue_unique", Writes, Queue);

/// What one call answered: one answer per job, and the outbox entries due.
pub(crate) struct Reply {
    pub answers: Vec<Enqueued>,
    pub outbox: u64,
}

/// Stores `jobs` (all of `k`'s queue) in one atomic call.
pub(crate) async fn call(
    conn: &mut Conn,
    k: &QueueKeys,
    settings: &Settings,
    jobs: impl ExactSizeIterator<Item = &NewJob>,
) -> Result<Reply, BackendError> {
    let mut call = SCRIPT.on_queue(k);
    call.arg(jobs.len())
        .arg(settings.store.events_max_len())
        .arg(&settings.dead_args()[..]);
    for job in jobs {
        job_args(&mut call, job);
        match &job.flow.unique {
            Some(u) => {
                let (hold, period) = match u.hold {
                    UniqueFor::Waiting => ("w", 0),
                    UniqueFor::Period(p) => ("p", ms(p)),
                    _ => ("r", 0),
                };
                let on_conflict = match u.on_conflict {
                    OnConflict::Replace => "replace",
                    OnConflict::Debounce => "debounce",
                    _ => "reject",
                };
                call.arg(u.key.as_deref().unwrap_or_default())
                    .arg(hold)
                    .arg(period)
                    .arg(on_conflict);
            }
            None => {
                call.arg("").arg("").arg(0).arg("");
            }
        }
    }
    let reply = call.invoke_async(conn).await.map_err(error::map)?;
    let mut entries = reply::array(reply)?;
    let outbox = entries
        .pop()
        .ok_or_else(|| error::corrupt("enqueue_unique: empty reply"))?;
    let answers = entries
        .into_iter()
        .map(|entry| {
            let [answer, id] = reply::take::<2>(&mut reply::array(entry)?.into_iter())?;
            let answer = reply::string(answer)?;
            // The answers named in the script's header.
            Ok(match answer.as_str() {
                "stored" => Enqueued::Stored,
                "exists" => Enqueued::AlreadyStored,
                other => {
                    let id = reply::job_id(id)?;
                    match other {
                        "duplicate" => Enqueued::Duplicate { existing: id },
                        "debounced" => Enqueued::Debounced { existing: id },
                        "replaced" => Enqueued::Replaced { previous: id },
                        _ => {
                            return Err(error::corrupt(format!(
                                "enqueue_unique: unknown answer {other:?}"
                            )));
                        }
                    }
                }
            })
        })
        .collect::<Result<_, BackendError>>()?;
    Ok(Reply {
        answers,
        outbox: reply::uint(&outbox)?,
    })
}
