//! Bad contents in the store, written by hand as an operator or a bug elsewhere could:
//! whoever can write to Redis can feed a worker bad input, and each bad entry costs only
//! itself. With a worker running, every valid job still runs exactly once and the bad one
//! ends in dead with a true reason (or, for a broken key, nothing is lost).

use std::time::Duration;

use jobs_core::backend::{NewJob, RunAt};
use jobs_core::{Backend, BackendError, Client, Data, JobContext, JobError, JobId, JobState, job};
use jobs_redis::RedisBackend;
use jobs_tests::conformance::jobs::{Echo, Q};
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{Recorder, RunningWorker, eventually, wait_for_state};
use redis::AsyncCommands;

const PATIENCE: Duration = Duration::from_secs(60);
const PREFIX: &str = "t";

fn key(name: &str) -> String {
    format!("{PREFIX}:{{{Q}}}:{name}")
}

async fn setup() -> (
    RedisServer,
    Client<RedisBackend>,
    redis::aio::MultiplexedConnection,
) {
    let server = RedisServer::start().expect("start redis-server");
    let backend = RedisBackend::builder(&server.url())
        .prefix(PREFIX)
        .connect()
        .await
        .expect("connect");
    let raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    (server, Client::new(backend), raw)
}

fn echo(label: &str) -> Echo {
    Echo {
        label: label.into(),
    }
}

async fn enqueue_labels(client: &Client<RedisBackend>, n: usize) -> Vec<(String, JobId)> {
    let mut out = Vec::new();
    for i in 0..n {
        let label = format!("valid-{i}");
        out.push((label.clone(), client.enqueue(echo(&label)).await.unwrap()));
    }
    out
}

/// Every job in `jobs` succeeded, each exactly once.
async fn each_ran_once(client: &Client<RedisBackend>, rec: &Recorder, jobs: &[(String, JobId)]) {
    for (label, id) in jobs {
        wait_for_state(client, Q, *id, JobState::Succeeded, PATIENCE).await;
        assert_eq!(
            rec.runs_of(label).len(),
            1,
            "{label} ran {:?}",
            rec.runs_of(label)
        );
    }
}

/// The dead set holds `id` (as stored) and the record's error says `why`.
async fn dead_with_reason(raw: &mut redis::aio::MultiplexedConnection, id: &str, why: &str) {
    eventually(&format!("{id} in dead"), PATIENCE, || {
        let mut raw = raw.clone();
        async move {
            let score: Option<f64> = raw.zscore(key("dead"), id).await.unwrap();
            score.map(|_| ())
        }
    })
    .await;
    let stream: Vec<redis::Value> = redis::cmd("XRANGE")
        .arg(key("events"))
        .arg("-")
        .arg("+")
        .query_async(raw)
        .await
        .unwrap();
    let text = format!("{stream:?}");
    assert!(
        text.contains(why),
        "no dead event for {id} saying {why:?}: {text}"
    );
}

/// Puts `id` at the head of the ready set (highest priority band), as an edit by hand would.
async fn push_ready(raw: &mut redis::aio::MultiplexedConnection, id: &str) {
    let _: () = raw.zadd(key("ready"), id, 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_uuid_id_in_ready_costs_only_itself() {
    let (_server, client, mut raw) = setup().await;
    let jobs = enqueue_labels(&client, 10).await;
    // A record under a bad id, in line before every valid job.
    let some: Vec<u8> = raw.hget(key("jobs"), jobs[0].1.to_string()).await.unwrap();
    let _: () = raw.hset(key("jobs"), "garbage", some).await.unwrap();
    push_ready(&mut raw, "garbage").await;
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| b.register::<Echo>().data(rec.clone()));
    each_ran_once(&client, &rec, &jobs).await;
    dead_with_reason(&mut raw, "garbage", "is not a UUID").await;
    // Listing the dead skips what it cannot show instead of failing for good.
    let dead = client.dead_jobs(Q, 0, 100).await.expect("dead_jobs lists");
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!(client.stats(Q).await.unwrap().dead, 1);
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_in_another_spelling_is_refused_with_the_reason() {
    let (_server, client, mut raw) = setup().await;
    let jobs = enqueue_labels(&client, 5).await;
    // A valid job moved by hand under its upper-case spelling.
    let odd = client.enqueue(echo("odd")).await.unwrap();
    let upper = odd.to_string().to_uppercase();
    let record: Vec<u8> = raw.hget(key("jobs"), odd.to_string()).await.unwrap();
    let _: () = raw.hset(key("jobs"), &upper, record).await.unwrap();
    let _: () = raw.hdel(key("jobs"), odd.to_string()).await.unwrap();
    let _: () = raw.zrem(key("ready"), odd.to_string()).await.unwrap();
    push_ready(&mut raw, &upper).await;
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| b.register::<Echo>().data(rec.clone()));
    each_ran_once(&client, &rec, &jobs).await;
    dead_with_reason(&mut raw, &upper, "not in canonical form").await;
    assert!(rec.runs_of("odd").is_empty(), "a refused job ran");
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_token_counter_takes_no_job_out_of_ready() {
    let (server, client, mut raw) = setup().await;
    let jobs = enqueue_labels(&client, 10).await;
    let _: () = raw.set(key("seq"), "not a number").await.unwrap();
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| b.register::<Echo>().data(rec.clone()));
    // The worker's reservations fail on the server...
    eventually("a refused reservation", PATIENCE, || async {
        let errors = server.command(&["INFO", "errorstats"]).unwrap();
        errors.contains("errorstat_ERR").then_some(())
    })
    .await;
    // ... without taking anything out of ready.
    let stats = client.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.active, stats.orphaned), (10, 0, 0));
    assert!(rec.runs().is_empty());
    // Mended, every job runs once.
    let _: () = raw.del(key("seq")).await.unwrap();
    each_ran_once(&client, &rec, &jobs).await;
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_event_stream_fails_no_transition() {
    let (_server, client, mut raw) = setup().await;
    // The stream at its last possible id: every further XADD is refused.
    let _: () = redis::cmd("XADD")
        .arg(key("events"))
        .arg("18446744073709551615-18446744073709551615")
        .arg("k")
        .arg("x")
        .query_async(&mut raw)
        .await
        .unwrap();
    // The enqueue stores its jobs and says so (it used to store them and return an error).
    let jobs = enqueue_labels(&client, 10).await;
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| b.register::<Echo>().data(rec.clone()));
    each_ran_once(&client, &rec, &jobs).await;
    worker.stop().await.unwrap();
}

/// Test data: a raw connection to the test's Redis.
#[derive(Clone)]
struct Raw(redis::aio::MultiplexedConnection);

/// Breaks its own record (drops the fields only the scripts read), then fails.
#[job(queue = "suite")]
async fn breaks_own_record(raw: Data<Raw>, ctx: JobContext) -> Result<(), JobError> {
    let mut conn = raw.0.clone();
    // A msgpack array of five fields: name, payload, priority, max_attempts, attempts.
    let broken: &[u8] = b"\x95\xa4echo\xa2{}\x00\x03\x00";
    let _: () = conn
        .hset(key("jobs"), ctx.id().to_string(), broken)
        .await
        .map_err(|e| JobError::permanent(e.to_string()))?;
    Err("failed after breaking its record".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_broken_while_its_job_runs_spares_its_neighbours() {
    let (_server, client, mut raw) = setup().await;
    let mut bad = Vec::new();
    for _ in 0..5 {
        bad.push(client.enqueue(BreaksOwnRecord {}).await.unwrap());
    }
    let jobs = enqueue_labels(&client, 50).await;
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Echo>()
            .register::<BreaksOwnRecord>()
            .data(rec.clone())
            .data(Raw(raw.clone()))
            .concurrency(64)
    });
    each_ran_once(&client, &rec, &jobs).await;
    for id in &bad {
        dead_with_reason(&mut raw, &id.to_string(), "cannot be read").await;
    }
    let stats = client.stats(Q).await.unwrap();
    assert_eq!((stats.dead, stats.orphaned, stats.active), (5, 0, 0));
    let dead = client.dead_jobs(Q, 0, 100).await.unwrap();
    assert_eq!(dead.len(), 5);
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_job_with_an_unreadable_record_goes_to_dead() {
    let (_server, client, mut raw) = setup().await;
    let soon = client
        .enqueue(echo("soon"))
        .delay(Duration::from_millis(200))
        .await
        .unwrap();
    let _: () = raw
        .hset(key("jobs"), soon.to_string(), "not msgpack")
        .await
        .unwrap();
    let jobs = enqueue_labels(&client, 5).await;
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| b.register::<Echo>().data(rec.clone()));
    each_ran_once(&client, &rec, &jobs).await;
    dead_with_reason(&mut raw, &soon.to_string(), "cannot be read").await;
    assert_eq!(client.stats(Q).await.unwrap().scheduled, 0);
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn ready_entries_without_records_do_not_hide_the_jobs_behind_them() {
    let (_server, client, mut raw) = setup().await;
    let real = client.enqueue(echo("behind")).await.unwrap();
    for _ in 0..50 {
        push_ready(&mut raw, &JobId::new().to_string()).await;
    }
    // One reservation of ten: the fifty ids without records are taken out and the real
    // job behind them is leased in the same call.
    let got = client
        .backend()
        .reserve(&[Q.to_owned()], 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got.iter().map(|r| r.lease.id).collect::<Vec<_>>(), [real]);
}

#[tokio::test]
async fn orphans_are_counted_and_swept_to_dead() {
    let (_server, client, mut raw) = setup().await;
    let kept = client.enqueue(echo("kept")).await.unwrap();
    let orphan = client.enqueue(echo("orphan")).await.unwrap();
    // Taken out of every set, as a script failing half-way used to leave jobs.
    let _: () = raw.zrem(key("ready"), orphan.to_string()).await.unwrap();
    let stats = client.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.orphaned), (1, 1));
    assert_eq!(client.sweep_orphans(Q).await.unwrap(), 1);
    let stats = client.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.dead, stats.orphaned), (1, 1, 0));
    let info = client.job(Q, orphan).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Dead);
    assert!(
        info.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("no set"),
        "{info:?}"
    );
    assert_eq!(
        client.job(Q, kept).await.unwrap().unwrap().state,
        JobState::Ready
    );
    // Nothing left to sweep.
    assert_eq!(client.sweep_orphans(Q).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_of_a_shared_enqueue_gets_its_own_result() {
    let (_server, client, mut raw) = setup().await;
    // Queue "broken" refuses every enqueue (its jobs key holds a string); "suite" is fine.
    let _: () = raw.set("t:{broken}:jobs", "x").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..400 {
        let backend = client.backend().clone();
        let queue = if i % 2 == 0 { Q } else { "broken" };
        tasks.push(tokio::spawn(async move {
            let job = NewJob {
                id: JobId::new(),
                name: "echo".into(),
                queue: queue.into(),
                payload: br#"{"label":"x"}"#.to_vec(),
                priority: 0,
                run_at: RunAt::Now,
                max_attempts: 1,
                batch: None,
                flow: Default::default(),
            };
            (queue, job.id, backend.enqueue(vec![job]).await)
        }));
    }
    let mut stored = 0;
    for task in tasks {
        let (queue, id, result) = task.await.unwrap();
        let found = client.job(Q, id).await.unwrap().is_some();
        match queue {
            Q => {
                assert!(result.is_ok(), "a stored job's caller got {result:?}");
                assert!(found);
                stored += 1;
            }
            _ => assert!(
                matches!(
                    result,
                    Err(BackendError::Other(_) | BackendError::Corrupt(_))
                ),
                "{result:?}"
            ),
        }
    }
    assert_eq!(stored, 200);
    assert_eq!(client.stats(Q).await.unwrap().ready, 200);
}

#[tokio::test]
async fn a_running_job_is_found_by_id_among_many_leased() {
    let (_server, client, _raw) = setup().await;
    let ids: Vec<JobId> = enqueue_labels(&client, 300)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let got = client
        .backend()
        .reserve(&[Q.to_owned()], 300, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got.len(), 300);
    let found = client.jobs(Q, &ids).await.unwrap();
    for (r, info) in got.iter().zip(&found) {
        let info = info.as_ref().unwrap();
        assert_eq!(info.state, JobState::Active);
        assert_eq!(info.lease_expires_at_ms, Some(r.lease.expires_at_ms));
        assert_eq!((info.attempts, info.deliveries), (1, 1));
    }
}

/// An unreadable record at the top of the dead set does not stop `retry_dead_where(since)`
/// before the readable dead jobs that ended after `since`; it is listed with its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_dead_where_is_not_stopped_by_a_corrupt_record() {
    let (_server, client, mut raw) = setup().await;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 5_000;
    let a = client.enqueue(echo("a")).await.unwrap();
    client.cancel(Q, a).await.unwrap();
    let bad = JobId::new().to_string();
    let _: () = raw.hset(key("jobs"), &bad, "not msgpack").await.unwrap();
    let _: () = raw
        .zadd(key("dead"), &bad, (since + 60_000) as f64)
        .await
        .unwrap();
    let page = client.list_jobs(Q, JobState::Dead, None, 10).await.unwrap();
    assert_eq!(page.jobs[0].id.to_string(), bad);
    assert_eq!(page.jobs[0].finished_at_ms, Some(since + 60_000));
    let moved = client.retry_dead_where(Q, Some(since)).await.unwrap();
    assert_eq!(
        moved, 1,
        "the cancelled job ended after `since` and should be retried"
    );
}
