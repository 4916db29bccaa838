//! `jobs list QUEUE --state S`: one page of jobs, and the cursor of the next.

use jobs_core::JobState;

use crate::cli::ListArgs;
use crate::connect::JobsClient;
use crate::exit::Exit;
use crate::render;
use crate::view::{JobView, PageView};

/// Prints one page.
pub async fn run(client: &JobsClient, args: ListArgs) -> anyhow::Result<Exit> {
    super::known_queue(client, &args.queue).await?;
    let state = JobState::from(args.state);
    let page = client
        .list_jobs(&args.queue, state, args.after, usize::from(args.limit))
        .await?;
    let next = page.next.map(|c| c.to_string());
    if args.out.json {
        render::json(&PageView {
            queue: args.queue,
            state: state.name(),
            jobs: page.jobs.iter().map(JobView::from).collect(),
            next,
        })?;
        return Ok(Exit::Ok);
    }
    if page.jobs.is_empty() {
        render::line(format!("no {} jobs", state.name()))?;
    } else {
        let rows: Vec<Vec<String>> = page
            .jobs
            .iter()
            .map(|j| {
                let when = j.finished_at_ms.or(j.run_at_ms).unwrap_or(j.created_at_ms);
                vec![
                    j.id.to_string(),
                    j.name.clone(),
                    j.state.name().to_owned(),
                    format!("{}/{}", j.attempts, j.max_attempts),
                    render::relative(when),
                    j.last_error
                        .as_deref()
                        .and_then(|e| e.lines().next())
                        .unwrap_or("")
                        .chars()
                        .take(60)
                        .collect(),
                ]
            })
            .collect();
        render::line(render::table(
            &["ID", "NAME", "STATE", "ATTEMPTS", "WHEN", "ERROR"],
            &rows,
        ))?;
    }
    match next {
        Some(cursor) => render::line(format!("next page: --after {cursor}"))?,
        None => render::line("(end)")?,
    }
    Ok(Exit::Ok)
}
