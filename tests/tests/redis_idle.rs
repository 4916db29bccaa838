//! An idle Redis worker sends nothing but its blocking waits and makes no new connection,
//! on one server and on a Cluster; a wake-up token served to a wait that lost the race on
//! a Cluster is put back for another worker, never lost.

use std::collections::BTreeMap;
use std::time::Duration;

use jobs_core::{Backend, Client, JobError, job};
use jobs_redis::RedisBackend;
use jobs_tests::redis_cluster::RedisCluster;
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{RunningWorker, eventually};

const PATIENCE: Duration = Duration::from_secs(60);
/// How long the idle worker is watched: six of its default blocking waits (5 s each).
const WINDOW: Duration = Duration::from_secs(30);
/// Three queues; on the test Cluster their wake lists sit on three different nodes.
const QUEUES: [&str; 3] = ["idle-a", "idle-b", "idle-c"];

/// Does nothing: the worker needs a job type to serve, and never gets a job.
#[job(queue = "idle-a")]
async fn noop() -> Result<(), JobError> {
    Ok(())
}

fn wake_key(queue: &str) -> String {
    format!("jobs:{{{queue}}}:wake")
}

/// A numeric `field:value` line of an `INFO` reply.
fn info_field(info: &str, field: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in INFO: {info}"))
        .trim()
        .parse()
        .expect("a number")
}

/// `INFO commandstats`: calls by command name (`blpop`, `config|resetstat`, ...).
fn command_calls(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .map(|l| {
            let (name, stats) = l.split_once(':').expect("cmdstat_NAME:STATS");
            let calls = stats
                .split(',')
                .find_map(|s| s.strip_prefix("calls="))
                .expect("calls=")
                .parse()
                .expect("a number");
            (name.to_owned(), calls)
        })
        .collect()
}

/// Starts a worker with default settings on [`QUEUES`], waits until it blocks on every
/// wait it makes (`waits`: one on a single server, one per queue on a Cluster), then
/// watches every node for [`WINDOW`]. Returns what went wrong: anything but `BLPOP`, or a
/// new connection.
async fn watch_idle_worker(
    label: &str,
    nodes: &[&RedisServer],
    backend: RedisBackend,
    waits: u64,
) -> Vec<String> {
    let client = Client::new(backend);
    let worker = RunningWorker::start(&client, |b| b.register::<Noop>().queues(QUEUES));
    let blocked = || {
        nodes
            .iter()
            .map(|n| info_field(&n.command(&["INFO", "clients"]).unwrap(), "blocked_clients"))
            .sum::<u64>()
    };
    eventually(
        &format!("{label}: the worker to block"),
        PATIENCE,
        || async { (blocked() == waits).then_some(()) },
    )
    .await;
    for node in nodes {
        assert_eq!(node.command(&["CONFIG", "RESETSTAT"]).unwrap(), "+OK");
    }
    tokio::time::sleep(WINDOW).await; // the idle time passing is what is under test
    let mut problems = Vec::new();
    let mut beats = 0;
    for (i, node) in nodes.iter().enumerate() {
        // One INFO for both sections, so that it is the window's only new connection (the
        // reply does not count the INFO itself).
        let info = node.command(&["INFO", "commandstats", "stats"]).unwrap();
        let mut calls = command_calls(&info);
        assert_eq!(calls.remove("config|resetstat"), Some(1), "{label}: {info}");
        let blpops = calls.remove("blpop").unwrap_or(0);
        // The live-worker registration's beat: one script call every third of its ttl.
        let evals = calls.remove("evalsha").unwrap_or(0);
        beats += evals;
        // ... and what that script runs (worker_beat.lua), once per beat.
        for inner in ["time", "zrangebyscore", "hset", "zadd"] {
            if calls.get(inner) == Some(&evals) {
                calls.remove(inner);
            }
        }
        println!("{label}, node {i}: {blpops} BLPOP, {evals} registration beats in {WINDOW:?}");
        if !calls.is_empty() {
            problems.push(format!(
                "{label}, node {i}: commands other than BLPOP: {calls:?}"
            ));
        }
        // 1: this INFO's.
        let connections = info_field(&info, "total_connections_received");
        if connections != 1 {
            problems.push(format!(
                "{label}, node {i}: {} new connections",
                connections - 1
            ));
        }
    }
    // Default ttl 30 s: a beat every 10 s, so at most one more than fit in the window.
    let most = WINDOW.as_secs() / 10 + 1;
    if beats > most {
        problems.push(format!(
            "{label}: {beats} script calls, more than the {most} registration beats"
        ));
    }
    worker.stop().await.unwrap();
    problems
}

/// The acceptance test of "no idle polling", with default settings: a worker on three
/// queues sends only `BLPOP` for 30 s, and its live-worker registration's beat (every
/// 10 s), on one server and on a three-node Cluster (run side by side to save time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_sends_only_blocking_waits() {
    let server = RedisServer::start().unwrap();
    let cluster = RedisCluster::start(3).unwrap();
    let on_nodes: std::collections::BTreeSet<_> = QUEUES
        .iter()
        .map(|q| cluster.node_of(&wake_key(q)))
        .collect();
    assert_eq!(on_nodes.len(), 3, "the queues should span the nodes");

    let single = RedisBackend::connect(&server.url()).await.unwrap();
    let clustered = RedisBackend::cluster_builder(cluster.urls())
        .connect()
        .await
        .unwrap();
    let server_nodes = [&server];
    let cluster_nodes: Vec<_> = cluster.nodes().iter().collect();
    let (one, many) = tokio::join!(
        watch_idle_worker("one server", &server_nodes, single, 1),
        watch_idle_worker("Cluster", &cluster_nodes, clustered, QUEUES.len() as u64),
    );
    let problems = [one, many].concat();
    assert!(
        problems.is_empty(),
        "an idle worker did more than wait:\n{}",
        problems.join("\n")
    );
}

/// On a Cluster each queue's wake list is waited on separately, and the first token ends
/// the wait. When another queue's wait was served too, its token must go back on its list
/// (for another worker), not vanish with an abandoned connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_served_to_a_losing_cluster_wait_is_put_back() {
    const ROUNDS: usize = 20;
    let cluster = RedisCluster::start(3).unwrap();
    let backend = RedisBackend::cluster_builder(cluster.urls())
        .connect()
        .await
        .unwrap();
    let queues: Vec<String> = QUEUES[..2].iter().map(|q| q.to_string()).collect();
    let node = |q: &str| &cluster.nodes()[cluster.node_of(&wake_key(q))];
    let tokens = || {
        queues
            .iter()
            .map(|q| {
                let len = node(q).command(&["LLEN", &wake_key(q)]).unwrap();
                len.trim_start_matches(':').parse::<u64>().unwrap()
            })
            .sum::<u64>()
    };
    for round in 0..ROUNDS {
        for q in &queues {
            node(q).command(&["LPUSH", &wake_key(q), "1"]).unwrap();
        }
        tokio::time::timeout(
            PATIENCE,
            backend.wait_for_work(&queues, Duration::from_secs(5)),
        )
        .await
        .expect("a token ends the wait")
        .expect("the wait");
        // One token woke this caller; the other is for another worker.
        eventually(
            &format!("round {round}: the other token on its list"),
            Duration::from_secs(10),
            || async { (tokens() == 1).then_some(()) },
        )
        .await;
        for q in &queues {
            node(q).command(&["DEL", &wake_key(q)]).unwrap();
        }
    }
}
