//! `workers.lua`: the live workers' registrations.

use jobs_core::{BackendError, WorkerInfo};

use super::StoreKeys;
use crate::conn::Conn;
use crate::error;

super::script!("workers", ReadOnly, Store);

/// Most workers listed.
const MAX_LISTED: usize = 10_000;

/// The live workers, by start time; registrations that cannot be read are skipped.
pub(crate) async fn call(conn: &mut Conn, sk: &StoreKeys) -> Result<Vec<WorkerInfo>, BackendError> {
    let raw: Vec<(String, String, String)> = SCRIPT
        .on_workers(sk)
        .arg(MAX_LISTED)
        .invoke_async(conn)
        .await
        .map_err(error::map)?;
    let ms = |s: &str| s.parse::<f64>().map(|f| f as u64).unwrap_or(0);
    let mut out: Vec<WorkerInfo> = raw
        .iter()
        .filter_map(
            |(json, beat, expiry)| match serde_json::from_str::<WorkerInfo>(json) {
                Ok(mut w) => {
                    w.last_beat_ms = ms(beat);
                    w.expires_at_ms = ms(expiry);
                    Some(w)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "skipped a worker registration that cannot be read");
                    None
                }
            },
        )
        .collect();
    out.sort_by(|a, b| (a.started_at_ms, &a.id).cmp(&(b.started_at_ms, &b.id)));
    Ok(out)
}
