//! How the worker pool uses its backend: batched renewals, lost leases, outages.
//! Backend-independent, so they run on the in-memory backend with tokio's paused clock.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_core::{
    Backend, CancelReason, Client, Data, JobContext, JobError, JobState, MemoryBackend, job,
};
use jobs_tests::conformance::jobs::{Hold, Q};
use jobs_tests::faulty::Faulty;
use jobs_tests::support::{Recorder, RunningWorker, eventually, wait_for_state};
use tokio::sync::Notify;

const PATIENCE: Duration = Duration::from_secs(120);
const LEASE: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Seen {
    reason: Mutex<Option<CancelReason>>,
    started: Notify,
}

/// Runs until asked to stop, then says why.
#[job]
async fn watcher(seen: Data<Seen>, ctx: JobContext) -> Result<(), JobError> {
    seen.started.notify_one();
    ctx.cancelled().await;
    *seen.reason.lock().unwrap() = ctx.cancel_reason();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn leases_of_all_running_jobs_are_renewed_in_one_call() {
    let backend = Faulty::new(MemoryBackend::new());
    let calls = backend.calls.clone();
    let client = Client::new(backend);
    let rec = Recorder::default();
    let ms = (LEASE * 10).as_millis() as u64;
    let ids = client
        .enqueue_many((0..8).map(|i| Hold {
            label: format!("h{i}"),
            ms,
        }))
        .await
        .unwrap();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Hold>()
            .data(rec.clone())
            .concurrency(8)
            .lease(LEASE)
    });
    for id in ids {
        wait_for_state(&client, Q, id, JobState::Succeeded, PATIENCE).await;
    }
    worker.stop().await.unwrap();

    let renews = calls.renew.load(Ordering::SeqCst);
    let leases = calls.renewed_leases.load(Ordering::SeqCst);
    // 30 s of running at one beat per second: about 30 calls, each carrying all 8 leases
    // (240 calls if each job renewed its own).
    assert!((25..=35).contains(&renews), "{renews} renew calls");
    assert!(
        leases >= 8 * (renews - 2),
        "{leases} leases in {renews} calls"
    );
    assert_eq!(rec.runs().len(), 8);
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_cancels_the_job_and_its_outcome_is_refused() {
    let backend = Faulty::new(MemoryBackend::new());
    let client = Client::new(backend.clone());
    let seen = Arc::new(Seen::default());
    let id = client.enqueue(Watcher {}).await.unwrap();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Watcher>().data_arc(seen.clone()).lease(LEASE)
    });
    seen.started.notified().await;

    // Cut the worker off from its lease until another holder has the job.
    backend.set_renew_down(true);
    let queues = ["default".to_owned()];
    let thief = eventually(
        "the lease to expire and the job to be re-reserved",
        PATIENCE,
        || async {
            backend
                .inner()
                .reserve(&queues, 1, LEASE * 100)
                .await
                .unwrap()
                .pop()
        },
    )
    .await;
    assert_eq!((thief.lease.id, thief.deliveries), (id, 2));
    backend.set_renew_down(false);

    eventually("the job to be told its lease is lost", PATIENCE, || async {
        seen.reason
            .lock()
            .unwrap()
            .filter(|r| *r == CancelReason::LeaseLost)
    })
    .await;
    // The first run returned Ok, but its holder's outcome is refused: the thief holds it.
    eventually("the first run to be reported", PATIENCE, || async {
        (backend.calls.finish.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let info = client.job("default", id).await.unwrap().unwrap();
    assert_eq!((info.state, info.deliveries), (JobState::Active, 2));
    assert_eq!(info.lease_expires_at_ms, Some(thief.lease.expires_at_ms));
    worker.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_backend_outage_does_not_stop_the_worker() {
    let backend = Faulty::new(MemoryBackend::new());
    let calls = backend.calls.clone();
    let client = Client::new(backend.clone());
    let rec = Recorder::default();
    let id = client
        .enqueue(Hold {
            label: "after-outage".into(),
            ms: 1,
        })
        .await
        .unwrap();

    backend.set_down(true);
    let worker = RunningWorker::start(&client, |b| b.register::<Hold>().data(rec.clone()));
    eventually("the worker to keep trying", PATIENCE, || async {
        (calls.reserve.load(Ordering::SeqCst) >= 5).then_some(())
    })
    .await;
    let start = tokio::time::Instant::now();
    let before = calls.reserve.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await; // time passing is what is under test
    let tries = calls.reserve.load(Ordering::SeqCst) - before;
    // Backing off to one try per ~5 s, not spinning.
    assert!(
        tries <= 10,
        "{tries} reserve calls in {:?}",
        start.elapsed()
    );
    assert!(tries >= 4, "{tries} reserve calls: gave up?");

    backend.set_down(false);
    wait_for_state(&client, Q, id, JobState::Succeeded, PATIENCE).await;
    worker.stop().await.unwrap();
    assert_eq!(rec.runs().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn outcomes_finishing_together_are_recorded_in_one_call() {
    let backend = Faulty::new(MemoryBackend::new());
    let calls = backend.calls.clone();
    let client = Client::new(backend);
    let rec = Recorder::default();
    let ids = client
        .enqueue_many((0..8).map(|i| Hold {
            label: format!("h{i}"),
            ms: 1_000,
        }))
        .await
        .unwrap();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Hold>()
            .data(rec.clone())
            .concurrency(8)
            .lease(LEASE)
    });
    for id in ids {
        wait_for_state(&client, Q, id, JobState::Succeeded, PATIENCE).await;
    }
    worker.stop().await.unwrap();
    // Eight jobs ending at the same instant: their outcomes share a backend call (one per
    // job without the acker).
    let finishes = calls.finish.load(Ordering::SeqCst);
    assert!(finishes <= 2, "{finishes} finish calls for 8 jobs");
}

mod clash {
    use jobs_core::{JobError, job};

    /// Another job type that claims the wire name of the suite's `hold`.
    #[job(name = "hold")]
    pub async fn impostor(label: String) -> Result<(), JobError> {
        let _ = label;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_refuses_two_types_with_one_wire_name_and_no_queues() {
    use jobs_core::{Worker, WorkerError};
    let client = Client::new(MemoryBackend::new());
    let rec = Recorder::default();
    let worker = Worker::builder(client.clone())
        .register::<Hold>()
        .register::<clash::Impostor>()
        .data(rec.clone())
        .build();
    let err = worker.run_until(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(err, WorkerError::DuplicateName { name: "hold", .. }),
        "{err}"
    );

    let no_queues: [&str; 0] = [];
    let worker = Worker::builder(client)
        .register::<Hold>()
        .data(rec)
        .queues(no_queues)
        .build();
    let err = worker.run_until(std::future::pending()).await.unwrap_err();
    assert!(matches!(err, WorkerError::NoQueues), "{err}");
}
