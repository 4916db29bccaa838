//! The cluster-operations service end to end, on real processes: a private redis-server,
//! the web application, two worker processes. 200 hosts in one operation, two of whose
//! disks fail; one worker is SIGKILLed in the middle. Every host must end formatted
//! exactly once (the nodes' own ledger) or be reported dead with its reason, and the
//! completion callback must reach the web application exactly once.
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
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, view) = http("GET", &format!("{base}/operations/{op}"), None).await;
        assert_eq!(status, 200, "{view}");
        if view["done"] == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "not done: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done_in = started.elapsed();
    survivor.signal(Signal::SIGTERM);
    assert!(survivor.wait(Duration::from_secs(30)).success());
    // No worker is left: any second callback would have come by now.
    let (_, view_after) = http("GET", &format!("{base}/operations/{op}"), None).await;
    assert_eq!(view_after["callbacks_received"], json!(1), "{view_after}");

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
