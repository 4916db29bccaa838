//! Batches on Redis when a step between two calls fails: a firing whose drainer claimed
//! it and could not finish, an open retried inside that claim, an add whose adder died
//! before enqueueing; and the bounds on the batch scripts (arguments per call, no read of
//! a whole hash, a status read that does not grow with the batch).
//!
//! Each failure is made real rather than simulated inside the backend: Redis at
//! `maxmemory` refuses the callback's enqueue while the counting scripts still run, or a
//! queue key of the wrong type makes one enqueue fail. The claim is shortened
//! ([`RedisBackendBuilder::batch_claim`]) so that waiting it out takes a second.

use std::collections::BTreeSet;
use std::time::Duration;

use jobs_core::backend::{Finish, NewJob, Outcome, RunAt};
use jobs_core::{Backend, BatchError, BatchSummary, CallbackKind, Client, JobId, JobState};
use jobs_redis::RedisBackend;
use jobs_tests::conformance::jobs::{BatchDone, Echo, Q};
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{Recorder, RunningWorker, eventually};

const CLAIM: Duration = Duration::from_millis(1_000);
const PATIENCE: Duration = Duration::from_secs(30);

async fn backend(server: &RedisServer) -> RedisBackend {
    RedisBackend::builder(&server.url())
        .prefix("t")
        .batch_claim(CLAIM)
        .connect()
        .await
        .expect("connect")
}

fn done(label: &str) -> BatchDone {
    BatchDone {
        label: label.into(),
        batch: BatchSummary::default(),
    }
}

fn worker(client: &Client<RedisBackend>, rec: &Recorder, queues: &[&str]) -> RunningWorker {
    let queues: Vec<String> = queues.iter().map(|q| (*q).to_owned()).collect();
    RunningWorker::start(client, |b| {
        b.register::<Echo>()
            .register::<BatchDone>()
            .data(rec.clone())
            .queues(queues)
            .lease(Duration::from_secs(5))
            .idle_wait(Duration::from_millis(200))
    })
}

/// Waits for the batch to finish, then checks that exactly one callback ran and that no
/// outbox entry is left that could fire it again.
async fn fired_once(
    server: &RedisServer,
    client: &Client<RedisBackend>,
    rec: &Recorder,
    batch: jobs_core::BatchId,
    queues: &[&str],
) -> BatchSummary {
    eventually("the callback to run", PATIENCE, || async {
        (!rec.callbacks().is_empty()).then_some(())
    })
    .await;
    eventually("the batch to be finished", PATIENCE, || async {
        client
            .batch_status(batch)
            .await
            .unwrap()
            .filter(|s| s.finished)
    })
    .await;
    for queue in queues {
        eventually("the outbox to be empty", PATIENCE, || async {
            (server
                .command(&["ZCARD", &format!("t:{{{queue}}}:ended")])
                .unwrap()
                == ":0")
                .then_some(())
        })
        .await;
    }
    let fired = rec.callbacks();
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!(fired[0].1.id, batch);
    fired[0].1.clone()
}

/// The issue's case: the drainer that claims a complete batch cannot enqueue its callback
/// (Redis is at maxmemory: the counting script runs, the enqueue is refused), and further
/// drains of the queue come inside its claim. Before, one of them removed the last entry
/// pointing at the batch and the callback never fired. Now the entry is kept until the
/// claim ends, and the firing is taken up then, with no further member ending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_refused_at_maxmemory_is_taken_up_after_the_claim() {
    let server = RedisServer::start().expect("start redis-server");
    let b = backend(&server).await;
    let client = Client::new(b.clone());
    let (batch, ids) = client
        .batch()
        .job(Echo {
            label: "only".into(),
        })
        .on_complete(done("complete"))
        .enqueue()
        .await
        .unwrap();
    let got = b
        .reserve(&[Q.to_owned()], 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got[0].lease.id, ids[0]);

    assert_eq!(
        server
            .command(&["CONFIG", "SET", "maxmemory", "1"])
            .unwrap(),
        "+OK"
    );
    // The member's outcome is recorded (finish runs at maxmemory); counting it claims the
    // firing, whose enqueue is refused.
    b.finish(vec![Finish {
        lease: got[0].lease.clone(),
        outcome: Outcome::Succeeded { result: None },
    }])
    .await
    .unwrap();
    assert_eq!(
        client.job(Q, ids[0]).await.unwrap().unwrap().state,
        JobState::Succeeded
    );
    assert!(
        client
            .job(Q, batch.callback_id(CallbackKind::Complete))
            .await
            .unwrap()
            .is_none(),
        "the callback was refused"
    );
    let meta = format!("t:{{batch:{batch}}}:meta");
    assert_eq!(
        server.command(&["HEXISTS", &meta, "claim"]).unwrap(),
        ":1",
        "the firing was claimed"
    );
    assert_eq!(
        server
            .command(&["CONFIG", "SET", "maxmemory", "0"])
            .unwrap(),
        "+OK"
    );

    // Workers reserve (and drain) from now on, first inside the claim.
    let rec = Recorder::default();
    let w = worker(&client, &rec, &[Q]);
    let summary = fired_once(&server, &client, &rec, batch, &[Q]).await;
    w.stop().await.unwrap();
    assert_eq!((summary.total, summary.succeeded, summary.dead), (1, 1, 0));
}

/// The same, with the drains driven by hand: the entry survives every drain inside the
/// claim, and the first drain after it fires the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drains_inside_a_claim_keep_the_entry_and_the_first_after_it_fires() {
    const MEMBERS: &str = "other";
    let server = RedisServer::start().expect("start redis-server");
    let b = backend(&server).await;
    let client = Client::new(b.clone());
    let (batch, ids) = client
        .batch()
        .job_on(MEMBERS, Echo { label: "a".into() }, JobId::new())
        .on_complete(done("complete"))
        .enqueue()
        .await
        .unwrap();
    let got = b
        .reserve(&[MEMBERS.to_owned()], 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got[0].lease.id, ids[0]);
    // The callbacks' queue refuses enqueues (a key of the wrong type): the firing fails
    // after its claim was taken, as if its drainer had died.
    let callback_ready = "t:{suite}:ready";
    server
        .command(&["SET", callback_ready, "not a zset"])
        .unwrap();
    b.finish(vec![Finish {
        lease: got[0].lease.clone(),
        outcome: Outcome::Succeeded { result: None },
    }])
    .await
    .unwrap();
    let entry = format!("{batch} {} s", ids[0]);
    let outbox = "t:{other}:ended";
    assert_ne!(server.command(&["ZSCORE", outbox, &entry]).unwrap(), "$-1");
    server.command(&["DEL", callback_ready]).unwrap();

    // Drains inside the claim (the entry made due at once, as on a busy queue).
    let started = tokio::time::Instant::now();
    let mut drains = 0;
    while started.elapsed() < CLAIM / 2 {
        server
            .command(&["ZADD", outbox, "XX", "0", &entry])
            .unwrap();
        b.recover_expired(MEMBERS, 10).await.unwrap();
        drains += 1;
        assert_ne!(
            server.command(&["ZSCORE", outbox, &entry]).unwrap(),
            "$-1",
            "drain {drains} inside the claim removed the entry"
        );
    }
    assert!(drains > 0);
    assert!(!client.batch_status(batch).await.unwrap().unwrap().finished);
    // After the claim the next drain fires it: due by then, with no further ending.
    let callback = batch.callback_id(CallbackKind::Complete);
    eventually("the callback to be enqueued", PATIENCE, || async {
        b.recover_expired(MEMBERS, 10).await.unwrap();
        client.job(Q, callback).await.unwrap()
    })
    .await;
    assert_eq!(server.command(&["ZCARD", outbox]).unwrap(), ":0");
    assert!(client.batch_status(batch).await.unwrap().unwrap().finished);
    assert_eq!(client.stats(Q).await.unwrap().ready, 1, "one callback");
}

/// An empty batch whose open claimed the firing and failed to enqueue the callback is
/// opened again (the same id) inside the claim. Before, that retry answered Ok and the
/// callback never fired; now it fires once, after the claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_empty_batch_open_fires_once_after_the_claim() {
    let server = RedisServer::start().expect("start redis-server");
    let client = Client::new(backend(&server).await);
    let batch = jobs_core::BatchId::new();
    server
        .command(&["SET", "t:{suite}:ready", "not a zset"])
        .unwrap();
    let err = client
        .batch()
        .id(batch)
        .on_complete(done("complete"))
        .enqueue()
        .await
        .unwrap_err();
    assert!(matches!(err, BatchError::Backend(_)), "{err}");
    server.command(&["DEL", "t:{suite}:ready"]).unwrap();
    let (again, ids) = client
        .batch()
        .id(batch)
        .on_complete(done("complete"))
        .enqueue()
        .await
        .unwrap();
    assert_eq!((again, ids.len()), (batch, 0));

    let rec = Recorder::default();
    let w = worker(&client, &rec, &[Q]);
    let summary = fired_once(&server, &client, &rec, batch, &[Q]).await;
    w.stop().await.unwrap();
    assert_eq!(summary.total, 0);
}

/// A batch of one member ("first", on the suite's queue) to which a job ("added", on
/// queue "other") was added by a caller whose enqueue failed after the job was recorded
/// with the batch (the caller then died: it never retries).
async fn batch_with_an_interrupted_add(
    server: &RedisServer,
    b: &RedisBackend,
    client: &Client<RedisBackend>,
) -> (jobs_core::BatchId, NewJob) {
    let (batch, _) = client
        .batch()
        .job(Echo {
            label: "first".into(),
        })
        .on_complete(done("complete"))
        .enqueue()
        .await
        .unwrap();
    let added = NewJob {
        id: JobId::new(),
        name: "echo".into(),
        queue: "other".into(),
        payload: br#"{"label":"added"}"#.to_vec(),
        priority: 0,
        run_at: RunAt::Now,
        max_attempts: 3,
        batch: Some(batch),
        flow: Default::default(),
    };
    server
        .command(&["SET", "t:{other}:ready", "not a zset"])
        .unwrap();
    assert!(b.batch_add(batch, vec![added.clone()]).await.is_err());
    server.command(&["DEL", "t:{other}:ready"]).unwrap();
    (batch, added)
}

/// A job added to a batch by a caller that dies between recording it and enqueueing it
/// (here: the enqueue fails, and the caller never retries). Before, the batch waited for
/// it for ever. Now a worker enqueues it once the claim period has passed; it runs once
/// and the batch fires once, counting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_adder_died_before_enqueueing_it_runs_and_counts() {
    let server = RedisServer::start().expect("start redis-server");
    let b = backend(&server).await;
    let client = Client::new(b.clone());
    let (batch, added) = batch_with_an_interrupted_add(&server, &b, &client).await;
    assert!(client.job("other", added.id).await.unwrap().is_none());
    assert_eq!(
        client.batch_status(batch).await.unwrap().unwrap().total,
        2,
        "recorded as a member"
    );

    let rec = Recorder::default();
    let w = worker(&client, &rec, &[Q, "other"]);
    let summary = fired_once(&server, &client, &rec, batch, &[Q, "other"]).await;
    w.stop().await.unwrap();
    assert_eq!((summary.total, summary.succeeded), (2, 2));
    assert_eq!(rec.runs_of("added").len(), 1);
    assert_eq!(rec.runs_of("first").len(), 1);
    assert_eq!(
        server
            .command(&["EXISTS", &format!("t:{{batch:{batch}}}:adding")])
            .unwrap(),
        ":0",
        "nothing left waiting to be enqueued"
    );
}

/// The batch scripts' work is bounded: opening 2,500 members sends no call with more than
/// a chunk of them, no script reads a whole hash (HGETALL) even with dead members, and a
/// status read while 2,500 members wait is one script and one field read per queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_scripts_are_bounded() {
    const N: usize = 2_500;
    let server = RedisServer::start().expect("start redis-server");
    let client = Client::new(backend(&server).await);
    for (name, value) in [
        ("slowlog-log-slower-than", "0"),
        ("slowlog-max-len", "100000"),
    ] {
        assert_eq!(
            server.command(&["CONFIG", "SET", name, value]).unwrap(),
            "+OK"
        );
    }
    let (batch, ids) = client
        .batch()
        .jobs((0..N).map(|i| Echo {
            label: format!("m{i}"),
        }))
        .on_complete(done("complete"))
        .enqueue()
        .await
        .unwrap();

    // Every script call's arguments (SLOWLOG shows 31, then "... (N more arguments)").
    // The whole log is a large reply: no response timeout on a busy machine.
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new().set_response_timeout(None),
        )
        .await
        .unwrap();
    let log: Vec<redis::Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut most = 0;
    for entry in log {
        let redis::Value::Array(fields) = entry else {
            continue;
        };
        let Some(redis::Value::Array(args)) = fields.get(3) else {
            continue;
        };
        let text = |v: &redis::Value| match v {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        let batch_script = text(&args[0]).eq_ignore_ascii_case("evalsha")
            && args.iter().any(|a| text(a).contains("{batch:"));
        if !batch_script {
            continue;
        }
        let last = text(args.last().unwrap());
        let count = match last
            .strip_prefix("... (")
            .and_then(|r| r.strip_suffix(" more arguments)"))
        {
            Some(more) => args.len() - 1 + more.parse::<usize>().unwrap(),
            None => args.len(),
        };
        most = most.max(count);
    }
    assert!(
        (100..=2_100).contains(&most),
        "the largest script call had {most} arguments"
    );

    let stat = |name: &str| -> u64 {
        let stats = server.command(&["INFO", "commandstats"]).unwrap();
        stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .and_then(|l| l.split("calls=").nth(1))
            .and_then(|v| v.split(',').next())
            .map_or(0, |v| v.parse().unwrap())
    };
    assert_eq!(server.command(&["CONFIG", "RESETSTAT"]).unwrap(), "+OK");
    let status = client.batch_status(batch).await.unwrap().unwrap();
    assert_eq!((status.total, status.pending), (N as u64, N as u64));
    assert_eq!(
        (stat("evalsha"), stat("hget"), stat("hgetall")),
        (1, 1, 0),
        "a status read is one script and one field per queue"
    );

    // Dead members: counted, summarised and read without a whole-hash read.
    let half: BTreeSet<JobId> = ids.iter().step_by(2).copied().collect();
    for id in &half {
        client.cancel(Q, *id).await.unwrap();
    }
    let status = client.batch_status(batch).await.unwrap().unwrap();
    assert_eq!(status.dead, half.len() as u64);
    assert_eq!(status.dead_jobs.len(), jobs_core::BATCH_DEAD_JOBS_MAX);
    client.cancel_batch(batch).await.unwrap();
    eventually("the batch to be finished", PATIENCE, || async {
        client
            .batch_status(batch)
            .await
            .unwrap()
            .filter(|s| s.finished)
    })
    .await;
    assert_eq!(stat("hgetall"), 0, "no script read a whole hash");
}

/// A worker that is already idle takes a claimed firing up when the claim ends, with no
/// further ending and no new worker: the drain that meets the claim re-times the entry and
/// wakes an idle worker, which learns when it is due. (Idle workers do not poll: before,
/// the re-timed entry waited for the next unrelated wake-up.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_takes_up_a_claimed_firing_when_the_claim_ends() {
    const MEMBERS: &str = "other";
    let server = RedisServer::start().expect("start redis-server");
    let b = RedisBackend::builder(&server.url())
        .prefix("t")
        .batch_claim(Duration::from_secs(3))
        .connect()
        .await
        .expect("connect");
    let client = Client::new(b.clone());
    let (batch, ids) = client
        .batch()
        .job_on(MEMBERS, Echo { label: "a".into() }, JobId::new())
        .on_complete(done("complete"))
        .enqueue()
        .await
        .unwrap();
    let got = b
        .reserve(&[MEMBERS.to_owned()], 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(got[0].lease.id, ids[0]);
    // The firing's drainer fails after claiming (the callbacks' queue refuses enqueues).
    let callback_ready = "t:{suite}:ready";
    server
        .command(&["SET", callback_ready, "not a zset"])
        .unwrap();
    b.finish(vec![Finish {
        lease: got[0].lease.clone(),
        outcome: Outcome::Succeeded { result: None },
    }])
    .await
    .unwrap();
    server.command(&["DEL", callback_ready]).unwrap();
    // No wake-up token left over from the steps above, and not the open's check entry
    // (due about when the claim ends, it would take the firing up by itself): only the
    // drain that meets the claim may tell the worker when to look again.
    server
        .command(&["DEL", "t:{other}:wake", "t:{suite}:wake"])
        .unwrap();
    server
        .command(&["ZREM", "t:{suite}:ended", &format!("{batch} check")])
        .unwrap();
    // A worker with default settings: its first drain meets the claim, then it is idle.
    let rec = Recorder::default();
    let w = RunningWorker::start(&client, |b| {
        b.register::<Echo>()
            .register::<BatchDone>()
            .data(rec.clone())
            .queues([MEMBERS, Q])
    });
    fired_once(&server, &client, &rec, batch, &[MEMBERS, Q]).await;
    w.stop().await.unwrap();
}

/// The same, with the job kept for the dead adder broken by hand: it cannot be enqueued,
/// so it counts as dead, and the batch still finishes (it used to be retried for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_job_that_cannot_be_read_counts_as_dead() {
    let server = RedisServer::start().expect("start redis-server");
    let b = backend(&server).await;
    let client = Client::new(b.clone());
    let (batch, added) = batch_with_an_interrupted_add(&server, &b, &client).await;
    let stash = format!("t:{{batch:{batch}}}:adding_jobs");
    assert_eq!(
        server
            .command(&["HSET", &stash, &added.id.to_string(), "garbage"])
            .unwrap(),
        ":0",
        "the job was kept for the dead adder"
    );

    let rec = Recorder::default();
    let w = worker(&client, &rec, &[Q, "other"]);
    let summary = fired_once(&server, &client, &rec, batch, &[Q, "other"]).await;
    w.stop().await.unwrap();
    assert_eq!((summary.total, summary.succeeded, summary.dead), (2, 1, 1));
    assert_eq!(summary.dead_jobs, [added.id]);
    assert!(rec.runs_of("added").is_empty());
}
