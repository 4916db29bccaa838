//! The command line's arguments: global options and one variant per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jobs_core::event::EventCursor;
use jobs_core::{BatchId, JobId, JobState, ListCursor};

use crate::parse::{Since, parse_since};

/// Printed after every `--help`: what the exit status means.
const EXIT_CODES: &str = "\
Exit status:
  0  done (for `wait`: the job, or every batch member, succeeded)
  1  error: Redis unreachable, a command refused (ACL), ...; for `wait`: the job ended
     dead, cancelled or expired (or a batch member did)
  2  bad usage: unknown option, malformed job id, cursor, state or time
  3  not found: no such job, or a queue the store does not know
  4  `wait` timed out before the end";

/// Inspect and steer the background jobs kept in Redis.
#[derive(Debug, Clone, Parser)]
#[command(name = "jobs", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Where the store is and how to reach it.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes: where the store is.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Redis URL (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS). With
    /// `--cluster`: the seed nodes, comma-separated.
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true,
        hide_env_values = true
    )]
    pub redis_url: String,
    /// Key prefix of the store [default: the backend's, `jobs`].
    #[arg(long, env = "JOBS_PREFIX", global = true)]
    pub prefix: Option<String>,
    /// The URL names Redis Cluster seed nodes (comma-separated).
    #[arg(long, global = true)]
    pub cluster: bool,
    /// PEM file of the CA(s) to trust for a `rediss://` server, instead of the system's.
    #[arg(long, env = "JOBS_TLS_CA", value_name = "FILE", global = true)]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS; needs `--tls-key`.
    #[arg(
        long,
        env = "JOBS_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key",
        global = true
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(
        long,
        env = "JOBS_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert",
        global = true
    )]
    pub tls_key: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Counts per state, paused or not, and throughput, per queue.
    Stats(StatsArgs),
    /// One page of a queue's jobs in one state; prints the cursor of the next page.
    List(ListArgs),
    /// One job: arguments, attempts, times, error, progress, result.
    Show(ShowArgs),
    /// Moves dead (cancelled, expired) jobs back to ready with fresh attempts.
    Retry(RetryArgs),
    /// Deletes waiting or ended jobs (running ones are left: cancel them first).
    Delete(IdsArgs),
    /// Deletes every job of a queue in one state.
    Purge(PurgeArgs),
    /// Cancels jobs: waiting ones never run, running ones are asked to stop.
    Cancel(IdsArgs),
    /// Pauses a queue for every worker: no job of it starts until resumed.
    Pause(QueueArg),
    /// Resumes a paused queue.
    Resume(QueueArg),
    /// Follows a queue's events live, one line each, until Ctrl-C.
    Events(EventsArgs),
    /// Waits for a job (or a batch) to end, with a progress bar on a terminal.
    #[command(
        group = clap::ArgGroup::new("target").required(true).args(["id", "batch"]),
        override_usage = "jobs wait [OPTIONS] QUEUE ID\n       jobs wait [OPTIONS] --batch BATCH_ID"
    )]
    Wait(WaitArgs),
    /// The live workers and what they run.
    Workers(JsonArg),
    /// Serves the web dashboard (and Prometheus metrics at `/metrics`) until Ctrl-C.
    Web(WebArgs),
}

/// `jobs web`.
#[derive(Debug, Clone, Args)]
pub struct WebArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: std::net::SocketAddr,
    /// Show everything, change nothing: every retry, delete, purge, cancel and pause is
    /// refused (403) and its button hidden.
    #[arg(long)]
    pub read_only: bool,
    /// Require this token (`Authorization: Bearer TOKEN`, or open the page once with
    /// `?token=TOKEN`, which sets a cookie).
    #[arg(long, env = "JOBS_WEB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Do not serve `/metrics` (nor refresh the queue-depth gauges).
    #[arg(long)]
    pub no_metrics: bool,
}

/// `--json`, for the read commands.
#[derive(Debug, Clone, Copy, Args)]
pub struct JsonArg {
    /// Print JSON (one object; `events`: one object per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `jobs stats`.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// The queue [default: every queue the store knows].
    pub queue: Option<String>,
    #[command(flatten)]
    pub out: JsonArg,
}

/// A job state as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// Waiting for their run-at time.
    Scheduled,
    /// Waiting for a worker.
    Ready,
    /// Running.
    Active,
    /// Succeeded (as retention keeps them).
    Succeeded,
    /// Dead, cancelled and expired.
    Dead,
}

impl From<StateArg> for JobState {
    fn from(s: StateArg) -> Self {
        match s {
            StateArg::Scheduled => JobState::Scheduled,
            StateArg::Ready => JobState::Ready,
            StateArg::Active => JobState::Active,
            StateArg::Succeeded => JobState::Succeeded,
            StateArg::Dead => JobState::Dead,
        }
    }
}

/// The states `purge` takes (not `active`: cancel running jobs instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PurgeState {
    /// Waiting for their run-at time.
    Scheduled,
    /// Waiting for a worker.
    Ready,
    /// Succeeded.
    Succeeded,
    /// Dead, cancelled and expired.
    Dead,
}

impl From<PurgeState> for JobState {
    fn from(s: PurgeState) -> Self {
        match s {
            PurgeState::Scheduled => JobState::Scheduled,
            PurgeState::Ready => JobState::Ready,
            PurgeState::Succeeded => JobState::Succeeded,
            PurgeState::Dead => JobState::Dead,
        }
    }
}

/// `jobs list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The queue.
    pub queue: String,
    /// Which jobs.
    #[arg(long, short)]
    pub state: StateArg,
    /// Jobs per page (at most 500).
    #[arg(long, short, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub limit: u16,
    /// Start after this cursor, as the previous page printed it.
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<ListCursor>,
    #[command(flatten)]
    pub out: JsonArg,
}

/// `jobs show`.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The queue.
    pub queue: String,
    /// The job's id.
    pub id: JobId,
    #[command(flatten)]
    pub out: JsonArg,
}

/// `jobs retry`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["ids", "all_dead"]))]
pub struct RetryArgs {
    /// The queue.
    pub queue: String,
    /// The dead jobs to retry.
    #[arg(value_name = "ID")]
    pub ids: Vec<JobId>,
    /// Every dead (cancelled, expired) job of the queue.
    #[arg(long)]
    pub all_dead: bool,
    /// With `--all-dead`: only jobs that ended at or after this time (RFC 3339, e.g.
    /// `2026-12-03T07:00:00Z`, or a duration ago, e.g. `2h`, `30m`).
    #[arg(long, requires = "all_dead", value_parser = parse_since, value_name = "TIME")]
    pub since: Option<Since>,
}

/// `jobs delete`, `jobs cancel`.
#[derive(Debug, Clone, Args)]
pub struct IdsArgs {
    /// The queue.
    pub queue: String,
    /// The jobs.
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<JobId>,
}

/// `jobs purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// The queue.
    pub queue: String,
    /// Which jobs.
    #[arg(long, short)]
    pub state: PurgeState,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

/// `jobs pause`, `jobs resume`.
#[derive(Debug, Clone, Args)]
pub struct QueueArg {
    /// The queue.
    pub queue: String,
}

/// `jobs events`.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// The queue.
    pub queue: String,
    /// Start after this event cursor (`ms-seq/index`, as printed) [default: now].
    #[arg(long, value_name = "CURSOR")]
    pub from: Option<EventCursor>,
    #[command(flatten)]
    pub out: JsonArg,
}

/// `jobs wait`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// The job's queue (not with `--batch`).
    #[arg(requires = "id", conflicts_with = "batch")]
    pub queue: Option<String>,
    /// The job's id.
    pub id: Option<JobId>,
    /// Wait for a batch instead: every member ended and its callbacks fired.
    #[arg(long, value_name = "BATCH_ID")]
    pub batch: Option<BatchId>,
    /// Give up after this long (e.g. `30s`, `5m`) with exit status 4 [default: no limit].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub out: JsonArg,
}
