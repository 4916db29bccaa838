//! Chaos run, on real processes: thousands of short jobs through three worker daemons
//! (`src/bin/e2e_worker.rs`), one of them killed with SIGKILL every second or two and
//! started again, and Redis itself restarted twice mid-run (once shut down, once killed),
//! while the test keeps enqueueing. Every job leaves `start`/`done` lines in a ledger file
//! outside the queue; at the end the ledger and the job records must agree: nothing lost,
//! every extra run explained by a lost lease, the queue empty and consistent.
//!
//! The schedule (which worker dies when, when Redis goes down, how long each job sleeps)
//! comes from a seeded generator. The seed is printed; `CHAOS_SEED=<seed>` replays the same
//! schedule (the processes' timing still varies from run to run).
//!
//! Run it alone, with its figures: `cargo test -p jobs-tests --test chaos -- --nocapture`.

use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jobs_core::{Client, JobId, Retention};
use jobs_redis::RedisBackend;
use jobs_tests::e2e::{
    LoggedSleep, PATIENCE, QUEUE, WorkerProcess, World, audit, enqueue_until_stored,
};
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::eventually;
use tokio::time::Instant;

/// The worker daemon, `src/bin/e2e_worker.rs`.
const WORKER: &str = env!("CARGO_BIN_EXE_e2e_worker");

/// Jobs in the run.
const JOBS: usize = 3_000;
/// Of which enqueued before the workers start; the rest are enqueued during the run.
const UPFRONT: usize = 600;
/// During the run, this many jobs are enqueued every [`PACE_EVERY`] (about 100 per second,
/// so that enqueueing lasts about as long as the chaos).
const PACE: usize = 10;
const PACE_EVERY: Duration = Duration::from_millis(100);
/// How long each job sleeps, in ms.
const JOB_MS: Range<u64> = 2..101;
/// Pause between two tries of an enqueue that found Redis unavailable.
const ENQUEUE_RETRY: Duration = Duration::from_millis(50);

/// Worker processes running at any time.
const WORKERS: usize = 3;
/// Short, so that a killed worker's jobs are recovered quickly.
const LEASE_MS: u64 = 1_000;
/// Lease expiries before a job is dead (`--max-stalls`, a backend setting of the workers),
/// and attempts allowed (a job whose lease expires on its last attempt is dead too): far
/// above what a job can go through here (one stall per kill of its worker while it runs,
/// one per Redis outage longer than a lease), so that no job ends dead.
const MAX_STALLS: u32 = 100;
const MAX_ATTEMPTS: u32 = 100;

/// Time between two chaos ticks, in ms. Each tick kills a worker (SIGKILL) and starts
/// another in its place.
const TICK_MS: Range<u64> = 1_000..2_001;
/// On this tick Redis is shut down (SIGTERM) and on the next one started again.
const REDIS_STOP_TICK: u32 = 4;
/// On this tick Redis is killed (SIGKILL, as in a crash) and on the next one started again.
const REDIS_KILL_TICK: u32 = 10;
/// The chaos goes on at least this many ticks, and until every job is enqueued.
const MIN_TICKS: u32 = 14;

// Every succeeded job must still be there to be counted: the workers' retention (the
// default) keeps more than the run makes.
const _: () = assert!(JOBS as u64 <= Retention::DEFAULT.succeeded_max);
const _: () = assert!(REDIS_KILL_TICK + 1 < MIN_TICKS && REDIS_STOP_TICK + 1 < REDIS_KILL_TICK);

/// SplitMix64: a small seeded generator, so that a schedule can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `range` (the modulo bias is irrelevant at these sizes).
    fn range(&mut self, range: Range<u64>) -> u64 {
        range.start + self.next() % (range.end - range.start)
    }
}

/// `$CHAOS_SEED` if set, else a fresh seed.
fn seed() -> u64 {
    match std::env::var("CHAOS_SEED") {
        Ok(s) if !s.trim().is_empty() => s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("CHAOS_SEED={s:?} is not a u64: {e}")),
        _ => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as u64,
    }
}

/// The arguments every worker of the run gets. `--lazy`: a worker started while Redis is
/// down waits for it instead of exiting.
fn worker_args() -> Vec<String> {
    [
        "--lease-ms",
        &LEASE_MS.to_string(),
        "--max-stalls",
        &MAX_STALLS.to_string(),
        "--lazy",
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn start_worker(world: &World, slot: usize, generation: u32) -> WorkerProcess {
    let args = worker_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut worker = world.spawn_worker(&format!("w{slot}-{generation}"), &args);
    worker.wait_ready().await;
    worker
}

/// Enqueues `jobs` one by one, [`PACE`] every [`PACE_EVERY`] (or as fast as Redis takes
/// them, if slower), each with its own id, retrying it (same id) while Redis is
/// unavailable. Returns the failed tries.
async fn enqueue_paced(
    client: Client<RedisBackend>,
    ledger: String,
    jobs: Vec<(JobId, u64)>,
) -> u32 {
    let began = Instant::now();
    let mut retries = 0;
    for (n, chunk) in jobs.chunks(PACE).enumerate() {
        // The schedule: chunk n is due n paces after the start.
        tokio::time::sleep_until(began + PACE_EVERY * n as u32).await;
        for &(id, ms) in chunk {
            let job = || LoggedSleep {
                ledger: ledger.clone(),
                ms,
            };
            retries +=
                enqueue_until_stored(&client, job, id, MAX_ATTEMPTS, ENQUEUE_RETRY, PATIENCE).await;
        }
    }
    retries
}

/// A blocking call on the test's `RedisServer` (stop, kill, restart wait for the process),
/// without holding up the enqueuer task on this runtime thread.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_run_loses_nothing() {
    let seed = seed();
    println!("chaos seed {seed} (replay the schedule with CHAOS_SEED={seed})");
    let mut rng = Rng(seed);
    let began = Instant::now();

    // `--appendfsync always`: Redis acknowledges a write only once it is in the append-only
    // file on disk, so an enqueue that returned Ok survives the SIGKILL of Redis below. With
    // the default `everysec`, the last second of acknowledged writes may be lost, and the
    // test would rightly see jobs disappear.
    let world = World::with(
        WORKER,
        "chaos",
        RedisServer::builder()
            .appendonly(true)
            .args(["--appendfsync", "always"]),
        // Fail fast while Redis is away, so the enqueuer retries instead of hanging.
        |backend| {
            backend
                .connect_timeout(Duration::from_secs(1))
                .response_timeout(Duration::from_secs(2))
        },
    )
    .await;

    let jobs: Vec<(JobId, u64)> = (0..JOBS)
        .map(|_| (JobId::new(), rng.range(JOB_MS)))
        .collect();
    let ids: Vec<JobId> = jobs.iter().map(|&(id, _)| id).collect();
    let (upfront, during) = jobs.split_at(UPFRONT);

    // Some jobs wait in Redis before any worker runs...
    let mut enqueue_retries = 0;
    for &(id, ms) in upfront {
        enqueue_retries += enqueue_until_stored(
            &world.client,
            || world.job(ms),
            id,
            MAX_ATTEMPTS,
            ENQUEUE_RETRY,
            PATIENCE,
        )
        .await;
    }
    let mut generations = [1; WORKERS];
    let mut workers = Vec::new();
    for slot in 0..WORKERS {
        workers.push(start_worker(&world, slot + 1, 1).await);
    }
    // ... the rest arrive during the run, Redis restarts included.
    let enqueuer = tokio::spawn(enqueue_paced(
        world.client.clone(),
        world.ledger.arg(),
        during.to_vec(),
    ));

    let chaos_began = Instant::now();
    let (mut tick, mut kills, mut redis_restarts) = (0, 0, 0);
    loop {
        tokio::time::sleep(Duration::from_millis(rng.range(TICK_MS))).await;
        tick += 1;
        let mut events = Vec::new();
        match tick {
            REDIS_STOP_TICK => {
                blocking(|| world.server.stop()).expect("stop redis-server");
                events.push("Redis shut down (SIGTERM)".to_owned());
            }
            REDIS_KILL_TICK => {
                blocking(|| world.server.kill()).expect("kill redis-server");
                events.push("Redis killed (SIGKILL)".to_owned());
            }
            t if t == REDIS_STOP_TICK + 1 || t == REDIS_KILL_TICK + 1 => {
                let took = Instant::now();
                blocking(|| world.server.restart()).expect("restart redis-server");
                redis_restarts += 1;
                events.push(format!("Redis restarted in {:.0?}", took.elapsed()));
            }
            _ => {}
        }
        let slot = rng.range(0..WORKERS as u64) as usize;
        let status = workers[slot].kill();
        kills += 1;
        generations[slot] += 1;
        let old = workers[slot].pid;
        workers[slot] = start_worker(&world, slot + 1, generations[slot]).await;
        events.push(format!(
            "killed w{}-{} (pid {old}: {status}), started pid {}",
            slot + 1,
            generations[slot] - 1,
            workers[slot].pid
        ));
        println!(
            "t={:>5.1?} tick {tick:>2}: {}",
            chaos_began.elapsed(),
            events.join("; ")
        );
        if enqueuer.is_finished() && tick >= MIN_TICKS {
            break;
        }
    }
    let chaos = chaos_began.elapsed();
    enqueue_retries += match enqueuer.await {
        Ok(retries) => retries,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };

    // The survivors finish the work on their own.
    let drain_began = Instant::now();
    let what = format!("all {JOBS} jobs to succeed");
    eventually(&what, PATIENCE, || async {
        let stats = world.client.stats(QUEUE).await.expect("stats");
        if stats.dead > 0 {
            let dead = world
                .client
                .dead_jobs(QUEUE, 0, 10)
                .await
                .expect("dead jobs");
            panic!("{} job(s) dead: {dead:#?}", stats.dead);
        }
        (stats.succeeded == JOBS as u64).then_some(())
    })
    .await;
    let drain = drain_began.elapsed();
    // A graceful stop: each worker is still healthy, and no run is left to write to the
    // ledger while it is read.
    for worker in &mut workers {
        worker.terminate();
        let status = worker.wait_exit(PATIENCE).await;
        assert!(status.success(), "{} exited with {status}", worker.name);
    }

    let found = audit(&world, &ids).await;
    let stats = world.client.stats(QUEUE).await.expect("stats");
    let records = world.redis_int(&["HLEN", &world.key("jobs")]);
    let succeeded = world.redis_int(&["ZCARD", &world.key("succeeded")]);
    let leased = world.redis_int(&["ZCARD", &world.key("leased")]);
    let wall = began.elapsed();
    println!(
        "chaos summary: seed={seed} jobs={JOBS} workers={WORKERS} kills={kills} \
         redis_restarts={redis_restarts} lost={} duplicate_runs={} (extra runs {}) stalls={} \
         (on {} jobs, max deliveries {}) enqueue_retries={enqueue_retries} dead={} \
         wall={wall:.1?} (chaos {chaos:.1?}, drain {drain:.1?})",
        found.lost,
        found.duplicate_runs,
        found.extra_runs,
        found.stalls,
        found.stalled_jobs,
        found.max_deliveries,
        stats.dead,
    );
    found.assert_clean();
    assert_eq!(
        (stats.ready, stats.scheduled, stats.active, stats.dead),
        (0, 0, 0, 0),
        "the queue is not empty: {stats:?}"
    );
    assert_eq!(stats.succeeded, JOBS as u64, "{stats:?}");
    // No orphaned record (a record in no set) and no duplicate (an enqueue retried under
    // a new id would add one): exactly one record per job, each in the succeeded set.
    assert_eq!(
        (records, succeeded, leased),
        (JOBS as i64, JOBS as i64, 0),
        "records in {}, members of {}, members of {}",
        world.key("jobs"),
        world.key("succeeded"),
        world.key("leased")
    );
    assert_eq!(redis_restarts, 2);
    assert!(
        enqueue_retries > 0,
        "no enqueue met Redis down: the outages missed the enqueuer"
    );
}
