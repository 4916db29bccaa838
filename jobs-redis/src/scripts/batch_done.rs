//! `batch_done.lua`: count batch members that ended, check a batch, and take up its
//! firing when it is complete. Also where a batch stands (`batch_reply` of
//! `lua/batch_lib.lua`), which `batch_add.lua`'s open answers too.

use jobs_core::{BATCH_DEAD_JOBS_MAX, BackendError};
use redis::Value;

use super::BatchKeys;
use crate::conn::Conn;
use crate::error;
use crate::reply::{self, take};

// Counting endings frees work (callbacks wait on it): runs at maxmemory too.
super::script!("batch_done", AllowOom, Batch);

/// Where a batch stands (`batch_state` in `lua/batch_lib.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// No such batch.
    Gone,
    /// Members are being recorded; not opened yet.
    Unopened,
    /// Its callbacks fired.
    Finished,
    /// Members have not all ended.
    Pending,
    /// Complete, and another caller is firing it.
    Claimed,
    /// Complete, and the firing is now this caller's.
    Fire,
}

impl Status {
    /// A status the script does not give is read as pending: the caller does nothing
    /// with the batch, and a check of it is due again.
    fn parse(text: &str) -> Self {
        match text {
            "gone" => Status::Gone,
            "unopened" => Status::Unopened,
            "finished" => Status::Finished,
            "claimed" => Status::Claimed,
            "fire" => Status::Fire,
            _ => Status::Pending,
        }
    }
}

/// A batch script's answer about where the batch stands.
pub(crate) struct Standing {
    pub status: Status,
    /// ms until the caller looks again (a live claim's end, or a check's next time).
    pub retry_in: Option<u64>,
    /// For [`Status::Fire`]: total, succeeded, dead, dead ids, callbacks (JSON).
    pub summary: Value,
    /// Added jobs whose adder did not report them enqueued in time: (id, job).
    pub late: Vec<(String, Vec<u8>)>,
}

impl Standing {
    pub(crate) fn parse(it: &mut impl Iterator<Item = Value>) -> Result<Self, BackendError> {
        let [status, retry_in, summary, late] = take::<4>(it)?;
        let retry_in = reply::int(&retry_in)?;
        let mut late_it = reply::array(late)?.into_iter();
        let mut late = Vec::new();
        while let Ok([id, job]) = take::<2>(&mut late_it) {
            late.push((reply::string(id)?, reply::bytes(job)?));
        }
        Ok(Standing {
            status: Status::parse(&reply::string(status)?),
            retry_in: u64::try_from(retry_in).ok(),
            summary,
            late,
        })
    }
}

/// Counts `endings` ((job id, 's' or 'd')) in the batch and looks at it. `check`: the
/// call holds a check of the batch; then an added job that waited `claim_ms` for its
/// adder is handed out (at most `recover_max`).
pub(crate) async fn call(
    conn: &mut Conn,
    bk: &BatchKeys,
    claim_ms: u64,
    check: bool,
    recover_max: usize,
    endings: &[(String, String)],
) -> Result<Standing, BackendError> {
    let mut call = SCRIPT.on_batch(bk);
    call.arg(claim_ms).arg(BATCH_DEAD_JOBS_MAX);
    if check {
        call.arg(claim_ms);
    } else {
        call.arg("");
    }
    call.arg(recover_max);
    for (job, outcome) in endings {
        call.arg(job).arg(outcome);
    }
    let reply: Value = call.invoke_async(conn).await.map_err(error::map)?;
    Standing::parse(&mut reply::array(reply)?.into_iter())
}
