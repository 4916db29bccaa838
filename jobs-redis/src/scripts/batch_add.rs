//! `batch_add.lua`: record a batch's members, open it, add members to it from a running
//! job, and report added jobs enqueued.

use std::time::Duration;

use jobs_core::backend::{NewJob, RunAt};
use jobs_core::{BATCH_DEAD_JOBS_MAX, BackendError, BatchId, Callback, JobFlow, JobId};
use redis::Value;

use super::BatchKeys;
use super::batch_done::Standing;
use super::enqueue::run_at_arg;
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

// New work: refused at maxmemory before it writes anything.
super::script!("batch_add", Writes, Batch);

/// The status codes of `register`, `add` and `open`, named in the script's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Recorded.
    Added,
    /// Refused, nothing changed: the batch finished (or is complete and the call names a
    /// member it does not have).
    Finished,
    /// The batch was never opened (add only).
    NotFound,
}

impl Answer {
    /// Anything else than 'added' and 'finished' reads as not found (refused).
    fn parse(v: Value) -> Result<Self, BackendError> {
        Ok(match reply::string(v)?.as_str() {
            "added" => Answer::Added,
            "finished" => Answer::Finished,
            _ => Answer::NotFound,
        })
    }
}

/// Records `members` ((job, queue), at most a chunk) before the open; the keys live
/// `ttl_ms` unless the batch is opened by then.
pub(crate) async fn register(
    conn: &mut Conn,
    bk: &BatchKeys,
    ttl_ms: u64,
    members: &[(JobId, String)],
) -> Result<Answer, BackendError> {
    let mut call = SCRIPT.on_batch(bk);
    call.arg("register").arg(ttl_ms);
    for (job, queue) in members {
        call.arg(job.to_string()).arg(queue);
    }
    Answer::parse(call.invoke_async(conn).await.map_err(error::map)?)
}

/// Opens the batch with its callbacks: whether it took them, and where it stands (it may
/// be complete at once).
pub(crate) async fn open(
    conn: &mut Conn,
    bk: &BatchKeys,
    claim_ms: u64,
    callbacks: &[Callback],
) -> Result<(Answer, Option<Standing>), BackendError> {
    let mut call = SCRIPT.on_batch(bk);
    call.arg("open").arg(claim_ms).arg(BATCH_DEAD_JOBS_MAX);
    for cb in callbacks {
        let json = serde_json::to_string(cb).map_err(|e| BackendError::Other(Box::new(e)))?;
        call.arg(cb.kind.name()).arg(json);
    }
    let reply: Value = call.invoke_async(conn).await.map_err(error::map)?;
    let mut it = reply::array(reply)?.into_iter();
    let [added] = take::<1>(&mut it)?;
    let added = Answer::parse(added)?;
    if added == Answer::Finished {
        return Ok((added, None));
    }
    Ok((added, Some(Standing::parse(&mut it)?)))
}

/// Adds `jobs` (at most a chunk) to the open batch; each is kept with the batch until
/// its adder reports it enqueued ([`added`]).
pub(crate) async fn add(
    conn: &mut Conn,
    bk: &BatchKeys,
    jobs: &[NewJob],
) -> Result<Answer, BackendError> {
    let mut call = SCRIPT.on_batch(bk);
    call.arg("add");
    for job in jobs {
        call.arg(job.id.to_string())
            .arg(&job.queue)
            .arg(encode_job(job));
    }
    Answer::parse(call.invoke_async(conn).await.map_err(error::map)?)
}

/// Reports added jobs enqueued (at most a chunk): no longer kept with the batch.
pub(crate) async fn added(
    conn: &mut Conn,
    bk: &BatchKeys,
    ids: &[&str],
) -> Result<(), BackendError> {
    let mut call = SCRIPT.on_batch(bk);
    call.arg("added");
    for id in ids {
        call.arg(*id);
    }
    let _: i64 = call.invoke_async(conn).await.map_err(error::map)?;
    Ok(())
}

/// An added job as kept with its batch until its adder reports it enqueued: a msgpack
/// array of name, queue, payload, priority, max attempts, run-at (as enqueue takes it).
pub(crate) fn encode_job(job: &NewJob) -> Vec<u8> {
    use rmpv::Value as V;
    let value = V::Array(vec![
        V::from(job.name.as_str()),
        V::from(job.queue.as_str()),
        V::Binary(job.payload.clone()),
        V::from(job.priority),
        V::from(job.max_attempts),
        V::from(run_at_arg(job.run_at).as_str()),
        V::from(job.flow.key.as_deref().unwrap_or_default()),
        V::from(
            job.flow
                .expires
                .map(run_at_arg)
                .unwrap_or_default()
                .as_str(),
        ),
    ]);
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &value);
    out
}

/// An added job handed back by a check (see [`encode_job`]).
pub(crate) fn decode_job(batch: BatchId, id: &str, mut raw: &[u8]) -> Result<NewJob, BackendError> {
    let bad = |why: &str| error::corrupt(format!("batch {batch}: added job {id}: {why}"));
    let value = rmpv::decode::read_value(&mut raw).map_err(|_| bad("not msgpack"))?;
    let rmpv::Value::Array(f) = value else {
        return Err(bad("not an array"));
    };
    let text = |i: usize| {
        f.get(i)
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("a field is not text"))
    };
    let num = |i: usize| {
        f.get(i)
            .and_then(|v| v.as_i64())
            .ok_or_else(|| bad("a field is not a number"))
    };
    let payload = match f.get(2) {
        Some(rmpv::Value::Binary(b)) => b.clone(),
        _ => return Err(bad("no payload")),
    };
    let run_at = text(5)?;
    let mut flow = JobFlow::default();
    // Absent in what earlier versions wrote.
    flow.key = f
        .get(6)
        .and_then(|v| v.as_str())
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    flow.expires = match f.get(7).and_then(|v| v.as_str()) {
        None | Some("") => None,
        Some(at) => Some(parse_run_at(at).ok_or_else(|| bad("bad deadline"))?),
    };
    Ok(NewJob {
        id: id.parse().map_err(|_| bad("bad id"))?,
        name: text(0)?.to_owned(),
        queue: text(1)?.to_owned(),
        payload,
        priority: i8::try_from(num(3)?).map_err(|_| bad("bad priority"))?,
        run_at: parse_run_at(run_at).ok_or_else(|| bad("bad run-at"))?,
        max_attempts: u32::try_from(num(4)?).map_err(|_| bad("bad max attempts"))?,
        batch: Some(batch),
        flow,
    })
}

/// A run-at as [`run_at_arg`] writes it.
fn parse_run_at(arg: &str) -> Option<RunAt> {
    Some(if let Some(after) = arg.strip_prefix('+') {
        RunAt::After(Duration::from_millis(after.parse().ok()?))
    } else if arg.is_empty() {
        RunAt::Now
    } else {
        RunAt::UnixMillis(arg.parse().ok()?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_job_survives_its_encoding() {
        let batch = BatchId::new();
        for run_at in [
            RunAt::Now,
            RunAt::After(Duration::from_millis(1500)),
            RunAt::UnixMillis(1_764_190_000_000),
        ] {
            let job = NewJob {
                id: JobId::new(),
                name: "format_disk".into(),
                queue: "disks".into(),
                payload: br#"{"host":"node-1"}"#.to_vec(),
                priority: -3,
                run_at,
                max_attempts: 7,
                batch: Some(batch),
                flow: JobFlow::default(),
            };
            let raw = encode_job(&job);
            assert_eq!(decode_job(batch, &job.id.to_string(), &raw).unwrap(), job);
            let mut keyed = job.clone();
            keyed.flow.key = Some("node-1".into());
            keyed.flow.expires = Some(RunAt::After(Duration::from_secs(60)));
            let raw = encode_job(&keyed);
            assert_eq!(decode_job(batch, &job.id.to_string(), &raw).unwrap(), keyed);
        }
    }
}
