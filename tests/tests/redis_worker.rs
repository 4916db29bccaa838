//! A worker on Redis: it survives a Redis restart on its own, and costs nothing while idle.

use std::time::Duration;

use jobs_core::{BackendError, Client, EnqueueError, JobState};
use jobs_redis::RedisBackend;
use jobs_tests::conformance::jobs::{Echo, Q};
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{Recorder, RunningWorker, eventually, wait_for_state};

const PATIENCE: Duration = Duration::from_secs(60);

fn backend(server: &RedisServer) -> RedisBackend {
    RedisBackend::builder(&server.url())
        .connect_timeout(Duration::from_millis(500))
        .response_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_rides_out_a_redis_restart() {
    let server = RedisServer::builder()
        .appendonly(true)
        .arg("--appendfsync")
        .arg("always")
        .start()
        .unwrap();
    let client = Client::new(backend(&server));
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Echo>()
            .data(rec.clone())
            .idle_wait(Duration::from_millis(500))
    });
    let before = client
        .enqueue(Echo {
            label: "before".into(),
        })
        .await
        .unwrap();
    wait_for_state(&client, Q, before, JobState::Succeeded, PATIENCE).await;

    server.kill().unwrap();
    let asked = tokio::time::Instant::now();
    let err = client
        .enqueue(Echo {
            label: "lost".into(),
        })
        .await
        .unwrap_err();
    let took = asked.elapsed();
    assert!(
        matches!(err, EnqueueError::Backend(BackendError::Unavailable(_))),
        "{err}"
    );
    println!("enqueue with Redis down failed in {took:?}: {err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    server.restart().unwrap();
    // The pool reconnects on its own; no process restarted.
    let after = eventually("enqueue to work again", PATIENCE, || async {
        client
            .enqueue(Echo {
                label: "after".into(),
            })
            .await
            .ok()
    })
    .await;
    wait_for_state(&client, Q, after, JobState::Succeeded, PATIENCE).await;
    assert_eq!(
        client.job(Q, before).await.unwrap().unwrap().state,
        JobState::Succeeded,
        "kept by the AOF"
    );
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_blocks_instead_of_polling() {
    let server = RedisServer::start().unwrap();
    let client = Client::new(backend(&server));
    let rec = Recorder::default();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Echo>()
            .data(rec.clone())
            .idle_wait(Duration::from_secs(30))
    });
    // Once the worker blocks, run one job through: it wakes at once.
    eventually("the worker to block", PATIENCE, || async {
        let clients = server.command(&["INFO", "clients"]).unwrap();
        clients.contains("blocked_clients:1").then_some(())
    })
    .await;
    let id = client
        .enqueue(Echo {
            label: "wake".into(),
        })
        .await
        .unwrap();
    let woke = tokio::time::Instant::now();
    wait_for_state(&client, Q, id, JobState::Succeeded, PATIENCE).await;
    println!("enqueue to success on an idle worker: {:?}", woke.elapsed());
    eventually("the worker to block again", PATIENCE, || async {
        let clients = server.command(&["INFO", "clients"]).unwrap();
        clients.contains("blocked_clients:1").then_some(())
    })
    .await;
    assert_eq!(server.command(&["CONFIG", "RESETSTAT"]).unwrap(), "+OK");
    tokio::time::sleep(Duration::from_secs(2)).await; // idle time passing is what is under test
    let idle = server.command(&["INFO", "commandstats"]).unwrap();
    let commands: Vec<_> = idle
        .lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.contains("config|"))
        .collect();
    assert!(
        commands.is_empty(),
        "an idle worker sent commands: {commands:?}"
    );
    worker.stop().await.unwrap();
}
