//! `jobs stats [QUEUE]`: counts per state and throughput, per queue.

use crate::cli::StatsArgs;
use crate::connect::JobsClient;
use crate::exit::Exit;
use crate::render;
use crate::view::{QueueView, StatsView, WINDOWS};

/// Minutes of throughput read per queue: the largest window.
const MINUTES: u32 = WINDOWS[WINDOWS.len() - 1];

/// Prints the stats of `QUEUE`, or of every queue.
pub async fn run(client: &JobsClient, args: StatsArgs) -> anyhow::Result<Exit> {
    let queues = match args.queue {
        Some(queue) => {
            super::known_queue(client, &queue).await?;
            vec![queue]
        }
        None => client.queues().await?,
    };
    let mut views = Vec::with_capacity(queues.len());
    for queue in &queues {
        let stats = client.stats(queue).await?;
        let minutes = client.throughput(queue, MINUTES).await?;
        views.push(QueueView::new(queue, &stats, &minutes));
    }
    if args.out.json {
        render::json(&StatsView { queues: views })?;
        return Ok(Exit::Ok);
    }
    if views.is_empty() {
        render::line("no queues yet")?;
        return Ok(Exit::Ok);
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|q| {
            let mut row = vec![
                q.queue.clone(),
                q.scheduled.to_string(),
                q.ready.to_string(),
                q.active.to_string(),
                q.succeeded.to_string(),
                q.dead.to_string(),
                if q.paused { "yes" } else { "no" }.to_owned(),
            ];
            row.extend(q.throughput.iter().map(|w| format!("{:.1}", w.per_minute)));
            if q.orphaned > 0 {
                row.push(format!("{} orphaned", q.orphaned));
            }
            row
        })
        .collect();
    render::line(render::table(
        &[
            "QUEUE",
            "SCHEDULED",
            "READY",
            "ACTIVE",
            "SUCCEEDED",
            "DEAD",
            "PAUSED",
            "1M/MIN",
            "5M/MIN",
            "15M/MIN",
        ],
        &rows,
    ))?;
    render::line("(x/MIN: jobs ended, succeeded or failed, per minute over the last x minutes)")?;
    Ok(Exit::Ok)
}
