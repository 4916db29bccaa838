//! What operators see of a worker: its registration in the list of live workers, burst
//! mode (run until the queues are empty), and its health. On the in-memory backend with
//! tokio's paused clock, except burst mode, which also runs on a private `redis-server`.

use std::time::Duration;

use jobs_core::{Client, JobState, MemoryBackend, Worker, WorkerPhase};
use jobs_redis::RedisBackend;
use jobs_tests::conformance::jobs::{Echo, Flaky, Hold, Q};
use jobs_tests::faulty::Faulty;
use jobs_tests::redis_server::RedisServer;
use jobs_tests::support::{Recorder, eventually, wait_for_state};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(120);
const TTL: Duration = Duration::from_secs(6);

#[tokio::test(start_paused = true)]
async fn a_running_worker_is_listed_until_it_stops() {
    let client = Client::new(MemoryBackend::new());
    let rec = Recorder::default();
    let id = client
        .enqueue(Hold {
            label: "long".into(),
            ms: 3_600_000,
        })
        .await
        .unwrap();
    let worker = Worker::builder(client.clone())
        .register::<Hold>()
        .data(rec.clone())
        .concurrency(7)
        .registry_ttl(TTL)
        .shutdown_grace(Duration::from_millis(10))
        .build();
    let worker_id = worker.id();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
    wait_for_state(&client, Q, id, JobState::Active, PATIENCE).await;

    let listed = eventually("the worker to list its running job", PATIENCE, || async {
        let workers = client.workers().await.unwrap();
        workers.into_iter().find(|w| w.running == 1)
    })
    .await;
    assert_eq!(listed.id, worker_id);
    assert_eq!(listed.queues, vec![Q.to_owned()]);
    assert_eq!(listed.concurrency, 7);
    assert_eq!(listed.pid, std::process::id());
    assert!(!listed.host.is_empty());
    assert!(listed.started_at_ms > 0);

    // Beats keep it listed for many ttls.
    tokio::time::sleep(TTL * 5).await; // time passing is what is under test
    let workers = client.workers().await.unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert!(workers[0].last_beat_ms > listed.last_beat_ms, "{workers:?}");

    // A clean stop removes it at once.
    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(client.workers().await.unwrap(), vec![]);
}

#[tokio::test(start_paused = true)]
async fn a_worker_cut_off_from_the_store_leaves_the_list_after_its_ttl() {
    let backend = Faulty::new(MemoryBackend::new());
    let client = Client::new(backend.clone());
    let worker = Worker::builder(client.clone())
        .register::<Echo>()
        .data(Recorder::default())
        .registry_ttl(TTL)
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
    eventually("the worker to be listed", PATIENCE, || async {
        (client.workers().await.unwrap().len() == 1).then_some(())
    })
    .await;

    backend.set_down(true);
    let down = tokio::time::Instant::now();
    eventually("the worker to leave the list", PATIENCE, || async {
        client.workers().await.unwrap().is_empty().then_some(())
    })
    .await;
    assert!(down.elapsed() <= TTL, "left after {:?}", down.elapsed());

    backend.set_down(false);
    eventually("the worker to be listed again", PATIENCE, || async {
        (client.workers().await.unwrap().len() == 1).then_some(())
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn burst_mode_runs_the_ready_jobs_then_returns() {
    let client = Client::new(MemoryBackend::new());
    let rec = Recorder::default();
    let ids = client
        .enqueue_many((0..20).map(|i| Hold {
            label: format!("h{i}"),
            ms: 10,
        }))
        .await
        .unwrap();
    let later = client
        .enqueue(Echo {
            label: "later".into(),
        })
        .delay(Duration::from_secs(3600))
        .await
        .unwrap();
    // Fails; its retry (200 ms later) is due after the worker finds itself empty.
    let flaky = client
        .enqueue(Flaky {
            label: "flaky".into(),
        })
        .await
        .unwrap();
    let worker = Worker::builder(client.clone())
        .register::<Hold>()
        .register::<Echo>()
        .register::<Flaky>()
        .data(rec.clone())
        .concurrency(4)
        .build();
    let health = worker.health();
    tokio::time::timeout(PATIENCE, worker.run_until_empty_or(std::future::pending()))
        .await
        .expect("burst mode returned")
        .unwrap();

    for id in ids {
        let info = client.job(Q, id).await.unwrap().unwrap();
        assert_eq!(info.state, JobState::Succeeded, "{info:?}");
    }
    let later = client.job(Q, later).await.unwrap().unwrap();
    assert_eq!(later.state, JobState::Scheduled);
    let flaky = client.job(Q, flaky).await.unwrap().unwrap();
    assert_eq!((flaky.state, flaky.attempts), (JobState::Scheduled, 1));
    assert_eq!(rec.runs().len(), 21);
    assert_eq!(health.status().phase, WorkerPhase::Stopped);
    assert_eq!(client.workers().await.unwrap(), vec![]);

    // With nothing ready it returns at once.
    let worker = Worker::builder(client.clone())
        .register::<Echo>()
        .data(rec.clone())
        .build();
    tokio::time::timeout(
        Duration::from_secs(1),
        worker.run_until_empty_or(std::future::pending()),
    )
    .await
    .expect("burst mode returned")
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_mode_on_redis_runs_every_job_then_returns() {
    const N: usize = 200;
    let server = RedisServer::start().unwrap();
    let client = Client::new(RedisBackend::connect(&server.url()).await.unwrap());
    let rec = Recorder::default();
    let ids = client
        .enqueue_many((0..N).map(|i| Echo {
            label: format!("e{i}"),
        }))
        .await
        .unwrap();
    let worker = Worker::builder(client.clone())
        .register::<Echo>()
        .data(rec.clone())
        .concurrency(16)
        .build();
    let started = std::time::Instant::now();
    tokio::time::timeout(
        Duration::from_secs(60),
        worker.run_until_empty_or(std::future::pending()),
    )
    .await
    .expect("burst mode returned")
    .unwrap();
    println!("{N} jobs in burst mode in {:.2?}", started.elapsed());

    let stats = client.stats(Q).await.unwrap();
    assert_eq!(
        (stats.succeeded, stats.ready, stats.active),
        (N as u64, 0, 0)
    );
    let infos = client.jobs(Q, &ids).await.unwrap();
    assert!(
        infos
            .iter()
            .all(|i| i.as_ref().unwrap().state == JobState::Succeeded)
    );
    assert_eq!(rec.runs().len(), N);
    assert_eq!(client.workers().await.unwrap(), vec![]);
}

#[tokio::test(start_paused = true)]
async fn health_is_good_while_running_and_not_alive_after_stop() {
    let client = Client::new(MemoryBackend::new());
    let worker = Worker::builder(client.clone())
        .register::<Echo>()
        .data(Recorder::default())
        .idle_wait(Duration::from_secs(5))
        .build();
    let health = worker.health();
    let status = health.status();
    assert!(!status.alive && !status.is_healthy(), "{status:?}");
    assert_eq!(status.phase, WorkerPhase::NotStarted);

    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
    eventually("the worker to be healthy", PATIENCE, || async {
        health.is_healthy().then_some(())
    })
    .await;
    // Idle for far longer than the stall bound: waiting for work is alive.
    tokio::time::sleep(health.stall_bound() * 3).await; // time passing is what is under test
    let status = health.status();
    assert!(status.is_healthy(), "{status:?}");
    assert_eq!(status.phase, WorkerPhase::Running);
    assert!(status.last_ok_ms_ago.is_some(), "{status:?}");
    assert_eq!(status.last_error, None);

    stop.cancel();
    running.await.unwrap().unwrap();
    let status = health.status();
    assert!(!status.alive && !status.is_healthy(), "{status:?}");
    assert_eq!(status.phase, WorkerPhase::Stopped);
}

#[tokio::test(start_paused = true)]
async fn health_reports_an_unreachable_backend() {
    let backend = Faulty::new(MemoryBackend::new());
    let client = Client::new(backend.clone());
    let worker = Worker::builder(client.clone())
        .register::<Echo>()
        .data(Recorder::default())
        .idle_wait(Duration::from_millis(500))
        .build();
    let health = worker.health();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
    eventually("the worker to be healthy", PATIENCE, || async {
        health.is_healthy().then_some(())
    })
    .await;

    backend.set_down(true);
    let status = eventually("the outage to show", PATIENCE, || async {
        let status = health.status();
        (!status.backend_ok).then_some(status)
    })
    .await;
    assert!(status.alive, "backing off is alive: {status:?}");
    assert!(!status.is_healthy());
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("injected outage")),
        "{status:?}"
    );
    // Still unhealthy a while later: every call fails.
    tokio::time::sleep(Duration::from_secs(30)).await; // time passing is what is under test
    let status = health.status();
    assert!(status.alive && !status.backend_ok, "{status:?}");
    assert!(status.last_ok_ms_ago.unwrap() >= 30_000, "{status:?}");

    backend.set_down(false);
    eventually("the worker to recover", PATIENCE, || async {
        health.is_healthy().then_some(())
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
}
