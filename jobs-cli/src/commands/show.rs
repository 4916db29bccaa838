//! `jobs show QUEUE ID`: one job's record, arguments and result decoded.

use jobs_core::JobInfo;
use serde_json::Value;

use crate::cli::ShowArgs;
use crate::connect::JobsClient;
use crate::exit::{self, Exit};
use crate::render;
use crate::view::{JobView, decoded};

/// Prints the job.
pub async fn run(client: &JobsClient, args: ShowArgs) -> anyhow::Result<Exit> {
    super::known_queue(client, &args.queue).await?;
    let Some(job) = client.job(&args.queue, args.id).await? else {
        return Err(exit::not_found(format!(
            "job {} not found in queue {:?}",
            args.id, args.queue
        )));
    };
    if args.out.json {
        render::json(&JobView::from(&job))?;
    } else {
        render::line(describe(&job))?;
    }
    Ok(Exit::Ok)
}

/// The record for humans, one field a line.
pub fn describe(job: &JobInfo) -> String {
    let mut out = vec![
        format!("job         {}", job.id),
        format!("name        {}", job.name),
        format!("queue       {}", job.queue),
        format!("state       {}", job.state.name()),
        format!("priority    {}", job.priority),
        format!("attempts    {}/{}", job.attempts, job.max_attempts),
        format!("deliveries  {}", job.deliveries),
        format!("stalls      {}", job.stalls),
        format!("created     {}", render::full_time(job.created_at_ms)),
    ];
    let times = [
        ("run at", job.run_at_ms),
        ("lease ends", job.lease_expires_at_ms),
        ("finished", job.finished_at_ms),
    ];
    for (label, ms) in times {
        if let Some(ms) = ms {
            out.push(format!("{label:<12}{}", render::full_time(ms)));
        }
    }
    if let Some(p) = &job.progress {
        out.push(
            format!("progress    {}% {}", p.percent, p.message)
                .trim_end()
                .to_owned(),
        );
    }
    out.push("arguments".to_owned());
    out.push(indent(&pretty(decoded(&job.payload))));
    if let Some(error) = &job.last_error {
        out.push("error".to_owned());
        out.push(indent(error));
    }
    if let Some(result) = &job.result {
        out.push("result".to_owned());
        out.push(indent(&pretty(decoded(result))));
    }
    out.join("\n")
}

/// JSON pretty-printed; a string that is not JSON as it is.
fn pretty(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => serde_json::to_string_pretty(&other).unwrap_or_else(|_| other.to_string()),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
