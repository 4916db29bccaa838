//! `jobs wait QUEUE ID` and `jobs wait --batch ID`: follow to the end, with a progress bar
//! on a terminal and plain lines elsewhere; the exit status says how it ended.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jobs_core::event::EventKind;
use jobs_core::{BatchId, BatchStatus, JobId, JobInfo, JobState};
use tokio::time::Instant;

use crate::cli::WaitArgs;
use crate::connect::JobsClient;
use crate::exit::{self, CliError, Exit};
use crate::render;
use crate::view::{BatchView, JobView, WaitJobView};

/// Longest pause between two looks at the record (events wake the wait sooner).
const RECHECK: Duration = Duration::from_secs(1);
/// Pause between two looks at a batch's counts (a batch has no event stream of its own).
const BATCH_POLL: Duration = Duration::from_millis(500);

/// Waits as asked.
pub async fn run(client: &JobsClient, args: WaitArgs) -> anyhow::Result<Exit> {
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let mut show = Show::new(args.out.json);
    let result = match (args.batch, args.queue, args.id) {
        (Some(batch), _, _) => wait_batch(client, batch, deadline, &mut show).await,
        (None, Some(queue), Some(id)) => wait_job(client, &queue, id, deadline, &mut show).await,
        _ => Err(exit::usage("give QUEUE ID, or --batch BATCH_ID")),
    };
    // Whatever the end (an error too), the bar leaves the terminal before the last line.
    show.done();
    result
}

/// How the wait shows itself: a bar, lines, or nothing until the JSON at the end.
enum Show {
    Bar(ProgressBar),
    Lines(Option<String>),
    Json,
}

impl Show {
    fn new(json: bool) -> Self {
        if json {
            Show::Json
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(100);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos:>3}/{len} {wide_msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            Show::Bar(bar)
        } else {
            Show::Lines(None)
        }
    }

    /// Shows `message` at `position` of `length`; lines print only what changed.
    fn update(&mut self, position: u64, length: u64, message: String) -> anyhow::Result<()> {
        match self {
            Show::Bar(bar) => {
                bar.set_length(length);
                bar.set_position(position);
                bar.set_message(message);
            }
            Show::Lines(last) => {
                if last.as_deref() != Some(message.as_str()) {
                    render::line(&message)?;
                    *last = Some(message);
                }
            }
            Show::Json => {}
        }
        Ok(())
    }

    fn done(&self) {
        if let Show::Bar(bar) = self {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }

    fn json(&self) -> bool {
        matches!(self, Show::Json)
    }
}

fn ended(state: JobState) -> bool {
    matches!(
        state,
        JobState::Succeeded | JobState::Dead | JobState::Cancelled | JobState::Expired
    )
}

/// The time left before `deadline`, or the timed-out error.
fn left(deadline: Option<Instant>, what: impl FnOnce() -> String) -> anyhow::Result<Duration> {
    let Some(deadline) = deadline else {
        return Ok(Duration::MAX);
    };
    let now = Instant::now();
    if now >= deadline {
        return Err(CliError {
            exit: Exit::TimedOut,
            message: format!("timed out: {}", what()),
        }
        .into());
    }
    Ok(deadline - now)
}

async fn wait_job(
    client: &JobsClient,
    queue: &str,
    id: JobId,
    deadline: Option<Instant>,
    show: &mut Show,
) -> anyhow::Result<Exit> {
    super::known_queue(client, queue).await?;
    // The cursor first, then the record: an ending between the two is in the stream.
    let mut events = client.subscribe_from_now(queue).await?;
    let mut seen: Option<JobState> = None;
    let mut final_event: Option<EventKind> = None;
    loop {
        let Some(job) = client.job(queue, id).await? else {
            return match (seen, final_event) {
                // Ended and removed at once (retention keeps nothing of it).
                (Some(_), Some(kind)) => gone(id, &kind, show),
                _ => Err(exit::not_found(format!(
                    "job {id} not found in queue {queue:?}"
                ))),
            };
        };
        seen = Some(job.state);
        if ended(job.state) {
            return finish(&job, show);
        }
        let percent = job.progress.as_ref().map_or(0, |p| u64::from(p.percent));
        let message = match &job.progress {
            Some(p) => format!("job {id} {} {}% {}", job.state.name(), p.percent, p.message),
            None => format!("job {id} {}", job.state.name()),
        };
        show.update(percent, 100, message.trim_end().to_owned())?;
        // Sleep until this job's next event, or a while (events may be trimmed or off).
        let until = Instant::now()
            + RECHECK.min(left(deadline, || {
                format!("job {id} still {}", job.state.name())
            })?);
        while let Ok(event) = tokio::time::timeout_at(until, events.next()).await {
            let event = event?;
            if event.job == id {
                if event.is_final() {
                    final_event = Some(event.kind);
                }
                break;
            }
        }
    }
}

/// The job ended: print how, and exit 0 only if it succeeded.
fn finish(job: &JobInfo, show: &Show) -> anyhow::Result<Exit> {
    show.done();
    let exit = if job.state == JobState::Succeeded {
        Exit::Ok
    } else {
        Exit::Failed
    };
    if show.json() {
        render::json(&WaitJobView {
            id: job.id.to_string(),
            state: job.state.name(),
            job: Some(JobView::from(job)),
        })?;
        return Ok(exit);
    }
    let line = match job.state {
        JobState::Succeeded => match &job.result {
            Some(result) => format!("job {} succeeded: {}", job.id, crate::view::decoded(result)),
            None => format!("job {} succeeded", job.id),
        },
        JobState::Cancelled => format!("job {} cancelled", job.id),
        JobState::Expired => format!("job {} expired before it started", job.id),
        _ => format!(
            "job {} dead after {}/{} attempts: {}",
            job.id,
            job.attempts,
            job.max_attempts,
            job.last_error.as_deref().unwrap_or("no error recorded")
        ),
    };
    render::line(line)?;
    Ok(exit)
}

/// The job ended and its record is already gone: the final event says how.
fn gone(id: JobId, kind: &EventKind, show: &Show) -> anyhow::Result<Exit> {
    show.done();
    let (state, exit) = match kind {
        EventKind::Succeeded => (JobState::Succeeded, Exit::Ok),
        EventKind::Cancelled => (JobState::Cancelled, Exit::Failed),
        _ => (JobState::Dead, Exit::Failed),
    };
    if show.json() {
        render::json(&WaitJobView {
            id: id.to_string(),
            state: state.name(),
            job: None,
        })?;
    } else {
        let reason = match kind {
            EventKind::Dead { reason } => format!(": {reason}"),
            _ => String::new(),
        };
        render::line(format!(
            "job {id} {}{reason} (its record is no longer kept)",
            state.name()
        ))?;
    }
    Ok(exit)
}

async fn wait_batch(
    client: &JobsClient,
    id: BatchId,
    deadline: Option<Instant>,
    show: &mut Show,
) -> anyhow::Result<Exit> {
    loop {
        let Some(status) = client.batch_status(id).await? else {
            return Err(exit::not_found(format!("batch {id} not found")));
        };
        if status.finished {
            return finish_batch(&status, show);
        }
        let ended = status.succeeded + status.dead;
        show.update(
            ended,
            status.total,
            format!(
                "batch {id}: {ended}/{} ended ({} succeeded, {} dead, {} running)",
                status.total, status.succeeded, status.dead, status.running
            ),
        )?;
        let pause = BATCH_POLL.min(left(deadline, || {
            format!("batch {id} has {} members pending", status.pending)
        })?);
        tokio::time::sleep(pause).await;
    }
}

/// The batch ended: exit 0 only if every member succeeded.
fn finish_batch(status: &BatchStatus, show: &Show) -> anyhow::Result<Exit> {
    show.done();
    let exit = if status.dead == 0 {
        Exit::Ok
    } else {
        Exit::Failed
    };
    if show.json() {
        render::json(&BatchView::from(status))?;
    } else if status.dead == 0 {
        render::line(format!(
            "batch {}: all {} members succeeded",
            status.id, status.total
        ))?;
    } else {
        let ids: Vec<String> = status.dead_jobs.iter().map(ToString::to_string).collect();
        render::line(format!(
            "batch {}: {} of {} members dead: {}",
            status.id,
            status.dead,
            status.total,
            ids.join(", ")
        ))?;
    }
    Ok(exit)
}
