//! An enqueuer for the cross-process race of unique jobs (`tests/unique_processes.rs`):
//! connects, says it is ready, waits for the start signal, then fires `--count` enqueues of
//! one unique [`LoggedSleep`] at once and prints what each got.
//!
//! ```text
//! unique_enqueuer --redis-url URL --prefix PREFIX --queue QUEUE
//!                 --hold while-waiting|until-done|period-ms=N
//!                 [--key KEY] [--on-conflict reject|replace|debounce] [--delay-ms N]
//!                 [--count N]
//! ```
//!
//! Without `--key` the uniqueness key is the job's name and arguments (the same in every
//! process). `--count` defaults to 1.
//!
//! Once connected it prints `ready pid=<pid>` and reads its stdin to the end: the start
//! barrier. A test gives every enqueuer the read end of one pipe and closes the write end
//! to release them all at the same moment. It then prints `released <us>` (microseconds
//! since the Unix epoch), starts the enqueues together (each with an id of its own), and
//! prints one line per answer, in the order they arrive:
//!
//! - `stored <id>`: the job was stored under the id this enqueue gave it;
//! - `duplicate <id>`: refused (`EnqueueError::Duplicate`), `<id>` holds the key;
//! - `debounced <id>`: answered with another job's id (`OnConflict::Debounce`), not stored;
//! - `error <message>`: any other failure.
//!
//! and last `done <us>`, when the last answer came.
//!
//! Exit status: 0 when every enqueue answered without error, 1 otherwise or if Redis cannot
//! be reached, 2 on bad arguments. Logs go to stderr (`RUST_LOG`, default `warn`).

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::time::Duration;

use jobs_core::{Client, EnqueueError, JobId, OnConflict, Unique, UniqueFor};
use jobs_redis::RedisBackend;
use jobs_tests::e2e::{LoggedSleep, now_us};
use tokio::task::JoinSet;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: unique_enqueuer --redis-url URL --prefix PREFIX --queue QUEUE \
                     --hold while-waiting|until-done|period-ms=N [--key KEY] \
                     [--on-conflict reject|replace|debounce] [--delay-ms N] [--count N]";

#[derive(Debug)]
struct Args {
    redis_url: String,
    prefix: String,
    queue: String,
    unique: Unique,
    delay: Option<Duration>,
    count: usize,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut url, mut prefix, mut queue, mut hold) = (None, None, None, None);
    let (mut key, mut on_conflict, mut delay, mut count) = (None, OnConflict::Reject, None, 1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v:?}: {e}"));
        match flag.as_str() {
            "--redis-url" => url = Some(value()?),
            "--prefix" => prefix = Some(value()?),
            "--queue" => queue = Some(value()?),
            "--key" => key = Some(value()?),
            "--hold" => {
                let v = value()?;
                hold = Some(match v.as_str() {
                    "while-waiting" => UniqueFor::Waiting,
                    "until-done" => UniqueFor::WaitingOrRunning,
                    _ => match v.strip_prefix("period-ms=") {
                        Some(ms) => UniqueFor::Period(Duration::from_millis(number(ms)?)),
                        None => return Err(format!("--hold {v:?}: unknown hold")),
                    },
                });
            }
            "--on-conflict" => {
                let v = value()?;
                on_conflict = match v.as_str() {
                    "reject" => OnConflict::Reject,
                    "replace" => OnConflict::Replace,
                    "debounce" => OnConflict::Debounce,
                    _ => return Err(format!("--on-conflict {v:?}: unknown")),
                };
            }
            "--delay-ms" => delay = Some(Duration::from_millis(number(&value()?)?)),
            "--count" => {
                count = usize::try_from(number(&value()?)?).map_err(|e| e.to_string())?;
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    let missing = |what: &str| format!("{what} is required");
    let mut unique = Unique::new(hold.ok_or_else(|| missing("--hold"))?).on_conflict(on_conflict);
    if let Some(key) = key {
        unique = unique.key(key);
    }
    Ok(Args {
        redis_url: url.ok_or_else(|| missing("--redis-url"))?,
        prefix: prefix.ok_or_else(|| missing("--prefix"))?,
        queue: queue.ok_or_else(|| missing("--queue"))?,
        unique,
        delay,
        count,
    })
}

/// One enqueue, with an id of its own; its answer as a line of output.
async fn enqueue(client: Client<RedisBackend>, args: &Args) -> String {
    let mine = JobId::new();
    // The same arguments in every process: without `--key`, the same uniqueness key.
    let job = LoggedSleep {
        ledger: "unique-race".to_owned(),
        ms: 0,
    };
    let mut enqueue = client
        .enqueue(job)
        .queue(args.queue.clone())
        .id(mine)
        .unique(args.unique.clone());
    if let Some(delay) = args.delay {
        enqueue = enqueue.delay(delay);
    }
    match enqueue.await {
        Ok(id) if id == mine => format!("stored {id}"),
        Ok(id) => format!("debounced {id}"),
        Err(EnqueueError::Duplicate { existing, .. }) => format!("duplicate {existing}"),
        Err(e) => format!("error {e}"),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("unique_enqueuer: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let backend = RedisBackend::builder(&args.redis_url)
        .prefix(args.prefix.clone())
        .connect()
        .await;
    let client = match backend {
        Ok(backend) => Client::new(backend),
        Err(e) => {
            tracing::error!(error = %e, "cannot connect");
            return ExitCode::FAILURE;
        }
    };

    // Stdout is line-buffered: the line is out as soon as it is printed.
    println!("ready pid={}", std::process::id());
    // The start barrier: the end of stdin. Blocking, but nothing else runs yet.
    let mut rest = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut rest) {
        eprintln!("unique_enqueuer: reading stdin: {e}");
        return ExitCode::FAILURE;
    }
    println!("released {}", now_us());

    let args = std::sync::Arc::new(args);
    let mut tasks = JoinSet::new();
    for _ in 0..args.count {
        let (client, args) = (client.clone(), args.clone());
        tasks.spawn(async move { enqueue(client, &args).await });
    }
    let mut failed = false;
    while let Some(line) = tasks.join_next().await {
        let line = line.unwrap_or_else(|e| format!("error the enqueue task failed: {e}"));
        failed |= line.starts_with("error ");
        println!("{line}");
    }
    println!("done {}", now_us());
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
