//! End to end, on real processes: worker daemons (`src/bin/e2e_worker.rs`) started as child
//! processes, each test with its own `redis-server`, real time. The jobs write `start` and
//! `done` lines to a ledger file, so a test sees which process ran what, and how often.
//!
//! Every wait polls a condition with a deadline; the deadlines are generous (a loaded
//! 2-core CI machine), the tests take about as long as their jobs. The figures they print
//! (`--nocapture`) are the ones worth watching in CI logs.

use std::collections::BTreeSet;
use std::time::Duration;

use jobs_core::{JobId, JobState};
use jobs_tests::e2e::{Entry, PATIENCE, QUEUE, WorkerProcess, World, by_job};
use jobs_tests::support::{eventually, wait_for_state};
use tokio::time::Instant;

/// The worker daemon, `src/bin/e2e_worker.rs`.
const WORKER: &str = env!("CARGO_BIN_EXE_e2e_worker");

/// A job twenty times longer than its lease runs once, to the end: the default heartbeat
/// keeps the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_job_completes_exactly_once() {
    const LEASE_MS: u64 = 1_000;
    const JOB_MS: u64 = 20_000;
    let world = World::new(WORKER, "e2e-long").await;
    let worker = world
        .worker("worker", &["--lease-ms", &LEASE_MS.to_string()])
        .await;

    let enqueued = Instant::now();
    let id = world.client.enqueue(world.job(JOB_MS)).await.unwrap();
    let start = world.starts(id, 1, PATIENCE).await[0];
    let started = Instant::now();
    assert_eq!(start.pid(), worker.pid);
    println!(
        "started {:.2?} after enqueue",
        started.duration_since(enqueued)
    );

    // Watch the record while the job runs: it must stay Active, delivered once, never
    // stalled, with its lease end moving forward.
    let deadline = started + Duration::from_millis(JOB_MS) + PATIENCE;
    let mut lease_ends = BTreeSet::new();
    let info = loop {
        let info = world.record(id).await;
        assert_eq!(
            (info.deliveries, info.stalls),
            (1, 0),
            "re-delivered or stalled while running: {info:?}"
        );
        match info.state {
            JobState::Active => {
                lease_ends.insert(info.lease_expires_at_ms.expect("an active job's lease"));
            }
            JobState::Succeeded => break info,
            other => panic!("the job went {other:?} while running: {info:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "job {id} not Succeeded {:?} after it started: {info:?}",
            deadline.duration_since(started)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ran = started.elapsed();
    println!(
        "succeeded {ran:.2?} after it started ({JOB_MS} ms job, {LEASE_MS} ms lease); \
         {} distinct lease ends seen while it ran (one renewal per {} ms expected)",
        lease_ends.len(),
        LEASE_MS / 3
    );
    assert_eq!(info.state, JobState::Succeeded);
    assert_eq!(info.deliveries, 1, "{info:?}");
    assert_eq!(info.stalls, 0, "{info:?}");
    assert_eq!(info.attempts, 1, "{info:?}");
    // At least one renewal per lease length, or the lease would have run out.
    assert!(
        lease_ends.len() as u64 >= JOB_MS / LEASE_MS,
        "only {} lease ends seen in {ran:?}",
        lease_ends.len()
    );

    let entries = world.ledger.entries();
    assert_eq!(
        entries,
        vec![
            Entry::Start {
                id,
                pid: worker.pid,
                attempt: 1
            },
            Entry::Done {
                id,
                pid: worker.pid
            },
        ]
    );
}

/// Two workers with the given lease; a job of `job_ms` runs on one of them, which is then
/// killed (SIGKILL) as soon as the job's `start` line is in the ledger.
struct Crash {
    workers: Vec<WorkerProcess>,
    id: JobId,
    /// The `start` line of the killed worker's run.
    first: Entry,
    /// Index in `workers` of the worker still alive.
    survivor: usize,
    killed: Instant,
}

impl Crash {
    async fn new(world: &World, lease_ms: u64, job_ms: u64) -> Crash {
        let lease = lease_ms.to_string();
        let mut workers = vec![
            world.worker("worker-1", &["--lease-ms", &lease]).await,
            world.worker("worker-2", &["--lease-ms", &lease]).await,
        ];
        let id = world.client.enqueue(world.job(job_ms)).await.unwrap();
        let first = world.starts(id, 1, PATIENCE).await[0];
        let victim = workers
            .iter()
            .position(|w| w.pid == first.pid())
            .unwrap_or_else(|| panic!("{first:?} was run by none of our workers"));
        let status = workers[victim].kill();
        let killed = Instant::now();
        println!(
            "killed {} (pid {}) while it ran the job: {status}",
            workers[victim].name, workers[victim].pid
        );
        Crash {
            workers,
            id,
            first,
            survivor: 1 - victim,
            killed,
        }
    }

    fn survivor(&self) -> &WorkerProcess {
        &self.workers[self.survivor]
    }
}

/// A worker killed mid-job (SIGKILL): another worker runs the job once the lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_job_runs_on_another_worker() {
    const LEASE_MS: u64 = 1_000;
    const JOB_MS: u64 = 3_000;
    let world = World::new(WORKER, "e2e-kill").await;
    let crash = Crash::new(&world, LEASE_MS, JOB_MS).await;
    let (id, survivor) = (crash.id, crash.survivor().pid);

    let second = world
        .starts(id, 2, Duration::from_millis(LEASE_MS) + PATIENCE)
        .await[1];
    println!(
        "re-delivered {:.2?} after the kill ({LEASE_MS} ms lease)",
        crash.killed.elapsed()
    );
    assert_eq!(
        second,
        Entry::Start {
            id,
            pid: survivor,
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
    println!(
        "succeeded {:.2?} after the kill: deliveries {}, stalls {}, attempts {}",
        crash.killed.elapsed(),
        info.deliveries,
        info.stalls,
        info.attempts
    );
    assert_eq!(info.deliveries, 2, "{info:?}");
    assert_eq!(info.stalls, 1, "{info:?}");
    assert_eq!(info.attempts, 2, "a stalled attempt counts: {info:?}");

    assert_eq!(
        world.ledger.entries(),
        vec![crash.first, second, Entry::Done { id, pid: survivor }]
    );
}

/// The README: the lease "decides how fast a crashed worker's jobs run again". With Redis,
/// an idle worker blocked on the wake list must hear of a lease taken by another worker, or
/// it sleeps its whole `idle_wait` (5 s by default) before it recovers the job. A
/// reservation wakes an idle worker, which learns the new lease end from its own empty
/// reservation; and no worker sleeps longer than its lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_job_runs_again_about_one_lease_later() {
    const LEASE_MS: u64 = 500;
    // Room for a loaded machine, and still half the default idle wait.
    const SLACK: Duration = Duration::from_millis(2_000);
    let world = World::new(WORKER, "e2e-redelivery").await;
    let crash = Crash::new(&world, LEASE_MS, 60_000).await;
    world.starts(crash.id, 2, PATIENCE).await;
    let took = crash.killed.elapsed();
    println!("re-delivered {took:.2?} after the kill ({LEASE_MS} ms lease)");
    assert!(
        took < Duration::from_millis(LEASE_MS) + SLACK,
        "re-delivered {took:?} after the kill, with a {LEASE_MS} ms lease"
    );
}

/// Jobs wait in Redis while no worker runs, and all run, once each, when one starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_enqueued_with_no_worker_run_when_one_starts() {
    const JOBS: usize = 200;
    const JOB_MS: u64 = 10;
    let world = World::new(WORKER, "e2e-backlog").await;
    let ids = world
        .client
        .enqueue_many((0..JOBS).map(|_| world.job(JOB_MS)))
        .await
        .unwrap();
    let stats = world.client.stats(QUEUE).await.unwrap();
    assert_eq!(
        (stats.ready, stats.scheduled, stats.active, stats.succeeded),
        (JOBS as u64, 0, 0, 0),
        "{stats:?}"
    );

    let worker = world.worker("worker", &[]).await;
    let started = Instant::now();
    eventually(&format!("{JOBS} jobs to succeed"), PATIENCE, || async {
        let stats = world.client.stats(QUEUE).await.expect("stats");
        (stats.succeeded == JOBS as u64).then_some(())
    })
    .await;
    let took = started.elapsed();
    println!(
        "{JOBS} jobs of {JOB_MS} ms ran in {took:.2?} after the worker was ready ({:.0} jobs/s)",
        JOBS as f64 / took.as_secs_f64()
    );
    let stats = world.client.stats(QUEUE).await.unwrap();
    assert_eq!(
        (stats.ready, stats.scheduled, stats.active, stats.dead),
        (0, 0, 0, 0),
        "{stats:?}"
    );

    for &id in &ids {
        let info = world.record(id).await;
        assert_eq!(
            (info.state, info.deliveries, info.attempts, info.stalls),
            (JobState::Succeeded, 1, 1, 0),
            "{info:?}"
        );
    }
    let runs = by_job(&world.ledger.entries());
    assert_eq!(
        runs.keys().copied().collect::<BTreeSet<_>>(),
        ids.iter().copied().collect::<BTreeSet<_>>(),
        "the ledger's jobs are not the enqueued ones"
    );
    for (id, entries) in runs {
        assert_eq!(
            entries,
            vec![
                Entry::Start {
                    id,
                    pid: worker.pid,
                    attempt: 1
                },
                Entry::Done {
                    id,
                    pid: worker.pid
                },
            ]
        );
    }
}

/// SIGTERM with a job running past the grace period: the worker exits 0 and the job is
/// back in Ready at once, not left Active until its (long) lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_running_jobs_at_once() {
    const LEASE_MS: u64 = 60_000;
    const GRACE_MS: u64 = 500;
    const JOB_MS: u64 = 60_000;
    let world = World::new(WORKER, "e2e-sigterm").await;
    let mut worker = world
        .worker(
            "worker",
            &[
                "--lease-ms",
                &LEASE_MS.to_string(),
                "--grace-ms",
                &GRACE_MS.to_string(),
            ],
        )
        .await;

    let id = world.client.enqueue(world.job(JOB_MS)).await.unwrap();
    world.starts(id, 1, PATIENCE).await;
    let info = world.record(id).await;
    assert_eq!(
        (info.state, info.attempts, info.deliveries),
        (JobState::Active, 1, 1),
        "{info:?}"
    );

    worker.terminate();
    let sent = Instant::now();
    let status = worker.wait_exit(PATIENCE).await;
    let took = sent.elapsed();
    println!("exited {took:.2?} after SIGTERM ({GRACE_MS} ms grace): {status}");
    assert!(status.success(), "{status}");
    // Far below the default grace (25 s) and the lease (60 s): the grace given was used.
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} to exit after SIGTERM"
    );

    // No waiting: the release happened before the process exited.
    let info = world.record(id).await;
    assert_eq!(
        (info.state, info.attempts, info.deliveries, info.stalls),
        (JobState::Ready, 0, 1, 0),
        "{info:?}"
    );
    assert_eq!(info.lease_expires_at_ms, None, "{info:?}");
    let stats = world.client.stats(QUEUE).await.unwrap();
    assert_eq!((stats.ready, stats.active), (1, 0), "{stats:?}");
    assert_eq!(
        world.ledger.entries(),
        vec![Entry::Start {
            id,
            pid: worker.pid,
            attempt: 1
        }],
        "the job was interrupted, not finished"
    );
}

/// A worker killed with SIGKILL cannot say goodbye: it leaves the list of live workers
/// when its registration's ttl runs out, not later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_the_worker_list_within_its_ttl() {
    const TTL_MS: u64 = 1_500;
    let world = World::new(WORKER, "e2e-registry").await;
    let mut worker = world
        .worker("worker", &["--registry-ttl-ms", &TTL_MS.to_string()])
        .await;
    let pid = worker.pid;
    let listed = eventually("the worker to be listed", PATIENCE, || async {
        let workers = world.client.workers().await.unwrap();
        workers.into_iter().find(|w| w.pid == pid)
    })
    .await;
    assert_eq!(listed.queues, vec![QUEUE.to_owned()]);
    assert!(
        listed.expires_at_ms - listed.last_beat_ms <= TTL_MS,
        "{listed:?}"
    );

    worker.kill();
    let killed = Instant::now();
    eventually("the killed worker to leave the list", PATIENCE, || async {
        let workers = world.client.workers().await.unwrap();
        (!workers.iter().any(|w| w.pid == pid)).then_some(())
    })
    .await;
    let gone_after = killed.elapsed();
    println!("the killed worker left the list {gone_after:.2?} after SIGKILL (ttl {TTL_MS} ms)");
    // Its last beat was at most a third of the ttl before the kill; polling adds a little.
    assert!(
        gone_after <= Duration::from_millis(TTL_MS + 500),
        "listed {gone_after:?} after SIGKILL with a {TTL_MS} ms ttl"
    );
}
