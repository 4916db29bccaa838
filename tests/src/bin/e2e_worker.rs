//! A worker daemon for the end-to-end tests (`tests/e2e_processes.rs`): runs the jobs of
//! [`jobs_tests::e2e`] from a Redis server until SIGTERM or ctrl-c.
//!
//! ```text
//! e2e_worker [--redis-url URL] [--prefix PREFIX] [--lease-ms N] [--grace-ms N]
//! ```
//!
//! The URL falls back to `$REDIS_URL`; every setting not given keeps the framework's
//! default. Once connected it prints `ready pid=<pid>` on stdout, so a test can wait for
//! that line. Logs go to stderr (`RUST_LOG`, default `info`).
//!
//! Exit status: 0 after a graceful shutdown, 1 if Redis cannot be reached or the worker
//! refuses to start, 2 on bad arguments.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use jobs_core::{Client, Worker};
use jobs_redis::RedisBackend;
use jobs_tests::e2e::LoggedSleep;
use tracing_subscriber::EnvFilter;

const USAGE: &str =
    "usage: e2e_worker [--redis-url URL] [--prefix PREFIX] [--lease-ms N] [--grace-ms N]";

#[derive(Debug, Default)]
struct Args {
    redis_url: Option<String>,
    prefix: Option<String>,
    lease: Option<Duration>,
    grace: Option<Duration>,
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
    let backend = match backend.connect().await {
        Ok(backend) => backend,
        Err(e) => {
            tracing::error!(error = %e, "cannot connect");
            return ExitCode::FAILURE;
        }
    };

    let mut worker = Worker::builder(Client::new(backend)).register::<LoggedSleep>();
    if let Some(lease) = args.lease {
        worker = worker.lease(lease);
    }
    if let Some(grace) = args.grace {
        worker = worker.shutdown_grace(grace);
    }
    // Stdout is line-buffered: the line is out as soon as it is printed.
    println!("ready pid={}", std::process::id());
    match worker.build().run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the worker refused to start");
            ExitCode::FAILURE
        }
    }
}
