//! A worker daemon for the end-to-end tests (`tests/e2e_processes.rs`, `chaos.rs`,
//! `faults.rs`, `flow_processes.rs`): runs the jobs of [`jobs_tests::e2e`] from a Redis server until SIGTERM or
//! ctrl-c.
//!
//! ```text
//! e2e_worker [--redis-url URL] [--prefix PREFIX] [--lease-ms N] [--grace-ms N]
//!            [--concurrency N] [--max-stalls N] [--registry-ttl-ms N] [--lazy]
//! ```
//!
//! The URL falls back to `$REDIS_URL`; every setting not given keeps the framework's
//! default (`--max-stalls` is the backend's: lease expiries before a job is dead). Once
//! connected it prints `ready pid=<pid>` on stdout, so a test can wait for that line. With
//! `--lazy` it does not connect first (`RedisBackendBuilder::build`): it prints the line at
//! once and, if Redis is down, waits for it like a running worker would, instead of
//! exiting; for tests that start workers while Redis restarts. Logs go to stderr
//! (`RUST_LOG`, default `info`).
//!
//! SIGTERM or SIGINT (ctrl-c) shut it down gracefully from the moment the ready line is out.
//!
//! Exit status: 0 after a graceful shutdown, 1 if Redis cannot be reached (without
//! `--lazy`) or the worker refuses to start, 2 on bad arguments.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use jobs_core::{Client, Worker};
use jobs_redis::RedisBackend;
use jobs_tests::e2e::{KeyedSleep, LoggedSleep, PidSleep};
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: e2e_worker [--redis-url URL] [--prefix PREFIX] [--lease-ms N] \
                     [--grace-ms N] [--concurrency N] [--max-stalls N] \
                     [--registry-ttl-ms N] [--lazy]";

#[derive(Debug, Default)]
struct Args {
    redis_url: Option<String>,
    prefix: Option<String>,
    lease: Option<Duration>,
    grace: Option<Duration>,
    concurrency: Option<usize>,
    max_stalls: Option<u32>,
    registry_ttl: Option<Duration>,
    lazy: bool,
}

fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| format!("{flag} {v:?}: {e}"))
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args::default();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let millis = |v: String| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| format!("{flag} {v:?}: {e}"))
        };
        match flag.as_str() {
            "--redis-url" => out.redis_url = Some(value()?),
            "--prefix" => out.prefix = Some(value()?),
            "--lease-ms" => out.lease = Some(millis(value()?)?),
            "--grace-ms" => out.grace = Some(millis(value()?)?),
            "--concurrency" => out.concurrency = Some(number(&flag, value()?)?),
            "--max-stalls" => out.max_stalls = Some(number(&flag, value()?)?),
            "--registry-ttl-ms" => out.registry_ttl = Some(millis(value()?)?),
            "--lazy" => out.lazy = true,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("e2e_worker: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(url) = args
        .redis_url
        .or_else(|| std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty()))
    else {
        eprintln!("e2e_worker: no Redis URL: pass --redis-url or set REDIS_URL\n{USAGE}");
        return ExitCode::from(2);
    };

    let mut backend = RedisBackend::builder(&url);
    if let Some(prefix) = args.prefix {
        backend = backend.prefix(prefix);
    }
    if let Some(max_stalls) = args.max_stalls {
        backend = backend.max_stalls(max_stalls);
    }
    let backend = if args.lazy {
        backend.build()
    } else {
        backend.connect().await
    };
    let backend = match backend {
        Ok(backend) => backend,
        Err(e) => {
            tracing::error!(error = %e, "cannot connect");
            return ExitCode::FAILURE;
        }
    };

    let mut worker = Worker::builder(Client::new(backend))
        .register::<LoggedSleep>()
        .register::<PidSleep>()
        .register::<KeyedSleep>();
    if let Some(lease) = args.lease {
        worker = worker.lease(lease);
    }
    if let Some(grace) = args.grace {
        worker = worker.shutdown_grace(grace);
    }
    if let Some(concurrency) = args.concurrency {
        worker = worker.concurrency(concurrency);
    }
    if let Some(ttl) = args.registry_ttl {
        worker = worker.registry_ttl(ttl);
    }
    // Listen for SIGTERM and SIGINT before saying ready: `Worker::run` would install its
    // handlers only once it runs, and a test that signals a worker right after the line
    // would find the default action (death) instead of a graceful shutdown.
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    };
    // Stdout is line-buffered: the line is out as soon as it is printed.
    println!("ready pid={}", std::process::id());
    match worker.build().run_until(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the worker refused to start");
            ExitCode::FAILURE
        }
    }
}
