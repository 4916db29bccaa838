//! Faults on real processes: Redis going away for longer than a lease while worker daemons
//! (`src/bin/e2e_worker.rs`) run jobs; a worker frozen (SIGSTOP) past its lease, as a
//! partitioned or stalled machine would be; and calls whose answer is lost after Redis
//! executed them (a connection cut by a proxy, [`LossyProxy`]). The jobs write
//! `start`/`done` lines to a ledger file outside the queue; the ledger and the job records
//! must agree afterwards.
//!
//! Every wait polls a condition with a deadline; the only timed waits are the length of
//! the outage, which is what is under test, and the pause between enqueue tries.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use jobs_core::{BackendError, Client, EnqueueError, JobId, JobState};
use jobs_redis::RedisBackend;
use jobs_tests::e2e::{
    Entry, PATIENCE, QUEUE, WorkerProcess, World, audit, by_job, enqueue_until_stored,
};
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{eventually, wait_for_state};
use nix::sys::signal::Signal;
use tokio::time::Instant;

/// The worker daemon, `src/bin/e2e_worker.rs`.
const WORKER: &str = env!("CARGO_BIN_EXE_e2e_worker");

/// What a worker logs when a Redis call fails (`jobs-core/src/worker`): a reservation or
/// blocking wait, a lease renewal, a job's outcome.
const OUTAGE_WARNINGS: [&str; 3] = [
    "backend call failed; backing off",
    "could not renew leases",
    "could not record",
];
/// What a worker logs when the backend refuses a job's outcome because its lease was lost
/// (`jobs-core/src/worker`, where outcomes are recorded).
const STALE_FINISH: &str = "lease was lost before the job finished";

fn stopped_workers(workers: &mut [WorkerProcess]) -> Vec<String> {
    workers
        .iter_mut()
        .filter_map(|w| (!w.is_running()).then(|| format!("{} (pid {})", w.name, w.pid)))
        .collect()
}

/// Redis shut down for three leases while two workers run jobs: an enqueue made meanwhile
/// fails fast with a typed, transient error; the workers log, back off and, once Redis is
/// back, carry on by themselves (no process restarted) until every job has succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_ride_out_a_redis_outage_longer_than_a_lease() {
    const JOBS: usize = 300;
    const LEASE_MS: u64 = 1_000;
    const OUTAGE: Duration = Duration::from_millis(3 * LEASE_MS);
    /// Longest an enqueue may take to fail while Redis is down: "a few seconds". Refused
    /// connections fail at once; the client's timeouts below bound the rest.
    const FAIL_FAST: Duration = Duration::from_secs(5);
    /// Pause between two enqueues made during the outage.
    const PROBE_EVERY: Duration = Duration::from_millis(250);

    // Persistence, so that the jobs survive the restart.
    let world = World::with(
        WORKER,
        "faults-outage",
        RedisServer::builder()
            .appendonly(true)
            .args(["--appendfsync", "always"]),
        |backend| {
            backend
                .connect_timeout(Duration::from_secs(1))
                .response_timeout(Duration::from_secs(2))
        },
    )
    .await;
    let lease = LEASE_MS.to_string();
    let mut workers = vec![
        world.worker("worker-1", &["--lease-ms", &lease]).await,
        world.worker("worker-2", &["--lease-ms", &lease]).await,
    ];
    let pids: BTreeSet<u32> = workers.iter().map(|w| w.pid).collect();

    // 50 to 500 ms each: about two and a half seconds of work for 2 x 16 slots.
    let mut ids = world
        .client
        .enqueue_many((0..JOBS as u64).map(|i| world.job(50 + (i % 10) * 50)))
        .await
        .expect("enqueue the jobs");
    // Redis goes away mid-run: some jobs done, others running, most waiting.
    let active = eventually("a fifth of the jobs to succeed", PATIENCE, || async {
        let stats = world.client.stats(QUEUE).await.expect("stats");
        (stats.succeeded >= JOBS as u64 / 5).then_some(stats.active)
    })
    .await;
    assert!(active > 0, "no job was running when Redis went away");
    tokio::task::block_in_place(|| world.server.stop()).expect("stop redis-server");
    let down = Instant::now();
    println!("Redis shut down with {active} job(s) running");

    // Enqueues fail at once with a typed error; the workers carry on (and say so).
    let mut refused = Vec::new();
    let mut slowest = Duration::ZERO;
    while down.elapsed() < OUTAGE {
        let id = JobId::new();
        let asked = Instant::now();
        let result = world.client.enqueue(world.job(50)).id(id).await;
        let took = asked.elapsed();
        assert!(
            matches!(
                result,
                Err(EnqueueError::Backend(BackendError::Unavailable(_)))
            ),
            "enqueue with Redis down: {result:?}"
        );
        assert!(took < FAIL_FAST, "enqueue took {took:?} to fail");
        slowest = slowest.max(took);
        refused.push(id);
        let stopped = stopped_workers(&mut workers);
        assert!(stopped.is_empty(), "workers exited: {stopped:?}");
        tokio::time::sleep(PROBE_EVERY).await;
    }
    for worker in &workers {
        let what = format!("{} to log the outage", worker.name);
        eventually(&what, PATIENCE, || {
            let log = worker.log();
            std::future::ready(
                OUTAGE_WARNINGS
                    .iter()
                    .any(|w| log.contains(w))
                    .then_some(()),
            )
        })
        .await;
    }
    let outage = down.elapsed();

    // No job is reserved while Redis is down: runs started after this count are new ones.
    let starts_before = world
        .ledger
        .entries()
        .iter()
        .filter(|e| e.is_start())
        .count();
    tokio::task::block_in_place(|| world.server.restart()).expect("restart redis-server");
    let back = Instant::now();
    // A refused enqueue wrote nothing; the application retries it with the same id.
    for &id in &refused {
        let stored = world.client.job(QUEUE, id).await.expect("job lookup");
        assert_eq!(stored, None, "a refused enqueue stored job {id}");
        enqueue_until_stored(
            &world.client,
            || world.job(50),
            id,
            10,
            Duration::from_millis(50),
            PATIENCE,
        )
        .await;
    }
    ids.extend(&refused);

    let mut resumed = None;
    let what = format!("all {} jobs to succeed", ids.len());
    eventually(&what, PATIENCE, || {
        if resumed.is_none()
            && world
                .ledger
                .entries()
                .iter()
                .filter(|e| e.is_start())
                .count()
                > starts_before
        {
            resumed = Some(back.elapsed());
        }
        async {
            let stats = world.client.stats(QUEUE).await.expect("stats");
            if stats.dead > 0 {
                let dead = world.client.dead_jobs(QUEUE, 0, 10).await.expect("dead");
                panic!("{} job(s) dead: {dead:#?}", stats.dead);
            }
            (stats.succeeded == ids.len() as u64).then_some(())
        }
    })
    .await;
    let finished = back.elapsed();
    let resumed = resumed.unwrap_or(finished);
    // Both workers are back on Redis: each blocks on the wake list again.
    eventually("both workers to block on Redis again", PATIENCE, || {
        let clients = world.server.command(&["INFO", "clients"]).expect("INFO");
        std::future::ready(clients.contains("blocked_clients:2").then_some(()))
    })
    .await;
    let stopped = stopped_workers(&mut workers);
    assert!(stopped.is_empty(), "workers exited: {stopped:?}");

    let found = audit(&world, &ids).await;
    let runs = by_job(&world.ledger.entries());
    let strangers: BTreeSet<u32> = runs
        .values()
        .flatten()
        .map(Entry::pid)
        .filter(|pid| !pids.contains(pid))
        .collect();
    println!(
        "outage summary: jobs={} outage={outage:.1?} (lease {LEASE_MS} ms) \
         refused_enqueues={} (slowest {slowest:.1?}) resumed={resumed:.2?} after restart \
         all_done={finished:.2?} after restart lost={} duplicate_runs={} stalls={} \
         (on {} jobs) workers_restarted=0",
        ids.len(),
        refused.len(),
        found.lost,
        found.duplicate_runs,
        found.stalls,
        found.stalled_jobs,
    );
    found.assert_clean();
    assert!(!refused.is_empty());
    assert!(strangers.is_empty(), "runs by unknown pids {strangers:?}");
    let stats = world.client.stats(QUEUE).await.expect("stats");
    assert_eq!(
        (stats.ready, stats.scheduled, stats.active, stats.dead),
        (0, 0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.succeeded, ids.len() as u64, "{stats:?}");
    for worker in &mut workers {
        worker.terminate();
        let status = worker.wait_exit(PATIENCE).await;
        assert!(status.success(), "{} exited with {status}", worker.name);
    }
}

/// A worker frozen (SIGSTOP) while it runs a job, past its lease: the job is recovered and
/// run to success by another worker. Thawed (SIGCONT), the first worker finishes its run
/// and reports it; the backend refuses the stale outcome (fencing), the worker logs it, and
/// the record keeps the second run's result and counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_worker_cannot_overwrite_the_result() {
    const LEASE_MS: u64 = 1_000;
    const JOB_MS: u64 = 3_000;
    let world = World::new(WORKER, "faults-partition").await;
    let lease = LEASE_MS.to_string();
    let mut workers = vec![
        world.worker("worker-1", &["--lease-ms", &lease]).await,
        world.worker("worker-2", &["--lease-ms", &lease]).await,
    ];

    let id = world.client.enqueue(world.pid_job(JOB_MS)).await.unwrap();
    let first = world.starts(id, 1, PATIENCE).await[0];
    let frozen = workers
        .iter()
        .position(|w| w.pid == first.pid())
        .unwrap_or_else(|| panic!("{first:?} was run by none of our workers"));
    let (a, b) = (workers[frozen].pid, workers[1 - frozen].pid);
    workers[frozen].signal(Signal::SIGSTOP);
    let stopped = Instant::now();
    println!(
        "froze {} (pid {a}) while it ran the job",
        workers[frozen].name
    );

    let second = world.starts(id, 2, PATIENCE).await[1];
    println!(
        "re-delivered {:.2?} after the freeze ({LEASE_MS} ms lease)",
        stopped.elapsed()
    );
    assert_eq!(
        second,
        Entry::Start {
            id,
            pid: b,
            attempt: 2
        }
    );
    let info = wait_for_state(
        &world.client,
        QUEUE,
        id,
        JobState::Succeeded,
        Duration::from_millis(JOB_MS) + PATIENCE,
    )
    .await;
    let result: u32 = serde_json::from_slice(info.result.as_deref().expect("a result"))
        .expect("the result is a pid");
    assert_eq!(result, b, "the second run's result: {info:?}");
    assert_eq!(
        (info.deliveries, info.stalls, info.attempts),
        (2, 1, 2),
        "one stalled attempt, one that succeeded: {info:?}"
    );
    assert_eq!(
        world.ledger.entries(),
        vec![first, second, Entry::Done { id, pid: b }],
        "the frozen run cannot have finished"
    );

    workers[frozen].signal(Signal::SIGCONT);
    let thawed = Instant::now();
    println!(
        "thawed pid {a} after {:.2?} frozen",
        thawed.duration_since(stopped)
    );
    // Its run goes on to its end (the job does not watch for cancellation) and reports.
    let what = format!("pid {a} to log its refused outcome");
    eventually(&what, PATIENCE, || {
        std::future::ready(workers[frozen].log().contains(STALE_FINISH).then_some(()))
    })
    .await;
    println!(
        "stale outcome refused and logged {:.2?} after the thaw",
        thawed.elapsed()
    );
    assert_eq!(
        world.ledger.entries(),
        vec![
            first,
            second,
            Entry::Done { id, pid: b },
            Entry::Done { id, pid: a }
        ],
        "both runs finished, the frozen one last"
    );
    let after = world.record(id).await;
    assert_eq!(after, info, "the refused outcome changed the record");
    let stats = world.client.stats(QUEUE).await.unwrap();
    assert_eq!(
        (
            stats.ready,
            stats.scheduled,
            stats.active,
            stats.succeeded,
            stats.dead
        ),
        (0, 0, 0, 1, 0),
        "{stats:?}"
    );
    // The thawed worker is healthy: it stops gracefully, as does the other.
    for worker in &mut workers {
        worker.terminate();
        let status = worker.wait_exit(PATIENCE).await;
        assert!(status.success(), "{} exited with {status}", worker.name);
    }
}

/// An enqueue whose answer is lost (the connection drops after Redis executed it) fails
/// with a transient error although the job is stored: the caller cannot tell, so it
/// retries under the same id, which stores nothing twice. The job then runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_whose_answer_is_lost_is_retried_under_its_id_and_stored_once() {
    let world = World::new(WORKER, "faults-lost-enqueue").await;
    let proxy = LossyProxy::start(world.server.port());
    let client = Client::new(
        RedisBackend::builder(&proxy.url())
            .prefix(&world.prefix)
            .connect()
            .await
            .expect("connect through the proxy"),
    );

    let id = JobId::new();
    proxy.lose_answer_to(&id.to_string());
    let result = client.enqueue(world.job(10)).id(id).await;
    assert!(
        matches!(
            result,
            Err(EnqueueError::Backend(BackendError::Unavailable(_)))
        ),
        "enqueue whose answer was lost: {result:?}"
    );
    assert_eq!(proxy.cuts(), 1, "the proxy cut the enqueue's connection");
    // It took effect all the same.
    let stored = world.record(id).await;
    assert_eq!(stored.state, JobState::Ready, "{stored:?}");

    let failures = enqueue_until_stored(
        &client,
        || world.job(10),
        id,
        10,
        Duration::from_millis(50),
        PATIENCE,
    )
    .await;
    assert_eq!(failures, 0);
    assert_eq!(
        world.record(id).await,
        stored,
        "the retry changed the record"
    );
    assert_eq!(
        (
            world.redis_int(&["HLEN", &world.key("jobs")]),
            world.redis_int(&["ZCARD", &world.key("ready")])
        ),
        (1, 1),
        "one record, one entry in ready"
    );

    let worker = world.worker("worker", &[]).await;
    wait_for_state(&world.client, QUEUE, id, JobState::Succeeded, PATIENCE).await;
    assert_eq!(
        world.ledger.entries(),
        vec![
            Entry::Start {
                id,
                pid: worker.pid,
                attempt: 1
            },
            Entry::Done {
                id,
                pid: worker.pid
            }
        ]
    );
}

/// A worker whose call recording a job's success loses its answer (the connection drops
/// after Redis executed it) retries the call; the retry finds the job finished, and the
/// worker must not then claim that its lease was lost and its outcome discarded: the
/// outcome was recorded, the lease never expired, the job will not run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_whose_answer_is_lost_is_not_reported_as_a_lost_lease() {
    let world = World::new(WORKER, "faults-lost-finish").await;
    let proxy = LossyProxy::start(world.server.port());
    // Enqueued directly; only the worker goes through the proxy. The job is short, so
    // the first request of the worker's that names the job is the call recording it.
    let id = world.client.enqueue(world.job(200)).await.expect("enqueue");
    proxy.lose_answer_to(&id.to_string());
    let mut worker = world.worker_at(&proxy.url(), "worker", &[]).await;
    let info = wait_for_state(&world.client, QUEUE, id, JobState::Succeeded, PATIENCE).await;
    eventually("the proxy to cut the finish's connection", PATIENCE, || {
        std::future::ready((proxy.cuts() == 1).then_some(()))
    })
    .await;

    // A graceful stop waits for the job's outcome to be recorded, retries included: the
    // log then holds the retry and its answer.
    worker.terminate();
    let status = worker.wait_exit(PATIENCE).await;
    assert!(status.success(), "{status}");
    let log = worker.log();
    assert!(
        log.contains("could not record"),
        "the finish was not retried:\n{log}"
    );
    assert_eq!((info.deliveries, info.stalls), (1, 0), "{info:?}");
    assert_eq!(world.record(id).await, info, "the retry changed the record");
    assert!(
        !log.contains(STALE_FINISH),
        "a recorded outcome was reported as a lost lease ({info:?}):\n{log}"
    );
}

/// A TCP proxy in front of Redis that can lose the answer to one request: it forwards the
/// request, so Redis executes it, then cuts the connection instead of forwarding the
/// reply.
struct LossyProxy {
    port: u16,
    shared: Arc<ProxyShared>,
}

#[derive(Default)]
struct ProxyShared {
    /// The string whose request's answer is to be lost, until such a request passes.
    armed: Mutex<Option<Vec<u8>>>,
    /// Connections cut so far.
    cuts: AtomicUsize,
    closed: AtomicBool,
    /// Every socket, to shut them all down on drop.
    sockets: Mutex<Vec<TcpStream>>,
}

impl LossyProxy {
    fn start(upstream: u16) -> LossyProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let shared = Arc::new(ProxyShared::default());
        let accepting = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.closed.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                // Refused: the client sees its connection closed, as it would without us.
                let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
                    continue;
                };
                let clone = |s: &TcpStream| s.try_clone().expect("clone a proxy socket");
                accepting
                    .sockets
                    .lock()
                    .unwrap()
                    .extend([clone(&client), clone(&server)]);
                let cut = Arc::new(AtomicBool::new(false));
                let (requests, replies) = (accepting.clone(), accepting.clone());
                let (client2, server2, cut2) = (clone(&client), clone(&server), cut.clone());
                thread::spawn(move || pump_requests(client, server, &cut, &requests));
                thread::spawn(move || pump_replies(server2, client2, &cut2, &replies));
            }
        });
        LossyProxy { port, shared }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Loses the answer to the next request that contains `needle`.
    fn lose_answer_to(&self, needle: &str) {
        *self.shared.armed.lock().unwrap() = Some(needle.as_bytes().to_vec());
    }

    fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `closed`.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        for socket in self.shared.sockets.lock().unwrap().iter() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

/// Client to Redis: marks the connection for a cut, before forwarding, when a request
/// contains the armed string.
fn pump_requests(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool, shared: &ProxyShared) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        let chunk = &buf[..n];
        {
            let mut armed = shared.armed.lock().unwrap();
            if armed
                .as_deref()
                .is_some_and(|needle| chunk.windows(needle.len()).any(|w| w == needle))
            {
                *armed = None;
                cut.store(true, Ordering::SeqCst);
            }
        }
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Redis to client: on a marked connection, the next answer is not forwarded; the
/// connection is cut instead.
fn pump_replies(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool, shared: &ProxyShared) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if cut.load(Ordering::SeqCst) {
            shared.cuts.fetch_add(1, Ordering::SeqCst);
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
