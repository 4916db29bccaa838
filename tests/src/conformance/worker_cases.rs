//! Cases that run jobs through a real worker pool.

use std::time::Duration;

use jobs_core::backend::{NewJob, RunAt};
use jobs_core::{Backend, EnqueueError, JobId, JobState, Worker, WorkerError};
use tokio::time::Instant;

use super::jobs::*;
use super::{Harness, client, lease, start_worker};
use crate::support::{Recorder, eventually, wait_for_state};

/// A job runs once and succeeds.
pub async fn runs_and_succeeds<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client.enqueue(Echo { label: "a".into() }).await.unwrap();
    assert_eq!(
        client.job(Q, id).await.unwrap().unwrap().state,
        JobState::Ready
    );

    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();

    assert_eq!(rec.runs_of("a").len(), 1);
    assert_eq!((info.attempts, info.deliveries, info.stalls), (1, 1, 0));
    let stats = client.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.active, stats.succeeded), (0, 0, 1));
}

/// The job's output is stored, serialized, on the record.
pub async fn stores_the_result<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client
        .enqueue(Echo {
            label: "result".into(),
        })
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();
    assert_eq!(info.result.as_deref(), Some(&br#""result""#[..]));
    assert!(info.finished_at_ms.is_some());
}

/// A delayed job stays scheduled until its time, then runs.
pub async fn delayed_job_waits<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let delay = h.tick() * 5;
    let worker = start_worker(h, &client, &rec, |b| b);
    let sent = Instant::now();
    let id = client
        .enqueue(Echo {
            label: "late".into(),
        })
        .delay(delay)
        .await
        .unwrap();
    let info = client.job(Q, id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Scheduled);
    assert!(info.run_at_ms.is_some());

    wait_for_state(&client, Q, id, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();
    let ran = rec.runs_of("late")[0].started;
    // The backend's clock decides; allow for the enqueue call's own duration.
    assert!(
        ran - sent + Duration::from_millis(20) >= delay,
        "ran after {:?}, delay {delay:?}",
        ran - sent
    );
}

/// Higher priority first; equal priorities in enqueue order.
pub async fn priority_then_fifo<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let mut ids = Vec::new();
    for (label, priority) in [
        ("low-1", 0),
        ("high", 10),
        ("low-2", 0),
        ("mid", 5),
        ("low-3", 0),
        ("neg", -3),
    ] {
        ids.push(
            client
                .enqueue(Echo {
                    label: label.into(),
                })
                .priority(priority)
                .await
                .unwrap(),
        );
    }
    let worker = start_worker(h, &client, &rec, |b| b.concurrency(1));
    for id in ids {
        wait_for_state(&client, Q, id, JobState::Succeeded, h.patience()).await;
    }
    worker.stop().await.unwrap();
    let order: Vec<_> = rec.runs().into_iter().map(|r| r.label).collect();
    assert_eq!(order, ["high", "mid", "low-1", "low-2", "low-3", "neg"]);
}

/// A worker takes from its first queue while it has ready jobs.
pub async fn queues_in_precedence_order<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let mut ids = Vec::new();
    for (label, queue) in [
        ("low-1", "low"),
        ("high-1", "high"),
        ("low-2", "low"),
        ("high-2", "high"),
    ] {
        ids.push((
            queue,
            client
                .enqueue(Echo {
                    label: label.into(),
                })
                .queue(queue)
                .await
                .unwrap(),
        ));
    }
    let worker = start_worker(h, &client, &rec, |b| {
        b.queues(["high", "low"]).concurrency(1)
    });
    for (queue, id) in ids {
        wait_for_state(&client, queue, id, JobState::Succeeded, h.patience()).await;
    }
    worker.stop().await.unwrap();
    let order: Vec<_> = rec.runs().into_iter().map(|r| r.label).collect();
    assert_eq!(order, ["high-1", "high-2", "low-1", "low-2"]);
}

/// A failing job is retried after its backoff until `max_attempts`, then dead with its error.
pub async fn retries_with_backoff_then_dead<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client.enqueue(Flaky { label: "f".into() }).await.unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Dead, h.patience()).await;
    worker.stop().await.unwrap();

    let runs = rec.runs_of("f");
    assert_eq!(
        runs.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for pair in runs.windows(2) {
        // fixed(200ms) with jitter of at most 25%.
        let gap = pair[1].started - pair[0].started;
        assert!(gap >= Duration::from_millis(150), "retried after {gap:?}");
    }
    assert_eq!((info.attempts, info.max_attempts), (3, 3));
    assert!(
        info.last_error
            .as_deref()
            .unwrap()
            .contains("boom on attempt 3"),
        "{:?}",
        info.last_error
    );
    assert_eq!(client.stats(Q).await.unwrap().dead, 1);
    let dead = client.dead_jobs(Q, 0, 10).await.unwrap();
    assert_eq!(dead.iter().map(|d| d.id).collect::<Vec<_>>(), [id]);
}

/// A permanent failure is dead after one attempt.
pub async fn permanent_failure_is_dead_at_once<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client.enqueue(Refuse { label: "p".into() }).await.unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Dead, h.patience()).await;
    worker.stop().await.unwrap();
    assert_eq!(rec.runs_of("p").len(), 1);
    assert_eq!(info.attempts, 1);
    assert!(
        info.last_error
            .as_deref()
            .unwrap()
            .contains("disk is not empty")
    );
}

/// A snoozed job runs again after the delay, and the snooze does not use up an attempt.
pub async fn snooze_runs_again_without_using_an_attempt<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let snooze = h.tick() * 2;
    let id = client
        .enqueue(Snoozer {
            label: "s".into(),
            snooze_ms: snooze.as_millis() as u64,
        })
        .max_attempts(1)
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();

    let runs = rec.runs_of("s");
    assert_eq!(runs.iter().map(|r| r.attempt).collect::<Vec<_>>(), [1, 1]);
    assert!(runs[1].started - runs[0].started + Duration::from_millis(20) >= snooze);
    assert_eq!((info.attempts, info.deliveries), (1, 2));
    assert_eq!(info.result.as_deref(), Some(&b"1"[..]));
}

/// An attempt that runs past the job's timeout is stopped and fails.
pub async fn timeout_fails_the_attempt<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client.enqueue(Stuck { label: "t".into() }).await.unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Dead, h.patience()).await;
    let after = client
        .enqueue(Echo {
            label: "after".into(),
        })
        .await
        .unwrap();
    wait_for_state(&client, Q, after, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();
    assert!(
        info.last_error
            .as_deref()
            .unwrap()
            .contains("timed out after 300ms"),
        "{:?}",
        info.last_error
    );
    assert_eq!(rec.runs_of("t").len(), 1);
}

/// A panic fails only that attempt; the worker keeps running other jobs.
pub async fn panic_fails_the_attempt_and_worker_goes_on<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client
        .enqueue(Panicker {
            label: "boom".into(),
        })
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b.concurrency(1));
    let info = wait_for_state(&client, Q, id, JobState::Dead, h.patience()).await;
    let after = client
        .enqueue(Echo {
            label: "after".into(),
        })
        .await
        .unwrap();
    wait_for_state(&client, Q, after, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();
    assert_eq!(rec.runs_of("boom").len(), 2);
    assert!(
        info.last_error
            .as_deref()
            .unwrap()
            .contains("panicked: boom"),
        "{:?}",
        info.last_error
    );
}

/// A job whose holder vanished (reserved, never renewed) runs on a worker once the lease
/// expires, and its record counts both deliveries.
pub async fn expired_lease_is_redelivered<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client
        .enqueue(Echo {
            label: "orphan".into(),
        })
        .await
        .unwrap();
    let crashed = client
        .backend()
        .reserve(&[Q.to_owned()], 1, lease(h))
        .await
        .unwrap();
    assert_eq!(crashed.len(), 1);

    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();
    assert_eq!(rec.runs_of("orphan").len(), 1);
    assert_eq!((info.deliveries, info.stalls, info.attempts), (2, 1, 2));
}

/// Shutdown waits for running jobs within the grace period, then returns the rest to the
/// queue at once instead of leaving them leased until their leases expire.
pub async fn graceful_shutdown_releases_unfinished_at_once<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let grace = h.tick() * 4;
    let quick_ms = h.tick().as_millis() as u64;
    let stuck = client
        .enqueue(Forever {
            label: "stuck".into(),
        })
        .await
        .unwrap();
    let quick = client
        .enqueue(Hold {
            label: "quick".into(),
            ms: quick_ms,
        })
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| {
        b.shutdown_grace(grace).lease(grace * 10)
    });
    eventually("both jobs to start", h.patience(), || async {
        (rec.runs().len() == 2).then_some(())
    })
    .await;

    let asked = Instant::now();
    worker.stop().await.unwrap();
    let took = asked.elapsed();
    assert!(
        took + Duration::from_millis(20) >= grace,
        "returned after {took:?}, before the grace period"
    );

    assert_eq!(
        client.job(Q, quick).await.unwrap().unwrap().state,
        JobState::Succeeded
    );
    let info = client.job(Q, stuck).await.unwrap().unwrap();
    assert_eq!(
        info.state,
        JobState::Ready,
        "released at once, not left leased"
    );
    assert_eq!((info.attempts, info.deliveries), (0, 1));
    assert_eq!(client.stats(Q).await.unwrap().active, 0);
}

/// Payloads that do not decode into their type go to dead with the reason and the payload
/// kept; the worker goes on with the next job.
pub async fn undeserializable_payload_is_dead_and_worker_goes_on<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let raw = |payload: &[u8]| NewJob {
        id: JobId::new(),
        name: "echo".into(),
        queue: Q.into(),
        payload: payload.to_vec(),
        priority: 0,
        run_at: RunAt::Now,
        max_attempts: 5,
        batch: None,
        flow: Default::default(),
    };
    let not_json = raw(b"not json {");
    let wrong_shape = raw(br#"{"lable": 3}"#);
    let ids = [not_json.id, wrong_shape.id];
    client
        .backend()
        .enqueue(vec![not_json, wrong_shape])
        .await
        .unwrap();
    let good = client
        .enqueue(Echo {
            label: "good".into(),
        })
        .await
        .unwrap();

    let worker = start_worker(h, &client, &rec, |b| b.concurrency(1));
    wait_for_state(&client, Q, good, JobState::Succeeded, h.patience()).await;
    let bad = wait_for_state(&client, Q, ids[0], JobState::Dead, h.patience()).await;
    let shape = wait_for_state(&client, Q, ids[1], JobState::Dead, h.patience()).await;
    worker.stop().await.unwrap();

    for info in [&bad, &shape] {
        let error = info.last_error.as_deref().unwrap();
        assert!(
            error.contains("payload does not match job `echo`"),
            "{error}"
        );
        assert_eq!(
            info.attempts, 1,
            "not retried: retrying cannot fix a payload"
        );
    }
    assert_eq!(bad.payload, b"not json {");
    assert!(
        shape
            .last_error
            .as_deref()
            .unwrap()
            .contains("missing field `label`")
    );
    assert_eq!(rec.runs().len(), 1);
}

/// A job no worker knows is retried (a newer worker may know it), then dead with the reason.
pub async fn unknown_job_name_retries_then_dead<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let job = NewJob {
        id: JobId::new(),
        name: "from_the_future".into(),
        queue: Q.into(),
        payload: b"{}".to_vec(),
        priority: 0,
        run_at: RunAt::Now,
        max_attempts: 2,
        batch: None,
        flow: Default::default(),
    };
    let id = job.id;
    client.backend().enqueue(vec![job]).await.unwrap();
    let good = client
        .enqueue(Echo {
            label: "good".into(),
        })
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(&client, Q, id, JobState::Dead, h.patience()).await;
    wait_for_state(&client, Q, good, JobState::Succeeded, h.patience()).await;
    worker.stop().await.unwrap();
    assert_eq!(info.attempts, 2);
    assert!(
        info.last_error
            .as_deref()
            .unwrap()
            .contains("unknown job name `from_the_future`")
    );
    assert_eq!(info.payload, b"{}");
}

/// N jobs really run at the same time: each waits until all 8 are running.
pub async fn jobs_run_concurrently<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let ids = client
        .enqueue_many((0..8).map(|i| Rendezvous {
            label: format!("r{i}"),
        }))
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b.concurrency(8));
    for id in ids {
        wait_for_state(&client, Q, id, JobState::Succeeded, h.patience()).await;
    }
    worker.stop().await.unwrap();
    assert_eq!(rec.peak_running(), 8);
}

/// A job running 20 times longer than its lease completes once: heartbeats keep the lease.
pub async fn long_job_completes_exactly_once<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let ms = (lease(h) * 20).as_millis() as u64;
    let id = client
        .enqueue(Hold {
            label: "long".into(),
            ms,
        })
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let info = wait_for_state(
        &client,
        Q,
        id,
        JobState::Succeeded,
        h.patience() + lease(h) * 20,
    )
    .await;
    worker.stop().await.unwrap();
    assert_eq!(rec.runs_of("long").len(), 1);
    assert_eq!((info.attempts, info.deliveries, info.stalls), (1, 1, 0));
}

/// Dead jobs can be retried, with fresh attempts.
pub async fn retry_dead_runs_again<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let id = client
        .enqueue(Refuse {
            label: "again".into(),
        })
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    wait_for_state(&client, Q, id, JobState::Dead, h.patience()).await;
    assert_eq!(client.retry_dead(Q, &[id, JobId::new()]).await.unwrap(), 1);
    eventually("the retried job to run", h.patience(), || async {
        (rec.runs_of("again").len() == 2).then_some(())
    })
    .await;
    let info = wait_for_state(&client, Q, id, JobState::Dead, h.patience()).await;
    worker.stop().await.unwrap();
    assert_eq!((info.attempts, info.deliveries), (1, 2));
}

/// A registered job's shared data must be present before the worker starts.
pub async fn worker_refuses_missing_data<H: Harness>(h: &H) {
    let client = client(h).await;
    let worker = Worker::builder(client).register::<Echo>().build();
    let err = worker.run_until(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(err, WorkerError::MissingData { job: "echo", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Recorder"), "{err}");
}

/// Payloads above the client's limit are refused, and nothing is stored.
pub async fn oversized_payload_refused<H: Harness>(h: &H) {
    let client = client(h).await.max_payload_bytes(64);
    let err = client
        .enqueue(Echo {
            label: "x".repeat(100),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::PayloadTooLarge { limit: 64, .. }),
        "{err}"
    );
    let err = client
        .enqueue_many([
            Echo { label: "ok".into() },
            Echo {
                label: "x".repeat(100),
            },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, EnqueueError::PayloadTooLarge { .. }), "{err}");
    assert_eq!(client.stats(Q).await.unwrap(), Default::default());
}

/// Queue names that cannot be keys are refused before anything is written.
pub async fn invalid_queue_refused<H: Harness>(h: &H) {
    let client = client(h).await;
    for bad in ["", "a b", "x{y}", "line\nbreak", "a:b"] {
        let err = client
            .enqueue(Echo { label: "x".into() })
            .queue(bad)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EnqueueError::InvalidQueue(_)),
            "{bad:?}: {err}"
        );
    }
}

/// Retries, snoozes and delayed jobs run on time even while workers block for work with a
/// long idle timeout: a sleeping worker learns of each new earliest run-at.
pub async fn scheduled_work_wakes_sleeping_workers_on_time<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let sleepy = h.tick() * 200;
    // A long lease too: lease ends are wake-up times of their own.
    let worker = start_worker(h, &client, &rec, |b| b.idle_wait(sleepy).lease(sleepy));
    let delay = h.tick() * 2;
    let snooze_ms = delay.as_millis() as u64;

    // One at a time, so that no other event happens to wake the worker.
    let started = Instant::now();
    let snoozed = client
        .enqueue(Snoozer {
            label: "snoozed".into(),
            snooze_ms,
        })
        .await
        .unwrap();
    wait_for_state(&client, Q, snoozed, JobState::Succeeded, h.patience()).await;
    let retried = client
        .enqueue(Flaky {
            label: "retried".into(),
        })
        .await
        .unwrap();
    wait_for_state(&client, Q, retried, JobState::Dead, h.patience()).await;
    let delayed = client
        .enqueue(Echo {
            label: "delayed".into(),
        })
        .delay(delay)
        .await
        .unwrap();
    wait_for_state(&client, Q, delayed, JobState::Succeeded, h.patience()).await;
    let took = started.elapsed();
    worker.stop().await.unwrap();
    // Two delays of 2 ticks and two retries of 200 ms (+25% jitter), not an idle timeout.
    assert!(
        took < sleepy / 4,
        "took {took:?} with an idle timeout of {sleepy:?}"
    );
}
