//! The commands that change jobs and queues: `retry`, `delete`, `purge`, `cancel`,
//! `pause`, `resume`.

use std::io::{BufRead, IsTerminal, Write};

use jobs_core::backend::CancelOutcome;
use jobs_core::{Deleted, JobState};

use crate::cli::{IdsArgs, PurgeArgs, QueueArg, RetryArgs};
use crate::connect::JobsClient;
use crate::exit::{self, Exit};
use crate::render;

/// Exit 3 when some of the ids were not found, else 0.
fn status(missing: usize) -> Exit {
    if missing > 0 {
        Exit::NotFound
    } else {
        Exit::Ok
    }
}

/// `jobs retry`: the given dead jobs, or every dead one (since a time).
pub async fn retry(client: &JobsClient, args: RetryArgs) -> anyhow::Result<Exit> {
    super::known_queue(client, &args.queue).await?;
    if args.all_dead {
        let since = args.since.map(|s| s.0);
        let moved = client.retry_dead_where(&args.queue, since).await?;
        render::line(format!("retried {moved} dead jobs of {}", args.queue))?;
        return Ok(Exit::Ok);
    }
    let found = client.jobs(&args.queue, &args.ids).await?;
    let mut dead = Vec::new();
    let mut missing = 0;
    for (id, job) in args.ids.iter().zip(&found) {
        match job {
            None => {
                missing += 1;
                render::line(format!("{id}: not found"))?;
            }
            Some(j)
                if matches!(
                    j.state,
                    JobState::Dead | JobState::Cancelled | JobState::Expired
                ) =>
            {
                dead.push(*id)
            }
            Some(j) => render::line(format!("{id}: not dead ({}), left", j.state.name()))?,
        }
    }
    let moved = if dead.is_empty() {
        0
    } else {
        client.retry_dead(&args.queue, &dead).await?
    };
    render::line(format!("retried {moved} of {} jobs", args.ids.len()))?;
    Ok(status(missing))
}

/// `jobs delete`: one line per id.
pub async fn delete(client: &JobsClient, args: IdsArgs) -> anyhow::Result<Exit> {
    super::known_queue(client, &args.queue).await?;
    let answers = client.delete_jobs(&args.queue, &args.ids).await?;
    let mut missing = 0;
    for (id, answer) in args.ids.iter().zip(answers) {
        let said = match answer {
            Deleted::Deleted => "deleted",
            Deleted::Running => "running, left (cancel it first)",
            Deleted::NotFound => {
                missing += 1;
                "not found"
            }
            _ => "unknown answer",
        };
        render::line(format!("{id}: {said}"))?;
    }
    Ok(status(missing))
}

/// `jobs cancel`: one line per id.
pub async fn cancel(client: &JobsClient, args: IdsArgs) -> anyhow::Result<Exit> {
    super::known_queue(client, &args.queue).await?;
    let mut missing = 0;
    for id in &args.ids {
        let said = match client.cancel(&args.queue, *id).await? {
            CancelOutcome::Cancelled => "cancelled",
            CancelOutcome::Requested => "running: asked to stop",
            CancelOutcome::Finished => "already ended, left",
            CancelOutcome::NotFound => {
                missing += 1;
                "not found"
            }
            _ => "unknown answer",
        };
        render::line(format!("{id}: {said}"))?;
    }
    Ok(status(missing))
}

/// `jobs purge`: asks first on a terminal; refuses without `--yes` otherwise.
pub async fn purge(client: &JobsClient, args: PurgeArgs) -> anyhow::Result<Exit> {
    super::known_queue(client, &args.queue).await?;
    let state = JobState::from(args.state);
    if !args.yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(exit::usage(
                "purge deletes jobs for good: pass --yes to confirm (stdin is not a terminal)",
            ));
        }
        let count = count(client, &args.queue, state).await?;
        if count == 0 {
            render::line(format!("no {} jobs to delete", state.name()))?;
            return Ok(Exit::Ok);
        }
        eprint!(
            "Delete all {count} {} jobs of queue {:?}? [y/N] ",
            state.name(),
            args.queue
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            render::line("nothing deleted")?;
            return Ok(Exit::Ok);
        }
    }
    let n = client.purge(&args.queue, state).await?;
    render::line(format!(
        "deleted {n} {} jobs of {}",
        state.name(),
        args.queue
    ))?;
    Ok(Exit::Ok)
}

/// How many jobs of `queue` are in `state`, for the confirmation question.
async fn count(client: &JobsClient, queue: &str, state: JobState) -> anyhow::Result<u64> {
    let stats = client.stats(queue).await?;
    Ok(match state {
        JobState::Scheduled => stats.scheduled,
        JobState::Ready => stats.ready,
        JobState::Succeeded => stats.succeeded,
        _ => stats.dead,
    })
}

/// `jobs pause` (`paused`) and `jobs resume`.
pub async fn pause(client: &JobsClient, args: QueueArg, paused: bool) -> anyhow::Result<Exit> {
    if paused {
        client.pause(&args.queue).await?;
        render::line(format!("paused {}", args.queue))?;
    } else {
        client.resume(&args.queue).await?;
        render::line(format!("resumed {}", args.queue))?;
    }
    Ok(Exit::Ok)
}
