//! Reading the per-queue event streams (written by the scripts: one entry per script call
//! and kind, `k` = kind then (job id, data) pairs; see `lua/lib.lua`).

use std::time::Duration;

use jobs_core::event::{EntryId, Event, EventCursor, EventKind};
use jobs_core::{BackendError, JobId};
use redis::Value;

use crate::error;
use crate::handle::RedisBackend;
use crate::reply;

/// [`jobs_core::Backend::read_events`] on Redis: `XRANGE` for the rest of the entry the
/// cursor points into, then `XREAD` (blocking on the waiter's connection when nothing
/// was found and `wait` is not zero).
pub(crate) async fn read_events(
    this: &RedisBackend,
    queue: &str,
    after: Option<EventCursor>,
    max_entries: usize,
    wait: Duration,
) -> Result<Vec<Event>, BackendError> {
    let k = this.keys(queue)?;
    let count = max_entries.max(1);
    let mut out = Vec::new();
    let start = match &after {
        Some(c) => {
            // The rest of the entry the cursor points into, if any.
            let mut conn = this.conn().await?;
            let id = c.entry.to_string();
            let entry: Value = redis::cmd("XRANGE")
                .arg(&k.events)
                .arg(&id)
                .arg(&id)
                .query_async(&mut conn)
                .await
                .map_err(error::map)?;
            for e in reply::array(entry)? {
                out.extend(parse_entry(e)?.into_iter().filter(|ev| ev.cursor > *c));
            }
            id
        }
        None => "0-0".to_owned(),
    };
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT").arg(count);
    let blocking = out.is_empty() && !wait.is_zero();
    if blocking {
        // 0 would block forever.
        cmd.arg("BLOCK").arg(wait.as_millis().max(1) as u64);
    }
    cmd.arg("STREAMS").arg(&k.events).arg(&start);
    let reply = if blocking {
        this.inner.waiter.blocking(&cmd, wait).await?
    } else {
        let mut conn = this.conn().await?;
        cmd.query_async(&mut conn).await.map_err(error::map)?
    };
    // [[key, [entry, ...]]], or nil when nothing came.
    for stream in reply::array(reply)? {
        let mut parts = reply::array(stream)?.into_iter();
        let [_key, entries] = reply::take::<2>(&mut parts)?;
        for e in reply::array(entries)? {
            out.extend(parse_entry(e)?);
        }
    }
    Ok(out)
}

/// [`jobs_core::Backend::last_event`] on Redis: the newest entry's last event.
pub(crate) async fn last_event(
    this: &RedisBackend,
    queue: &str,
) -> Result<Option<EventCursor>, BackendError> {
    let k = this.keys(queue)?;
    let mut conn = this.conn().await?;
    let reply: Value = redis::cmd("XREVRANGE")
        .arg(&k.events)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .map_err(error::map)?;
    let Some(entry) = reply::array(reply)?.into_iter().next() else {
        return Ok(None);
    };
    let mut parts = reply::array(entry)?.into_iter();
    let [id, fields] = reply::take::<2>(&mut parts)?;
    let pairs = reply::array(fields)?.len() / 2;
    Ok(Some(EventCursor {
        entry: entry_id(id)?,
        index: pairs.saturating_sub(2) as u32,
    }))
}

fn entry_id(v: Value) -> Result<EntryId, BackendError> {
    let s = reply::string(v)?;
    s.parse()
        .map_err(|_| error::corrupt(format!("bad stream entry id {s:?}")))
}

/// One stream entry: `[id, [k, kind, job, data, job, data, ...]]`. Entries of a kind
/// this version does not know are skipped.
fn parse_entry(entry: Value) -> Result<Vec<Event>, BackendError> {
    let mut parts = reply::array(entry)?.into_iter();
    let [id, fields] = reply::take::<2>(&mut parts)?;
    let entry = entry_id(id)?;
    let mut fields = reply::array(fields)?.into_iter();
    let [k, kind] = reply::take::<2>(&mut fields)?;
    if reply::string(k)? != "k" {
        return Err(error::corrupt(format!(
            "event entry {entry} does not start with its kind"
        )));
    }
    let kind = reply::string(kind)?;
    let mut out = Vec::new();
    let mut index = 0;
    while let Ok([job, data]) = reply::take::<2>(&mut fields) {
        let Some(kind) = EventKind::from_wire(&kind, reply::string(data)?) else {
            return Ok(Vec::new());
        };
        let job: JobId = reply::job_id(job)?;
        out.push(Event::new(EventCursor { entry, index }, job, kind));
        index += 1;
    }
    Ok(out)
}
