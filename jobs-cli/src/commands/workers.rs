//! `jobs workers`: the live worker processes.

use crate::cli::JsonArg;
use crate::connect::JobsClient;
use crate::exit::Exit;
use crate::render;
use crate::view::WorkersView;

/// Prints the workers.
pub async fn run(client: &JobsClient, out: JsonArg) -> anyhow::Result<Exit> {
    let workers = client.workers().await?;
    if out.json {
        render::json(&WorkersView { workers })?;
        return Ok(Exit::Ok);
    }
    if workers.is_empty() {
        render::line("no live workers")?;
        return Ok(Exit::Ok);
    }
    let rows: Vec<Vec<String>> = workers
        .iter()
        .map(|w| {
            vec![
                w.id.clone(),
                w.host.clone(),
                w.pid.to_string(),
                w.queues.join(","),
                format!("{}/{}", w.running, w.concurrency),
                format!(
                    "{} ({})",
                    render::time(w.started_at_ms),
                    render::relative(w.started_at_ms)
                ),
                render::relative(w.last_beat_ms),
            ]
        })
        .collect();
    render::line(render::table(
        &[
            "ID",
            "HOST",
            "PID",
            "QUEUES",
            "RUNNING",
            "STARTED",
            "LAST BEAT",
        ],
        &rows,
    ))?;
    Ok(Exit::Ok)
}
