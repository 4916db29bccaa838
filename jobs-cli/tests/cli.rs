//! The `jobs` binary against a private `redis-server` per test: every command, its
//! `--json` output and its exit status, and the bad inputs (an unreachable Redis, an
//! unknown queue, a malformed id, a refused ACL permission). The store is seeded through
//! `jobs_core::Client`; jobs run on an in-test `Worker`.

use std::process::Stdio;
use std::time::Duration;

use jobs_core::{Backend, Client, JobContext, JobError, JobId, JobState, Worker, WorkerInfo, job};
use jobs_redis::RedisBackend;
use jobs_tests::redis_cluster::RedisCluster;
use jobs_tests::redis_server::{RedisServer, TestCa};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The queue the test jobs use.
const Q: &str = "cli";
/// Longest wait for anything one step of a test expects.
const PATIENCE: Duration = Duration::from_secs(20);

/// Succeeds with a greeting.
#[job(queue = "cli")]
async fn greet(name: String) -> Result<String, JobError> {
    Ok(format!("hello {name}"))
}

/// Fails for good with `why`.
#[job(queue = "cli", max_attempts = 1)]
async fn explode(why: String) -> Result<(), JobError> {
    Err(JobError::permanent(why))
}

/// Reports progress, then succeeds.
#[job(queue = "cli")]
async fn crunch(steps: u8, ctx: JobContext) -> Result<u8, JobError> {
    for step in 1..=steps {
        let percent = u16::from(step) * 100 / u16::from(steps.max(1));
        ctx.progress(u8::try_from(percent).unwrap_or(100), format!("step {step}"));
    }
    Ok(steps)
}

/// A private server, a client of it, and the binary's way to it.
struct Env {
    server: RedisServer,
    client: Client<RedisBackend>,
    prefix: String,
}

impl Env {
    async fn new() -> Env {
        Env::with_prefix("jobs").await
    }

    async fn with_prefix(prefix: &str) -> Env {
        let server = RedisServer::start().expect("start a private redis-server");
        let backend = RedisBackend::builder(&server.url())
            .prefix(prefix)
            .connect()
            .await
            .expect("connect to the private redis-server");
        Env {
            server,
            client: Client::new(backend),
            prefix: prefix.to_owned(),
        }
    }

    /// The binary with this server's URL and prefix.
    fn jobs(&self, args: &[&str]) -> Command {
        jobs_at(&self.server.url(), &self.prefix, args)
    }

    /// Runs the binary to its end.
    async fn run(&self, args: &[&str]) -> Out {
        run(self.jobs(args)).await
    }

    /// Runs the binary and parses its stdout as JSON; it must exit 0.
    async fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        assert_eq!(out.code, 0, "jobs {args:?}: {out:?}");
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }

    /// Starts a worker for the test jobs; cancel the token to stop it.
    fn worker(&self) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let stop = CancellationToken::new();
        let worker = Worker::builder(self.client.clone())
            .register::<Greet>()
            .register::<Explode>()
            .register::<Crunch>()
            .progress_every(Duration::from_millis(10))
            .build();
        let until = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            worker.run_until(until).await.expect("the worker runs");
        });
        (stop, task)
    }

    /// Waits for job `id` to end.
    async fn ended(&self, id: JobId) -> JobState {
        self.client
            .wait_for(Q, id, PATIENCE)
            .await
            .expect("the job ends")
            .state
    }
}

fn jobs_at(url: &str, prefix: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobs"));
    cmd.env_remove("REDIS_URL")
        .env_remove("JOBS_PREFIX")
        .args(["--redis-url", url, "--prefix", prefix])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// What a finished run printed.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(mut cmd: Command) -> Out {
    let out = tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .expect("jobs finished in time")
        .expect("jobs ran");
    Out {
        code: out.status.code().expect("an exit status"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running binary whose stdout is read line by line.
struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().expect("spawn jobs");
        let stdout = child.stdout.take().expect("piped stdout");
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next line, within `PATIENCE`.
    async fn line(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("a line in time")
            .expect("stdout reads")
            .expect("a line before the end")
    }

    /// Every remaining line and the exit status, within `PATIENCE`.
    async fn finish(mut self) -> (Vec<String>, i32) {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        while let Some(line) = tokio::time::timeout_at(deadline, self.lines.next_line())
            .await
            .expect("jobs ended in time")
            .expect("stdout reads")
        {
            lines.push(line);
        }
        let status = tokio::time::timeout_at(deadline, self.child.wait())
            .await
            .expect("jobs exited in time")
            .expect("wait for jobs");
        (lines, status.code().expect("an exit status"))
    }
}

fn queue<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["queues"]
        .as_array()
        .expect("a queue list")
        .iter()
        .find(|q| q["queue"] == name)
        .unwrap_or_else(|| panic!("queue {name} in {stats}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_counts_every_queue_with_throughput() {
    let env = Env::with_prefix("clitest").await;
    let done = env
        .client
        .enqueue(Greet { name: "a".into() })
        .await
        .unwrap();
    let (stop, worker) = env.worker();
    assert_eq!(env.ended(done).await, JobState::Succeeded);
    stop.cancel();
    worker.await.unwrap();
    env.client
        .enqueue(Greet { name: "b".into() })
        .await
        .unwrap();
    env.client
        .enqueue(Greet { name: "c".into() })
        .queue("other")
        .delay(Duration::from_secs(3600))
        .await
        .unwrap();
    env.client.pause("other").await.unwrap();

    let stats = env.json(&["stats", "--json"]).await;
    let cli = queue(&stats, Q);
    assert_eq!(
        (cli["ready"].as_u64(), cli["succeeded"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(cli["paused"], false);
    let windows = cli["throughput"].as_array().expect("windows");
    assert_eq!(windows.len(), 3);
    assert_eq!(windows[0]["minutes"], 1);
    assert_eq!(windows[2]["minutes"], 15);
    assert!(windows[2]["succeeded"].as_u64() >= Some(1), "{windows:?}");
    let other = queue(&stats, "other");
    assert_eq!(
        (other["scheduled"].as_u64(), other["paused"].as_bool()),
        (Some(1), Some(true))
    );

    let one = env.json(&["stats", "other", "--json"]).await;
    assert_eq!(one["queues"].as_array().map(Vec::len), Some(1));

    let text = env.run(&["stats"]).await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.starts_with("QUEUE"), "{text:?}");
    assert!(
        text.stdout.contains("other") && text.stdout.contains("yes"),
        "{text:?}"
    );

    // The wrong prefix sees no store at all.
    let elsewhere = run(jobs_at(&env.server.url(), "jobs", &["stats", Q])).await;
    assert_eq!(elsewhere.code, 3, "{elsewhere:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_with_the_printed_cursor() {
    let env = Env::new().await;
    for name in ["a", "b", "c"] {
        env.client
            .enqueue(Greet { name: name.into() })
            .await
            .unwrap();
    }
    let first = env
        .json(&["list", Q, "--state", "ready", "--limit", "2", "--json"])
        .await;
    assert_eq!(first["state"], "ready");
    assert_eq!(first["jobs"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["jobs"][0]["name"], "greet");
    assert_eq!(first["jobs"][0]["state"], "ready");
    let next = first["next"].as_str().expect("a next cursor").to_owned();
    let rest = env
        .json(&[
            "list", Q, "--state", "ready", "--limit", "2", "--after", &next, "--json",
        ])
        .await;
    assert_eq!(rest["jobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["next"], Value::Null);
    let mut seen: Vec<&str> = first["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["jobs"].as_array().unwrap())
        .filter_map(|j| j["payload"]["name"].as_str())
        .collect();
    seen.sort();
    assert_eq!(seen, ["a", "b", "c"]);

    let text = env
        .run(&["list", Q, "--state", "ready", "--limit", "2"])
        .await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("next page: --after "), "{text:?}");
    let dead = env.run(&["list", Q, "--state", "dead"]).await;
    assert!(dead.stdout.contains("no dead jobs"), "{dead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_decodes_arguments_result_and_error() {
    let env = Env::new().await;
    let good = env
        .client
        .enqueue(Greet { name: "ada".into() })
        .await
        .unwrap();
    let bad = env
        .client
        .enqueue(Explode {
            why: "disk on fire".into(),
        })
        .await
        .unwrap();
    let (stop, worker) = env.worker();
    assert_eq!(env.ended(good).await, JobState::Succeeded);
    assert_eq!(env.ended(bad).await, JobState::Dead);
    stop.cancel();
    worker.await.unwrap();

    let job = env.json(&["show", Q, &good.to_string(), "--json"]).await;
    assert_eq!(job["id"], good.to_string());
    assert_eq!(job["payload"]["name"], "ada");
    assert_eq!(job["result"], "hello ada");
    assert_eq!(
        (job["attempts"].as_u64(), job["deliveries"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(job["finished_at_ms"].as_u64().is_some(), "{job}");

    let dead = env.json(&["show", Q, &bad.to_string(), "--json"]).await;
    assert_eq!(dead["state"], "dead");
    assert!(
        dead["error"]
            .as_str()
            .is_some_and(|e| e.contains("disk on fire")),
        "{dead}"
    );

    let text = env.run(&["show", Q, &bad.to_string()]).await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("attempts    1/1"), "{text:?}");
    assert!(
        text.stdout.contains("\"why\": \"disk on fire\""),
        "{text:?}"
    );

    let missing = env.run(&["show", Q, &JobId::new().to_string()]).await;
    assert_eq!(missing.code, 3, "{missing:?}");
    assert!(missing.stderr.starts_with("error: job "), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_delete_cancel_and_purge() {
    let env = Env::new().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        ids.push(
            env.client
                .enqueue(Greet { name: name.into() })
                .await
                .unwrap(),
        );
    }
    let [a, b, c, d] = [ids[0], ids[1], ids[2], ids[3]].map(|id| id.to_string());

    let cancel = env.run(&["cancel", Q, &a, &b, &c]).await;
    assert_eq!(cancel.code, 0, "{cancel:?}");
    assert_eq!(
        cancel.stdout.matches(": cancelled").count(),
        3,
        "{cancel:?}"
    );
    let stats = env.json(&["stats", Q, "--json"]).await;
    assert_eq!(queue(&stats, Q)["dead"].as_u64(), Some(3));

    let retry = env.run(&["retry", Q, &a]).await;
    assert_eq!(retry.code, 0, "{retry:?}");
    assert!(retry.stdout.contains("retried 1 of 1"), "{retry:?}");
    let all = env.run(&["retry", Q, "--all-dead", "--since", "1h"]).await;
    assert_eq!(all.code, 0, "{all:?}");
    assert!(all.stdout.contains("retried 2 dead jobs"), "{all:?}");
    let stats = env.json(&["stats", Q, "--json"]).await;
    assert_eq!(
        (
            queue(&stats, Q)["ready"].as_u64(),
            queue(&stats, Q)["dead"].as_u64()
        ),
        (Some(4), Some(0))
    );

    let unknown = JobId::new().to_string();
    let delete = env.run(&["delete", Q, &d, &unknown]).await;
    assert_eq!(delete.code, 3, "{delete:?}");
    assert!(
        delete.stdout.contains(&format!("{d}: deleted")),
        "{delete:?}"
    );
    assert!(
        delete.stdout.contains(&format!("{unknown}: not found")),
        "{delete:?}"
    );
    let cancel_missing = env.run(&["cancel", Q, &unknown]).await;
    assert_eq!(cancel_missing.code, 3, "{cancel_missing:?}");

    // Not on a terminal: refused without --yes.
    let refused = env.run(&["purge", Q, "--state", "ready"]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("--yes"), "{refused:?}");
    let purge = env.run(&["purge", Q, "--state", "ready", "--yes"]).await;
    assert_eq!(purge.code, 0, "{purge:?}");
    assert!(purge.stdout.contains("deleted 3 ready jobs"), "{purge:?}");
    let active = env.run(&["purge", Q, "--state", "active", "--yes"]).await;
    assert_eq!(active.code, 2, "{active:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() {
    let env = Env::new().await;
    env.client
        .enqueue(Greet { name: "a".into() })
        .await
        .unwrap();
    let paused = env.run(&["pause", Q]).await;
    assert_eq!(
        (paused.code, paused.stdout.trim()),
        (0, "paused cli"),
        "{paused:?}"
    );
    assert!(env.client.stats(Q).await.unwrap().paused);
    let resumed = env.run(&["resume", Q]).await;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(!env.client.stats(Q).await.unwrap().paused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_the_queue_live() {
    let env = Env::new().await;
    env.client
        .enqueue(Greet { name: "old".into() })
        .await
        .unwrap();
    let from = env
        .client
        .backend()
        .last_event(Q)
        .await
        .unwrap()
        .expect("an event");

    // From a cursor, as JSON: exactly what follows it.
    let mut json = Running::spawn(env.jobs(&["events", Q, "--from", &from.to_string(), "--json"]));
    let id = env
        .client
        .enqueue(Greet { name: "new".into() })
        .await
        .unwrap();
    let (stop, worker) = env.worker();
    // The first event after the cursor is the new job's; the old one runs too.
    let mut kinds = Vec::new();
    loop {
        let line = json.line().await;
        let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            event["cursor"].as_str().is_some() && event["at_ms"].as_u64().is_some(),
            "{event}"
        );
        if kinds.is_empty() {
            assert_eq!(
                (&event["job"], &event["kind"]),
                (&Value::from(id.to_string()), &Value::from("enqueued")),
                "{event}"
            );
        }
        if event["job"] == id.to_string() {
            kinds.push(event["kind"].as_str().unwrap_or("").to_owned());
        }
        if kinds.last().map(String::as_str) == Some("succeeded") {
            break;
        }
    }
    assert!(kinds.contains(&"started".to_owned()), "{kinds:?}");
    json.child.kill().await.unwrap();

    // From now, as text: enqueue until the follower shows one (it starts at some point).
    let mut text = Running::spawn(env.jobs(&["events", Q]));
    let line = tokio::select! {
        line = text.line() => line,
        _ = async {
            loop {
                env.client.enqueue(Greet { name: "later".into() }).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        } => unreachable!(),
    };
    assert!(
        line.contains(" enqueued") || line.contains(" started"),
        "{line}"
    );
    assert!(!line.contains(&id.to_string()), "started from now: {line}");
    // Ctrl-C ends it cleanly.
    let pid = text.child.id().expect("a running child");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("send SIGINT");
    let (_, code) = text.finish().await;
    assert_eq!(code, 0, "Ctrl-C is a clean end");
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_exits_with_how_the_job_ended() {
    let env = Env::new().await;
    let good = env.client.enqueue(Crunch { steps: 4 }).await.unwrap();
    let bad = env
        .client
        .enqueue(Explode {
            why: "no disk".into(),
        })
        .await
        .unwrap();
    let never = env
        .client
        .enqueue(Greet {
            name: "later".into(),
        })
        .delay(Duration::from_secs(3600))
        .await
        .unwrap();

    // Started before the worker: plain lines (not a terminal), then the outcome.
    let waiting_good = Running::spawn(env.jobs(&["wait", Q, &good.to_string()]));
    let waiting_bad = Running::spawn(env.jobs(&["wait", Q, &bad.to_string(), "--json"]));
    let timeout = env
        .run(&["wait", Q, &never.to_string(), "--timeout", "300ms"])
        .await;
    assert_eq!(timeout.code, 4, "{timeout:?}");
    assert!(timeout.stderr.contains("timed out"), "{timeout:?}");

    let (stop, worker) = env.worker();
    let (lines, code) = waiting_good.finish().await;
    assert_eq!(code, 0, "{lines:?}");
    // One line per change the waiter saw (ready, active, progress...), each naming the job.
    let named = format!("job {good} ");
    assert!(lines.iter().all(|l| l.starts_with(&named)), "{lines:?}");
    assert!(
        lines.last().is_some_and(|l| l.ends_with("succeeded: 4")),
        "{lines:?}"
    );

    let (lines, code) = waiting_bad.finish().await;
    assert_eq!(code, 1, "{lines:?}");
    let end: Value = serde_json::from_str(lines.last().expect("the outcome")).expect("JSON");
    assert_eq!(end["state"], "dead");
    assert!(
        end["job"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no disk")),
        "{end}"
    );

    // An ended job returns at once; a dead one says why.
    let again = env.run(&["wait", Q, &bad.to_string()]).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stdout.contains("dead after 1/1 attempts") && again.stdout.contains("no disk"),
        "{again:?}"
    );
    let missing = env.run(&["wait", Q, &JobId::new().to_string()]).await;
    assert_eq!(missing.code, 3, "{missing:?}");
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_a_batch() {
    let env = Env::new().await;
    let (batch, _) = env
        .client
        .batch()
        .job(Greet { name: "a".into() })
        .job(Greet { name: "b".into() })
        .enqueue()
        .await
        .unwrap();
    let (failing, _) = env
        .client
        .batch()
        .job(Greet { name: "c".into() })
        .job(Explode { why: "nope".into() })
        .enqueue()
        .await
        .unwrap();
    let waiting = Running::spawn(env.jobs(&["wait", "--batch", &batch.to_string(), "--json"]));
    let (stop, worker) = env.worker();
    let (lines, code) = waiting.finish().await;
    assert_eq!(code, 0, "{lines:?}");
    let end: Value = serde_json::from_str(lines.last().expect("the outcome")).expect("JSON");
    assert_eq!(
        (end["total"].as_u64(), end["succeeded"].as_u64()),
        (Some(2), Some(2)),
        "{end}"
    );
    assert_eq!(end["finished"], true);

    let failed = env.run(&["wait", "--batch", &failing.to_string()]).await;
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(failed.stdout.contains("1 of 2 members dead"), "{failed:?}");
    let missing = env
        .run(&["wait", "--batch", &JobId::new().to_string()])
        .await;
    assert_eq!(missing.code, 3, "{missing:?}");
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_lists_the_live_workers() {
    let env = Env::new().await;
    let none = env.json(&["workers", "--json"]).await;
    assert_eq!(none["workers"].as_array().map(Vec::len), Some(0));
    // Registered as a worker's heartbeat registers it.
    let info = WorkerInfo::new(
        "w-1".into(),
        "node-7".into(),
        4242,
        vec![Q.into(), "other".into()],
        8,
    );
    env.client
        .backend()
        .worker_beat(info, Duration::from_secs(60))
        .await
        .unwrap();
    let listed = env.json(&["workers", "--json"]).await;
    let w = &listed["workers"][0];
    assert_eq!(
        (&w["id"], &w["host"], &w["pid"]),
        (
            &Value::from("w-1"),
            &Value::from("node-7"),
            &Value::from(4242)
        )
    );
    assert_eq!(w["queues"], serde_json::json!([Q, "other"]));
    assert_eq!(
        (w["concurrency"].as_u64(), w["running"].as_u64()),
        (Some(8), Some(0))
    );
    assert!(
        w["last_beat_ms"].as_u64() > Some(0)
            && w["expires_at_ms"].as_u64() > w["last_beat_ms"].as_u64(),
        "{w}"
    );
    let text = env.run(&["workers"]).await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.starts_with("ID")
            && text.stdout.contains("node-7")
            && text.stdout.contains("cli,other"),
        "{text:?}"
    );

    // A real worker registers itself, and leaves the list when it stops.
    let (stop, worker) = env.worker();
    let pid = u64::from(std::process::id());
    let deadline = Instant::now() + PATIENCE;
    let ours = |v: &Value| {
        v["workers"]
            .as_array()
            .is_some_and(|ws| ws.iter().any(|w| w["pid"] == pid))
    };
    while !ours(&env.json(&["workers", "--json"]).await) {
        assert!(Instant::now() < deadline, "the worker never registered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    worker.await.unwrap();
    assert!(
        !ours(&env.json(&["workers", "--json"]).await),
        "a stopped worker is not listed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_is_one_clear_line_and_exit_1() {
    let out = run(jobs_at("redis://127.0.0.1:1", "jobs", &["stats"])).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: cannot reach Redis at redis://127.0.0.1:1: "),
        "{out:?}"
    );
    assert!(out.stderr.to_lowercase().contains("refused"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_queue_is_exit_3() {
    let env = Env::new().await;
    env.client
        .enqueue(Greet { name: "a".into() })
        .await
        .unwrap();
    let id = JobId::new().to_string();
    for args in [
        vec!["stats", "nope"],
        vec!["list", "nope", "--state", "ready"],
        vec!["show", "nope", &id],
    ] {
        let out = env.run(&args).await;
        assert_eq!(out.code, 3, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("queue \"nope\" is not known") && out.stderr.contains("known: cli"),
            "{out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_is_exit_2() {
    let env = Env::new().await;
    for (args, says) in [
        (vec!["show", Q, "not-an-id"], "invalid job id"),
        (
            vec!["list", Q, "--state", "ready", "--after", "12"],
            "invalid page cursor",
        ),
        (vec!["list", Q, "--state", "sleeping"], "possible values"),
        (vec!["events", Q, "--from", "yesterday"], "event cursor"),
        (
            vec!["retry", Q, "--all-dead", "--since", "last tuesday"],
            "RFC 3339",
        ),
        (vec!["wait", Q, "0193"], "invalid job id"),
    ] {
        let out = env.run(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains(says),
            "{args:?}: {out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_acl_permission_is_exit_1_and_named() {
    let env = Env::new().await;
    env.client
        .enqueue(Greet { name: "a".into() })
        .await
        .unwrap();
    let port = env.server.port();
    for rule in [
        [
            "ACL",
            "SETUSER",
            "nokeys",
            "on",
            ">pw",
            "resetkeys",
            "~other:*",
            "resetchannels",
            "+@all",
        ],
        [
            "ACL",
            "SETUSER",
            "noeval",
            "on",
            ">pw",
            "resetkeys",
            "~*",
            "resetchannels",
            "+@all -evalsha",
        ],
    ] {
        let mut words: Vec<&str> = rule[..8].to_vec();
        words.extend(rule[8].split(' '));
        assert_eq!(env.server.command(&words).expect("ACL SETUSER"), "+OK");
    }
    let url = |user: &str| format!("redis://{user}:pw@127.0.0.1:{port}");

    let keys = run(jobs_at(&url("nokeys"), "jobs", &["stats"])).await;
    assert_eq!(keys.code, 1, "{keys:?}");
    assert_eq!(keys.stderr.lines().count(), 1, "{keys:?}");
    assert!(
        keys.stderr.contains("may not access the store's keys"),
        "{keys:?}"
    );
    assert!(
        !keys.stderr.contains(":pw@"),
        "the password is hidden: {keys:?}"
    );

    let eval = run(jobs_at(
        &url("noeval"),
        "jobs",
        &["list", Q, "--state", "ready"],
    ))
    .await;
    assert_eq!(eval.code, 1, "{eval:?}");
    assert!(
        eval.stderr
            .contains("may not run `evalsha` (grant it with `+evalsha`)"),
        "{eval:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_options_reach_a_mutual_tls_server() {
    let ca = TestCa::generate().expect("generate test certificates");
    let server = RedisServer::builder()
        .tls(ca.server_files())
        .args(["--tls-auth-clients", "yes"])
        .start()
        .expect("start redis-server with TLS");
    // Seeded over the plain port; the binary goes through TLS.
    let client = Client::new(RedisBackend::connect(&server.url()).await.unwrap());
    client.enqueue(Greet { name: "a".into() }).await.unwrap();
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = |name: &str, pem: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).expect("write a PEM file");
        path.display().to_string()
    };
    let ca_file = file("ca.pem", ca.ca_pem());
    let cert = file("client.pem", ca.client_cert_pem());
    let key = file("client.key", ca.client_key_pem());
    let url = server.tls_url().expect("a TLS port");

    let mut cmd = jobs_at(&url, "jobs", &["--tls-ca", &ca_file]);
    cmd.args(["--tls-cert", &cert, "--tls-key", &key, "stats", Q, "--json"]);
    let out = run(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let stats: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(queue(&stats, Q)["ready"].as_u64(), Some(1));

    // Without the client certificate the server refuses the handshake.
    let refused = run(jobs_at(&url, "jobs", &["--tls-ca", &ca_file, "stats"])).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .starts_with("error: TLS to Redis at rediss://"),
        "{refused:?}"
    );
    assert_eq!(refused.stderr.lines().count(), 1, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_takes_the_seed_nodes() {
    let cluster = RedisCluster::start(2).expect("start a Redis Cluster");
    let urls = cluster.urls();
    let client = Client::new(
        RedisBackend::cluster_builder(urls.clone())
            .connect()
            .await
            .expect("connect to the cluster"),
    );
    client.enqueue(Greet { name: "a".into() }).await.unwrap();
    let seeds = urls.join(",");
    let out = run(jobs_at(
        &seeds,
        "jobs",
        &["--cluster", "list", Q, "--state", "ready", "--json"],
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let page: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(page["jobs"][0]["payload"]["name"], "a", "{page}");
}

/// One HTTP/1.1 request over a fresh connection: the status and the body.
async fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text[9..12].parse().expect("a status code");
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn web_serves_the_dashboard_and_metrics_until_ctrl_c() {
    let env = Env::new().await;
    env.client
        .enqueue(Greet { name: "web".into() })
        .await
        .unwrap();
    let mut web = Running::spawn(env.jobs(&["web", "--listen", "127.0.0.1:0", "--read-only"]));
    let line = web.line().await;
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("an address in {line:?}"))
        .to_owned();

    let (status, page) = http(&addr, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
    let (status, queues) = http(&addr, "GET", "/api/queues", "").await;
    assert_eq!(status, 200, "{queues}");
    assert!(queues.contains(&format!("\"{Q}\"")), "{queues}");
    // Read-only: a change is refused, and nothing changed.
    let (status, _) = http(&addr, "POST", &format!("/api/queues/{Q}/pause"), "{}").await;
    assert_eq!(status, 403);
    assert!(!env.client.stats(Q).await.unwrap().paused);
    // The process refreshes the queue-depth gauges and serves them.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, metrics) = http(&addr, "GET", "/metrics", "").await;
        assert_eq!(status, 200);
        if metrics.lines().any(|l| {
            l.starts_with("jobs_queue_depth")
                && l.contains(&format!("queue=\"{Q}\""))
                && l.contains("state=\"ready\"")
                && l.ends_with(" 1")
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "no queue depth in {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let pid = nix::unistd::Pid::from_raw(web.child.id().expect("a pid") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let (_, code) = web.finish().await;
    assert_eq!(code, 0);
}
