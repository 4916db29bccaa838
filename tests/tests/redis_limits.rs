//! Set-up mistakes and a full Redis: an invalid URL, an evicting `maxmemory-policy`, and
//! Redis at `maxmemory` with `noeviction`. Each gets a clear, typed error, and nothing is
//! half-written.

use std::time::Duration;

use jobs_core::backend::{NewJob, RunAt};
use jobs_core::{Backend, BackendError, Client, EnqueueError, JobId, Retention};
use jobs_redis::{ConnectError, EvictionCheck, RedisBackend};
use jobs_tests::conformance::jobs::{Echo, Q};
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{Recorder, RunningWorker, eventually};

#[tokio::test]
async fn an_invalid_url_is_a_typed_error_without_its_password() {
    for url in [
        "http://127.0.0.1:6379",
        "redis://:s3cret@[::1:6379",
        "not a url",
    ] {
        let err = RedisBackend::builder(url).build().unwrap_err();
        assert!(
            matches!(err, ConnectError::InvalidUrl { .. }),
            "{url}: {err}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}

#[tokio::test]
async fn an_evicting_policy_is_reported_and_can_be_refused() {
    let server = RedisServer::builder()
        .arg("--maxmemory")
        .arg("100mb")
        .arg("--maxmemory-policy")
        .arg("allkeys-lru")
        .start()
        .unwrap();
    let url = server.url();
    // Default: a warning, and the backend works.
    let backend = RedisBackend::connect(&url).await.unwrap();
    assert_eq!(backend.eviction_policies().await.unwrap(), ["allkeys-lru"]);
    let err = RedisBackend::builder(&url)
        .eviction_check(EvictionCheck::Refuse)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::EvictingPolicy { policy, .. } if policy == "allkeys-lru"),
        "{err}"
    );
    assert!(err.to_string().contains("noeviction"), "{err}");

    for safe in ["noeviction", "volatile-lru"] {
        server
            .command(&["CONFIG", "SET", "maxmemory-policy", safe])
            .unwrap();
        RedisBackend::builder(&url)
            .eviction_check(EvictionCheck::Refuse)
            .connect()
            .await
            .unwrap();
    }
}

fn job(i: usize) -> NewJob {
    NewJob {
        id: JobId::new(),
        name: "echo".into(),
        queue: Q.into(),
        payload: format!(r#"{{"label":"{i:0>400}"}}"#).into_bytes(),
        priority: 0,
        run_at: RunAt::Now,
        max_attempts: 3,
        batch: None,
        flow: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_redis_refuses_new_work_cleanly_and_still_drains() {
    let server = RedisServer::builder()
        .arg("--maxmemory")
        .arg("4mb")
        .arg("--maxmemory-policy")
        .arg("noeviction")
        .start()
        .unwrap();
    let backend = RedisBackend::builder(&server.url())
        .retention(Retention::DEFAULT.succeeded(0, Duration::from_secs(1)))
        .connect()
        .await
        .unwrap();
    let client = Client::new(backend.clone());

    // Fill Redis in batches until it refuses one.
    let mut stored = 0u64;
    let refused = loop {
        let batch: Vec<_> = (0..100).map(job).collect();
        match backend.enqueue(batch).await {
            Ok(()) => stored += 100,
            Err(e) => break e,
        }
        assert!(stored < 1_000_000, "Redis never filled up");
    };
    assert!(matches!(&refused, BackendError::Full(_)), "{refused}");
    assert!(refused.is_transient());
    println!("Redis full after {stored} jobs: {refused}");

    // Nothing half-written: every record is in the ready set, and vice versa.
    let ready = client.stats(Q).await.unwrap().ready;
    assert_eq!(ready, stored);
    let fields = server.command(&["HLEN", "jobs:{suite}:jobs"]).unwrap();
    assert_eq!(fields, format!(":{stored}"));
    // Through the client, typed. (A batch like those that filled it: how much a single
    // tiny job still fits depends on how Redis accounts its client buffers at that moment.)
    let err = client
        .enqueue_many((0..100).map(|i| Echo {
            label: format!("{i:0>400}"),
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::Backend(BackendError::Full(_))),
        "{err}"
    );

    // Workers still reserve and finish while Redis is full, which frees memory.
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Echo>().data(rec.clone()).concurrency(64)
    });
    eventually("the queue to drain", Duration::from_secs(120), || async {
        (client.stats(Q).await.unwrap().ready == 0).then_some(())
    })
    .await;
    eventually("enqueue to work again", Duration::from_secs(60), || async {
        client
            .enqueue(Echo {
                label: "after".into(),
            })
            .await
            .ok()
    })
    .await;
    // Succeeded records are deleted at once here (retention 0), so watch the runs.
    eventually("the new job to run", Duration::from_secs(60), || async {
        (!rec.runs_of("after").is_empty()).then_some(())
    })
    .await;
    worker.stop().await.unwrap();
    assert_eq!(rec.runs().len() as u64, stored + 1);
    assert_eq!(client.stats(Q).await.unwrap().dead, 0);
}
