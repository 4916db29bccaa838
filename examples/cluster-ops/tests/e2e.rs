//! The cluster-operations service end to end, on real processes: a private redis-server,
//! the web application, two worker processes.
//!
//! - 200 hosts in one operation, two of whose disks fail; one worker is SIGKILLed in the
//!   middle. Every host must end formatted exactly once (the nodes' own ledger) or be
//!   reported dead with its reason, and the completion callback must reach the web
//!   application exactly once.
//! - The format limits, from the times in the nodes' ledger: two workers started with
//!   `--max-formats 3`, two operations started back to back that share a host. At no
//!   instant do more than 3 formats run across the two workers, nor two on one host, and
//!   3 do run at once.
//! - Pausing an operation, from the ledger: 24 hosts at 2 formats at once, paused after 4
//!   formats. No host still waiting when the pause answered is formatted until the resume
//!   (the formats under way end), while a second operation started during the pause runs
//!   to its end; resumed, the first ends with every host formatted exactly once and one
//!   callback.
//!
//! Figures: `cargo test -p cluster-ops --test e2e -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use jobs_tests::redis_server::RedisServer;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

const HOSTS: usize = 200;
const FAILING: [&str; 2] = ["node-7", "node-142"];

/// A child process, killed if the test ends early.
struct Proc {
    child: Child,
    name: &'static str,
}

impl Proc {
    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("signal");
    }

    /// Waits for the process to exit (after a signal), with a deadline.
    fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a binary of this package and waits for its first stdout line.
fn spawn(name: &'static str, bin: &str, args: &[&str], env: &[(&str, String)]) -> (Proc, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).expect("first line");
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in out.lines() {});
    (Proc { child, name }, first.trim().to_owned())
}

async fn http(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let client = HttpClient::builder(TokioExecutor::new()).build_http();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.expect("http request");
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ledger(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("ledger"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
        .collect()
}

/// One format as the nodes' ledger records it: `HOST DEVICE FS-ID STARTED ENDED`.
#[derive(Debug)]
struct Run {
    host: String,
    device: String,
    /// Since the epoch.
    started: Duration,
    ended: Duration,
}

/// A ledger time, `date +%s.%N`: seconds and nanoseconds.
fn ledger_time(text: &str) -> Duration {
    let (secs, nanos) = text
        .split_once('.')
        .unwrap_or_else(|| panic!("ledger time {text:?}"));
    assert_eq!(nanos.len(), 9, "ledger time {text:?}");
    Duration::new(secs.parse().unwrap(), nanos.parse().unwrap())
}

fn ledger_runs(dir: &Path) -> Vec<Run> {
    std::fs::read_to_string(dir.join("ledger"))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let [host, device, _fs, started, ended] = words[..] else {
                panic!("ledger line {line:?}");
            };
            let run = Run {
                host: host.to_owned(),
                device: device.to_owned(),
                started: ledger_time(started),
                ended: ledger_time(ended),
            };
            assert!(run.started <= run.ended, "{run:?}");
            run
        })
        .collect()
}

/// The most runs under way at one instant. A run that ends at the instant another starts
/// is not counted with it.
fn peak(runs: &[&Run]) -> usize {
    let mut events: Vec<(Duration, i32)> = runs
        .iter()
        .flat_map(|r| [(r.started, 1), (r.ended, -1)])
        .collect();
    // At equal times the end (-1) sorts first.
    events.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in events {
        now += step;
        most = most.max(now);
    }
    most as usize
}

/// Waits until the web application has received the operation's callback; its view then.
async fn wait_done(base: &str, op: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, view) = http("GET", &format!("{base}/operations/{op}"), None).await;
        assert_eq!(status, 200, "{view}");
        if view["done"] == json!(true) {
            return view;
        }
        assert!(Instant::now() < deadline, "not done: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_hosts_two_workers_one_killed() {
    let redis = RedisServer::start().expect("start redis-server");
    let nodes = tempfile::tempdir().unwrap();
    let env = vec![
        ("REDIS_URL", redis.url()),
        ("JOBS_PREFIX", "ops".to_owned()),
        ("FORMAT_SECONDS", "0.4".to_owned()),
        ("FORMAT_STATE_DIR", nodes.path().display().to_string()),
        ("FORMAT_FAIL_HOSTS", FAILING.join(",")),
    ];
    let (_web, line) = spawn(
        "ops-web",
        env!("CARGO_BIN_EXE_ops-web"),
        &["--listen", "127.0.0.1:0"],
        &env,
    );
    let base = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("ops-web said {line:?}"))
        .to_owned();
    let worker_args = ["--concurrency", "16", "--lease-ms", "1000"];
    let bin = env!("CARGO_BIN_EXE_ops-worker");
    let (mut doomed, _) = spawn("ops-worker 1", bin, &worker_args, &env);
    let (mut survivor, _) = spawn("ops-worker 2", bin, &worker_args, &env);

    let hosts: Vec<String> = (0..HOSTS).map(|i| format!("node-{i}")).collect();
    let started = Instant::now();
    let (status, created) = http(
        "POST",
        &format!("{base}/operations"),
        Some(json!({ "hosts": hosts, "device": "/dev/sdb" })),
    )
    .await;
    let accepted_in = started.elapsed();
    assert_eq!(status, 202, "{created}");
    let op = created["operation"].as_str().unwrap().to_owned();

    // Kill one worker while it runs jobs: after a fifth of the hosts are formatted.
    let deadline = Instant::now() + Duration::from_secs(60);
    while ledger(nodes.path()).len() < HOSTS / 5 {
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.signal(Signal::SIGKILL);
    doomed.wait(Duration::from_secs(5));
    let killed_at = started.elapsed();

    // The operation ends when its callback reached the web application.
    wait_done(&base, &op, Duration::from_secs(120)).await;
    let done_in = started.elapsed();
    survivor.signal(Signal::SIGTERM);
    assert!(survivor.wait(Duration::from_secs(30)).success());
    // No worker is left: any second callback would have come by now.
    let (_, view_after) = http("GET", &format!("{base}/operations/{op}"), None).await;
    assert_eq!(view_after["callbacks_received"], json!(1), "{view_after}");
    // The jobs dashboard is mounted in the application: the queue is there, drained.
    let (status, queues) = http("GET", &format!("{base}/jobs/api/queues"), None).await;
    assert_eq!(status, 200, "{queues}");
    let disks = queues
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "disks"))
        .unwrap_or_else(|| panic!("the disks queue on the dashboard: {queues}"));
    assert_eq!(
        (&disks["ready"], &disks["active"]),
        (&json!(0), &json!(0)),
        "{disks}"
    );

    // Every host formatted exactly once on its node, or reported dead with its reason.
    let formatted = ledger(nodes.path());
    let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
    for host in &formatted {
        *per_host.entry(host).or_default() += 1;
    }
    let failing: BTreeSet<&str> = FAILING.into_iter().collect();
    let rows = view_after["hosts"].as_array().unwrap();
    assert_eq!(rows.len(), HOSTS);
    let mut redelivered = 0;
    for row in rows {
        let host = row["host"].as_str().unwrap();
        if failing.contains(host) {
            assert_eq!(row["state"], "failed", "{row}");
            let error = row["error"].as_str().unwrap_or_default();
            assert!(error.contains("Input/output error"), "{row}");
            assert!(!per_host.contains_key(host));
        } else {
            assert_eq!(row["state"], "formatted", "{row}");
            assert_eq!(
                per_host.get(host),
                Some(&1),
                "{host} formatted {:?} times",
                per_host.get(host)
            );
            if row["deliveries"].as_u64().unwrap() > 1 {
                redelivered += 1;
            }
        }
    }
    assert_eq!(formatted.len(), HOSTS - FAILING.len());
    let summary = &view_after["summary"];
    assert_eq!(
        (&summary["total"], &summary["succeeded"], &summary["dead"]),
        (
            &json!(HOSTS),
            &json!(HOSTS - FAILING.len()),
            &json!(FAILING.len())
        )
    );
    assert_eq!(
        summary["dead_jobs"].as_array().unwrap().len(),
        FAILING.len()
    );
    assert!(
        redelivered > 0,
        "the killed worker had jobs running: some hosts must have been re-delivered"
    );
    println!(
        "hosts {HOSTS}; accepted in {accepted_in:?}; worker killed at {killed_at:?}; \
         done (callback received) after {done_in:?}; re-delivered {redelivered}; \
         formatted {}; dead {} (with reasons); callbacks 1",
        formatted.len(),
        FAILING.len()
    );
}

const MAX_FORMATS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formats_limited_fleet_wide_and_one_per_host() {
    let redis = RedisServer::start().expect("start redis-server");
    let nodes = tempfile::tempdir().unwrap();
    let env = vec![
        ("REDIS_URL", redis.url()),
        ("JOBS_PREFIX", "ops".to_owned()),
        ("FORMAT_SECONDS", "0.6".to_owned()),
        ("FORMAT_STATE_DIR", nodes.path().display().to_string()),
    ];
    let (_web, line) = spawn(
        "ops-web",
        env!("CARGO_BIN_EXE_ops-web"),
        &["--listen", "127.0.0.1:0"],
        &env,
    );
    let base = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("ops-web said {line:?}"))
        .to_owned();
    // Two jobs at a time per worker: 4 could run at once without the fleet-wide limit of
    // 3, and 3 at once means that both workers ran formats at the same time.
    let max = MAX_FORMATS.to_string();
    let worker_args = ["--concurrency", "2", "--max-formats", &max];
    let bin = env!("CARGO_BIN_EXE_ops-worker");
    let (_worker_1, _) = spawn("ops-worker 1", bin, &worker_args, &env);
    let (_worker_2, _) = spawn("ops-worker 2", bin, &worker_args, &env);

    // The shared host is the last of the first operation and the first of the second, so
    // that its two formats come up one after the other. The store hands out an
    // operation's jobs (enqueued in the same millisecond) by limit key, the host name, so
    // the names sort in the order given. The formats all take the same time, so they run in rounds of 3:
    // with 13 hosts in the first operation, the shared host's first format opens the
    // fifth round, and the second operation's jobs fill it. Without the per-host limit its
    // second format would run beside the first; with it, it waits and the hosts behind it
    // take the round's other slots. The second operation formats another disk
    // (/dev/sdc), which the node does not serialize with the first.
    let shared = "node-12";
    let first: Vec<String> = (0..13).map(|i| format!("node-{i:02}")).collect();
    let second: Vec<String> = std::iter::once(shared.to_owned())
        .chain((13..20).map(|i| format!("node-{i:02}")))
        .collect();
    assert_eq!(first.last().map(String::as_str), Some(shared));
    let started = Instant::now();
    let mut ops = Vec::new();
    for (hosts, device) in [(&first, "/dev/sdb"), (&second, "/dev/sdc")] {
        let (status, created) = http(
            "POST",
            &format!("{base}/operations"),
            Some(json!({ "hosts": hosts, "device": device })),
        )
        .await;
        assert_eq!(status, 202, "{created}");
        ops.push((
            created["operation"].as_str().unwrap().to_owned(),
            hosts.len(),
        ));
    }
    for (op, hosts) in &ops {
        let view = wait_done(&base, op, Duration::from_secs(60)).await;
        let summary = &view["summary"];
        assert_eq!(
            (&summary["total"], &summary["succeeded"], &summary["dead"]),
            (&json!(hosts), &json!(hosts), &json!(0)),
            "{view}"
        );
    }
    let done_in = started.elapsed();

    // Every disk formatted exactly once.
    let runs = ledger_runs(nodes.path());
    let mut disks: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for run in &runs {
        *disks.entry((&run.host, &run.device)).or_default() += 1;
    }
    assert_eq!(runs.len(), first.len() + second.len(), "{runs:#?}");
    assert!(disks.values().all(|&n| n == 1), "{disks:?}");

    // Fleet-wide: never more than MAX_FORMATS at once, and MAX_FORMATS reached.
    let all: Vec<&Run> = runs.iter().collect();
    let fleet_peak = peak(&all);
    assert!(
        fleet_peak <= MAX_FORMATS,
        "{fleet_peak} formats at once, above --max-formats {MAX_FORMATS}: {runs:#?}"
    );
    assert_eq!(
        fleet_peak, MAX_FORMATS,
        "the limit was never reached: {runs:#?}"
    );

    // Per host: never two at once. The shared host's two formats came one after the other.
    let mut per_host: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for run in &runs {
        per_host.entry(&run.host).or_default().push(run);
    }
    for (host, runs) in &per_host {
        assert_eq!(peak(runs), 1, "{host} formatted twice at once: {runs:#?}");
    }
    let mut shared_runs = per_host[shared].clone();
    assert_eq!(shared_runs.len(), 2, "{shared_runs:#?}");
    shared_runs.sort_by_key(|r| r.started);
    let gap = shared_runs[1].started - shared_runs[0].ended;
    // And the per-host limit was put to the test: while the shared host's first format
    // ran, other hosts of the second operation started, passing its second format that
    // waited for the host (and did not hold them up).
    let passed: Vec<&str> = runs
        .iter()
        .filter(|r| r.device == "/dev/sdc" && r.host != shared)
        .filter(|r| r.started < shared_runs[0].ended)
        .map(|r| r.host.as_str())
        .collect();
    assert!(
        !passed.is_empty(),
        "no format of the second operation started while {shared} was formatted: {runs:#?}"
    );
    println!(
        "formats {} on {} hosts (2 operations, {shared} in both); workers 2 x 2 jobs, \
         --max-formats {MAX_FORMATS}; peak {fleet_peak} at once; {shared}: {} then {} \
         ({gap:?} apart), {passed:?} started meanwhile; done after {done_in:?}",
        runs.len(),
        per_host.len(),
        shared_runs[0].device,
        shared_runs[1].device,
    );
}

/// Waits until the nodes' ledger holds at least `n` formats; the ledger then.
async fn wait_ledger(dir: &Path, n: usize, within: Duration) -> Vec<Run> {
    let deadline = Instant::now() + within;
    loop {
        let runs = ledger_runs(dir);
        if runs.len() >= n {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "{} formats, not {n}: {runs:#?}",
            runs.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Now, as the ledger counts time: since the epoch.
fn wall_clock() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_operation_starts_nothing_until_resumed() {
    const FIRST: usize = 24;
    const SECOND: usize = 6;
    const PAUSE_AFTER: usize = 4;
    const FORMATS: usize = 2;
    let redis = RedisServer::start().expect("start redis-server");
    let nodes = tempfile::tempdir().unwrap();
    let env = vec![
        ("REDIS_URL", redis.url()),
        ("JOBS_PREFIX", "ops".to_owned()),
        ("FORMAT_SECONDS", "0.4".to_owned()),
        ("FORMAT_STATE_DIR", nodes.path().display().to_string()),
    ];
    let (_web, line) = spawn(
        "ops-web",
        env!("CARGO_BIN_EXE_ops-web"),
        &["--listen", "127.0.0.1:0"],
        &env,
    );
    let base = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("ops-web said {line:?}"))
        .to_owned();
    // Two formats at once across two workers: the first operation takes FIRST / 2 rounds,
    // long enough to be paused in the middle, and the pause must hold on both workers.
    let max = FORMATS.to_string();
    let worker_args = ["--concurrency", "2", "--max-formats", &max];
    let bin = env!("CARGO_BIN_EXE_ops-worker");
    let (mut worker_1, _) = spawn("ops-worker 1", bin, &worker_args, &env);
    let (mut worker_2, _) = spawn("ops-worker 2", bin, &worker_args, &env);

    // Unknown operations: 404, as GET answers.
    let unknown = jobs_core::BatchId::new().to_string();
    for path in [
        format!("/operations/{unknown}/pause"),
        format!("/operations/{unknown}/resume"),
        "/operations/not-an-id/pause".to_owned(),
    ] {
        let (status, _) = http("POST", &format!("{base}{path}"), None).await;
        assert_eq!(status, 404, "POST {path}");
    }

    let create = |hosts: Vec<String>, device: &'static str| {
        let base = base.clone();
        async move {
            let (status, created) = http(
                "POST",
                &format!("{base}/operations"),
                Some(json!({ "hosts": hosts, "device": device })),
            )
            .await;
            assert_eq!(status, 202, "{created}");
            created["operation"].as_str().unwrap().to_owned()
        }
    };
    let first_hosts: Vec<String> = (0..FIRST).map(|i| format!("a-{i:02}")).collect();
    let second_hosts: Vec<String> = (0..SECOND).map(|i| format!("b-{i:02}")).collect();
    let started = Instant::now();
    let first = create(first_hosts.clone(), "/dev/sdb").await;

    // Pause the first operation in the middle.
    wait_ledger(nodes.path(), PAUSE_AFTER, Duration::from_secs(60)).await;
    let (status, paused) = http("POST", &format!("{base}/operations/{first}/pause"), None).await;
    let pause_answered = wall_clock();
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused, json!({ "operation": first, "paused": true }));
    let ledger_at_pause = ledger_runs(nodes.path()).len();
    // Read after the pause answered: a host still waiting now must not be formatted until
    // the resume; one running (or already formatted) may end.
    let (_, view) = http("GET", &format!("{base}/operations/{first}"), None).await;
    assert_eq!(view["paused"], json!(true), "{view}");
    let hosts_in = |view: &Value, states: &[&str]| -> BTreeSet<String> {
        view["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| states.contains(&row["state"].as_str().unwrap()))
            .map(|row| row["host"].as_str().unwrap().to_owned())
            .collect()
    };
    let waiting_at_pause = hosts_in(&view, &["waiting"]);
    let running_at_pause = hosts_in(&view, &["running"]);
    // The hosts whose format may still end: running, or formatted since (a format
    // running when the pause answered, ended before the view was read).
    let not_waiting = hosts_in(&view, &["running", "formatted"]);
    assert_eq!(waiting_at_pause.len() + not_waiting.len(), FIRST, "{view}");
    assert!(
        waiting_at_pause.len() >= FIRST - PAUSE_AFTER - 2 * FORMATS,
        "the first operation was nearly done when paused: {view}"
    );
    assert!(running_at_pause.len() <= FORMATS, "{view}");

    // A second operation started now runs to the end, on the slots the first left.
    let second = create(second_hosts.clone(), "/dev/sdc").await;
    let second_view = wait_done(&base, &second, Duration::from_secs(60)).await;
    let second_done_in = started.elapsed();
    assert_eq!(second_view["paused"], json!(false), "{second_view}");
    assert_eq!(second_view["summary"]["succeeded"], json!(SECOND));

    // Meanwhile the first made no progress beyond the formats under way at the pause.
    let runs = ledger_runs(nodes.path());
    let first_runs = |runs: &[Run]| -> Vec<String> {
        runs.iter()
            .filter(|r| r.device == "/dev/sdb")
            .map(|r| r.host.clone())
            .collect()
    };
    let formatted_while_paused = first_runs(&runs);
    let during_pause: Vec<&String> = formatted_while_paused[ledger_at_pause..].iter().collect();
    assert!(
        during_pause.len() <= FORMATS && during_pause.iter().all(|h| not_waiting.contains(*h)),
        "formats of the paused operation started after the pause: {during_pause:?}, \
         running at the pause {running_at_pause:?}"
    );
    assert!(
        formatted_while_paused
            .iter()
            .all(|h| !waiting_at_pause.contains(h)),
        "a host waiting at the pause was formatted while paused: {runs:#?}"
    );
    let late: Vec<&Run> = runs
        .iter()
        .filter(|r| r.device == "/dev/sdb" && r.started > pause_answered)
        .collect();
    assert!(
        late.len() <= FORMATS && late.iter().all(|r| not_waiting.contains(&r.host)),
        "formats of the paused operation began after the pause answered: {late:#?}"
    );
    let (_, view) = http("GET", &format!("{base}/operations/{first}"), None).await;
    assert_eq!(
        (&view["paused"], &view["running"], &view["done"]),
        (&json!(true), &json!(0), &json!(false)),
        "{view}"
    );
    assert_eq!(
        view["succeeded"],
        json!(formatted_while_paused.len()),
        "{view}"
    );

    // Resumed: the first operation ends, every host formatted once.
    let resume_sent = wall_clock();
    let (status, resumed) = http("POST", &format!("{base}/operations/{first}/resume"), None).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed, json!({ "operation": first, "paused": false }));
    let resumed_at = started.elapsed();
    let view = wait_done(&base, &first, Duration::from_secs(60)).await;
    let first_done_in = started.elapsed();
    assert_eq!(view["paused"], json!(false), "{view}");
    let summary = &view["summary"];
    assert_eq!(
        (&summary["total"], &summary["succeeded"], &summary["dead"]),
        (&json!(FIRST), &json!(FIRST), &json!(0)),
        "{view}"
    );
    for worker in [&mut worker_1, &mut worker_2] {
        worker.signal(Signal::SIGTERM);
        assert!(worker.wait(Duration::from_secs(30)).success());
    }
    // No worker is left: any second callback would have come by now.
    for op in [&first, &second] {
        let (_, view) = http("GET", &format!("{base}/operations/{op}"), None).await;
        assert_eq!(view["callbacks_received"], json!(1), "{view}");
    }

    let runs = ledger_runs(nodes.path());
    let mut disks: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for run in &runs {
        *disks.entry((&run.host, &run.device)).or_default() += 1;
    }
    assert_eq!(runs.len(), FIRST + SECOND, "{runs:#?}");
    assert!(disks.values().all(|&n| n == 1), "{disks:?}");
    for host in &first_hosts {
        assert_eq!(disks.get(&(host.as_str(), "/dev/sdb")), Some(&1), "{host}");
    }
    for host in &second_hosts {
        assert_eq!(disks.get(&(host.as_str(), "/dev/sdc")), Some(&1), "{host}");
    }
    // The hosts waiting at the pause all started after the resume was asked for.
    let early: Vec<&Run> = runs
        .iter()
        .filter(|r| waiting_at_pause.contains(&r.host) && r.started < resume_sent)
        .collect();
    assert!(early.is_empty(), "started before the resume: {early:#?}");
    println!(
        "first operation {FIRST} hosts, paused after {ledger_at_pause} formats with {} \
         running and {} waiting; second operation ({SECOND} hosts) done after \
         {second_done_in:?} while the first formatted {} more (all under way at the pause); \
         resumed at {resumed_at:?}, first done after {first_done_in:?}; \
         {} disks formatted exactly once, 1 callback each",
        running_at_pause.len(),
        waiting_at_pause.len(),
        during_pause.len(),
        runs.len(),
    );
}
