//! Group commit of enqueues in the Redis backend: jobs from concurrent callers share
//! script calls, and a caller that gives up does not take other callers' jobs with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jobs_core::backend::{NewJob, RunAt};
use jobs_core::{Backend, JobId};
use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::eventually;

const Q: &str = "disks";

fn job() -> NewJob {
    NewJob {
        id: JobId::new(),
        name: "format_disk".into(),
        queue: Q.into(),
        payload: br#"{"host":"node-123","device":"/dev/sdb"}"#.to_vec(),
        priority: 0,
        run_at: RunAt::Now,
        max_attempts: 3,
        batch: None,
        flow: Default::default(),
    }
}

async fn setup() -> (RedisServer, RedisBackend) {
    let server = RedisServer::start().expect("start redis-server");
    let backend = RedisBackend::builder(&server.url())
        .prefix("t")
        .connect()
        .await
        .expect("connect");
    (server, backend)
}

fn evalsha_calls(server: &RedisServer) -> u64 {
    let stats = server.command(&["INFO", "commandstats"]).unwrap();
    stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_script_calls() {
    let (server, b) = setup().await;
    let before = evalsha_calls(&server);
    // While the server is stopped, the first call is in flight and every other caller's
    // job waits for the next one.
    server.pause().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (b, started) = (b.clone(), started.clone());
        tasks.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            b.enqueue(vec![job()]).await
        });
    }
    eventually("all callers started", Duration::from_secs(10), || {
        let n = started.load(Ordering::SeqCst);
        async move { (n == 200).then_some(()) }
    })
    .await;
    server.resume().unwrap();
    while let Some(r) = tasks.join_next().await {
        r.unwrap().expect("enqueue");
    }
    assert_eq!(b.stats(Q).await.unwrap().ready, 200);
    let calls = evalsha_calls(&server) - before - 1; // the stats call
    assert!(
        calls <= 10,
        "200 concurrent enqueues took {calls} script calls; expected a few shared ones"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_does_not_cancel_the_shared_call() {
    let (server, b) = setup().await;
    server.pause().unwrap();
    let (first, second) = (job(), job());
    let started = Arc::new(AtomicUsize::new(0));
    let spawn = |job: NewJob| {
        let (b, started) = (b.clone(), started.clone());
        tokio::spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            b.enqueue(vec![job]).await
        })
    };
    let wait_started = |n: usize| {
        let started = started.clone();
        async move {
            eventually("callers started", Duration::from_secs(10), || {
                let k = started.load(Ordering::SeqCst);
                async move { (k >= n).then_some(()) }
            })
            .await
        }
    };
    // The first caller's call is in flight (the server is stopped) when the second comes.
    let impatient = spawn(first.clone());
    wait_started(1).await;
    let patient = spawn(second.clone());
    wait_started(2).await;
    impatient.abort();
    assert!(impatient.await.unwrap_err().is_cancelled());
    server.resume().unwrap();
    patient
        .await
        .unwrap()
        .expect("the other caller's enqueue completes");
    // The call carrying the first caller's job went on without it: stored.
    for id in [first.id, second.id] {
        assert!(b.job(Q, id).await.unwrap().is_some(), "{id} stored");
    }
}
