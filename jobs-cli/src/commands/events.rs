//! `jobs events QUEUE`: the queue's event stream, live, until Ctrl-C.

use std::time::Duration;

use jobs_core::event::{EventCursor, EventKind};
use jobs_core::{Backend, Event};

use crate::cli::EventsArgs;
use crate::connect::JobsClient;
use crate::exit::Exit;
use crate::render;
use crate::view::EventView;

/// Stream entries read per call.
const READ_ENTRIES: usize = 100;
/// How long one read blocks before reading again.
const READ_WAIT: Duration = Duration::from_secs(2);

/// Prints events as they come; returns on Ctrl-C.
pub async fn run(client: &JobsClient, args: EventsArgs) -> anyhow::Result<Exit> {
    let cursor = match args.from.clone() {
        Some(cursor) => Some(cursor),
        None => client.backend().last_event(&args.queue).await?,
    };
    tokio::select! {
        result = follow(client, &args, cursor) => result,
        _ = tokio::signal::ctrl_c() => Ok(Exit::Ok),
    }
}

/// Reads and prints events after `cursor`, for ever.
async fn follow(
    client: &JobsClient,
    args: &EventsArgs,
    mut cursor: Option<EventCursor>,
) -> anyhow::Result<Exit> {
    loop {
        let events = client
            .backend()
            .read_events(&args.queue, cursor.clone(), READ_ENTRIES, READ_WAIT)
            .await?;
        for event in &events {
            if args.out.json {
                render::json(&EventView::from(event))?;
            } else {
                render::line(describe(event))?;
            }
            cursor = Some(event.cursor.clone());
        }
    }
}
/// One event for humans: time, cursor, job, what happened.
fn describe(event: &Event) -> String {
    let what = match &event.kind {
        EventKind::Progress { percent, message } => format!("progress {percent}% {message}"),
        EventKind::Failed { error } => format!("failed: {}", error.lines().next().unwrap_or("")),
        EventKind::Retrying { reason } => format!("retrying: {reason}"),
        EventKind::Dead { reason } => format!("dead: {reason}"),
        other => other.name().to_owned(),
    };
    format!(
        "{} {} {} {}",
        render::time(event.at_ms()),
        event.cursor,
        event.job,
        what.trim_end()
    )
}
