//! Cancellation: of a waiting job, of a running one (whichever process runs it), of a
//! whole batch.

use jobs_core::backend::CancelOutcome;
use jobs_core::{BatchSummary, EventKind, JobId, JobState};

use super::jobs::{BatchDone, Echo, Patient};
use super::{Harness, client, start_worker};
use crate::support::{Recorder, eventually};

const Q: &str = "suite";

/// A waiting job (ready or scheduled) that is cancelled never runs; it ends as
/// cancelled, with an event, and `wait_for` reports it.
pub async fn cancelled_waiting_job_never_runs<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let mut events = client.subscribe(Q, None);
    let ready = client
        .enqueue(Echo {
            label: "ready".into(),
        })
        .await
        .unwrap();
    let later = client
        .enqueue(Echo {
            label: "later".into(),
        })
        .delay(h.tick())
        .await
        .unwrap();
    let other = client
        .enqueue(Echo {
            label: "other".into(),
        })
        .await
        .unwrap();
    for id in [ready, later] {
        assert_eq!(
            client.cancel(Q, id).await.unwrap(),
            CancelOutcome::Cancelled
        );
        assert_eq!(client.cancel(Q, id).await.unwrap(), CancelOutcome::Finished);
    }
    assert_eq!(
        client.cancel(Q, JobId::new()).await.unwrap(),
        CancelOutcome::NotFound
    );
    // Due after the cancelled delayed job: once it ran, that one would have run too.
    let after = client
        .enqueue(Echo {
            label: "after".into(),
        })
        .delay(h.tick() * 2)
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    client.wait_for(Q, other, h.patience()).await.unwrap();
    client.wait_for(Q, after, h.patience()).await.unwrap();
    let done = client.wait_for(Q, later, h.patience()).await.unwrap();
    worker.stop().await.unwrap();
    assert_eq!(done.state, JobState::Cancelled);
    assert!(rec.runs_of("ready").is_empty() && rec.runs_of("later").is_empty());
    assert_eq!(rec.runs_of("other").len(), 1);
    let info = client.job(Q, ready).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (JobState::Cancelled, 0));
    let mut cancelled = Vec::new();
    while cancelled.len() < 2 {
        let e = events.next().await.unwrap();
        if e.kind == EventKind::Cancelled {
            cancelled.push(e.job);
        }
    }
    assert_eq!(cancelled, [ready, later]);
}

/// A running job is told (its context's cancellation fires, reason `Cancelled`) and,
/// since it then fails, ends as cancelled without a retry.
pub async fn cancelled_running_job_is_told_and_ends_cancelled<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let worker = start_worker(h, &client, &rec, |b| b);
    let id = client
        .enqueue(Patient {
            label: "patient".into(),
        })
        .await
        .unwrap();
    eventually("the job runs", h.patience(), || {
        let runs = rec.runs_of("patient").len();
        async move { (runs == 1).then_some(()) }
    })
    .await;
    assert_eq!(
        client.cancel(Q, id).await.unwrap(),
        CancelOutcome::Requested
    );
    let done = client.wait_for(Q, id, h.patience()).await.unwrap();
    worker.stop().await.unwrap();
    assert_eq!(done.state, JobState::Cancelled);
    let info = done.info.unwrap();
    assert_eq!((info.attempts, info.deliveries), (1, 1));
    assert_eq!(rec.runs_of("patient").len(), 1, "not retried");
    assert!(
        info.last_error.as_deref() == Some("cancelled"),
        "{:?}",
        info.last_error
    );
}

/// Cancelling a batch cancels its waiting members and stops its running ones; the batch
/// finishes and its callbacks fire, counting the cancelled members as not succeeded.
pub async fn cancelled_batch_finishes_with_its_callbacks<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let (batch, ids) = client
        .batch()
        .jobs((0..3).map(|i| Patient {
            label: format!("p{i}"),
        }))
        .on_complete(BatchDone {
            label: "complete".into(),
            batch: BatchSummary::default(),
        })
        .enqueue()
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b.concurrency(2));
    eventually("two members run", h.patience(), || {
        let runs = rec.runs().len();
        async move { (runs == 2).then_some(()) }
    })
    .await;
    let (cancelled, requested) = client.cancel_batch(batch).await.unwrap();
    assert_eq!((cancelled, requested), (1, 2));
    eventually("the callback", h.patience(), || {
        let fired = rec.callbacks();
        async move { (!fired.is_empty()).then_some(()) }
    })
    .await;
    worker.stop().await.unwrap();
    let fired = rec.callbacks();
    assert_eq!(fired.len(), 1);
    let summary = &fired[0].1;
    assert_eq!((summary.total, summary.succeeded, summary.dead), (3, 0, 3));
    for id in ids {
        assert_eq!(
            client.job(Q, id).await.unwrap().unwrap().state,
            JobState::Cancelled
        );
    }
    assert!(client.batch_status(batch).await.unwrap().unwrap().finished);
}
