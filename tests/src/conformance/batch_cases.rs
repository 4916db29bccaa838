//! Batches: callbacks fire exactly once, with a summary; members count once however
//! often they run; members added from inside keep the batch open.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jobs_core::{
    BATCH_DEAD_JOBS_MAX, BATCH_PAGE_MAX, BatchError, BatchSummary, CallbackKind, Client, JobId,
    JobState,
};

use super::jobs::{BatchDone, Echo, Flaky, Patient, Refuse, Spawner};
use super::{Harness, StoreConfig, client, start_worker};
use crate::faulty::Faulty;
use crate::support::{Recorder, eventually};

const Q: &str = "suite";

fn callback(label: &str) -> BatchDone {
    BatchDone {
        label: label.into(),
        batch: BatchSummary::default(),
    }
}

/// Waits until `n` callbacks ran.
async fn callbacks_after<H: Harness>(h: &H, rec: &Recorder, n: usize) {
    eventually("batch callbacks", h.patience(), || {
        let fired = rec.callbacks();
        async move { (fired.len() >= n).then_some(()) }
    })
    .await;
}

/// Once the worker stopped: the callbacks that ran, after checking that no job is left
/// waiting (a second firing would be one).
async fn all_callbacks<B: jobs_core::Backend>(
    client: &Client<B>,
    rec: &Recorder,
) -> Vec<(String, BatchSummary)> {
    let stats = client.stats(Q).await.unwrap();
    assert_eq!(
        (stats.ready, stats.scheduled, stats.active),
        (0, 0, 0),
        "nothing left to run"
    );
    rec.callbacks()
}

async fn settled<B: jobs_core::Backend>(
    client: &Client<B>,
    batch: jobs_core::BatchId,
    patience: Duration,
) -> jobs_core::BatchStatus {
    eventually("batch finished", patience, || {
        let client = client.clone();
        async move {
            let status = client.batch_status(batch).await.unwrap()?;
            status.finished.then_some(status)
        }
    })
    .await
}

/// Six succeed and two die: `complete` and `failure` fire once each with the counts and
/// the dead ids; `success` does not fire.
pub async fn batch_callbacks_fire_once_with_a_summary<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let (batch, ids) = client
        .batch()
        .jobs((0..6).map(|i| Echo {
            label: format!("ok{i}"),
        }))
        .jobs((0..2).map(|i| Refuse {
            label: format!("no{i}"),
        }))
        .on_success(callback("success"))
        .on_complete(callback("complete"))
        .on_failure(callback("failure"))
        .enqueue()
        .await
        .unwrap();
    assert_eq!(ids.len(), 8);
    let status = client.batch_status(batch).await.unwrap().unwrap();
    assert_eq!(
        (status.total, status.pending, status.finished),
        (8, 8, false)
    );

    let worker = start_worker(h, &client, &rec, |b| b);
    callbacks_after(h, &rec, 2).await;
    let status = settled(&client, batch, h.patience()).await;
    worker.stop().await.unwrap();
    let fired = all_callbacks(&client, &rec).await;

    let labels: BTreeSet<&str> = fired.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(fired.len(), 2, "{fired:#?}");
    assert_eq!(labels, BTreeSet::from(["complete", "failure"]));
    let dead: BTreeSet<JobId> = ids[6..].iter().copied().collect();
    for (_, summary) in &fired {
        assert_eq!(summary.id, batch);
        assert_eq!((summary.total, summary.succeeded, summary.dead), (8, 6, 2));
        assert_eq!(
            summary.dead_jobs.iter().copied().collect::<BTreeSet<_>>(),
            dead
        );
    }
    assert_eq!(
        (
            status.total,
            status.pending,
            status.running,
            status.succeeded,
            status.dead
        ),
        (8, 0, 0, 6, 2)
    );
    assert!(
        client
            .add_to_batch(
                batch,
                Echo {
                    label: "late".into()
                },
                JobId::new()
            )
            .await
            .is_err_and(|e| matches!(e, BatchError::Finished(_))),
        "a finished batch refuses new members"
    );
}

/// All succeed: `success` and `complete` fire, `failure` does not.
pub async fn batch_of_successes_fires_success_not_failure<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let worker = start_worker(h, &client, &rec, |b| b);
    let (batch, _) = client
        .batch()
        .jobs((0..5).map(|i| Echo {
            label: format!("s{i}"),
        }))
        .on_success(callback("success"))
        .on_complete(callback("complete"))
        .on_failure(callback("failure"))
        .enqueue()
        .await
        .unwrap();
    callbacks_after(h, &rec, 2).await;
    worker.stop().await.unwrap();
    let fired = all_callbacks(&client, &rec).await;
    let labels: BTreeSet<&str> = fired.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        BTreeSet::from(["complete", "success"]),
        "{fired:#?}"
    );
    assert_eq!(fired.len(), 2);
    assert!(
        fired
            .iter()
            .all(|(_, s)| s.id == batch && s.succeeded == 5 && s.dead == 0)
    );
}

/// Members retried until dead count once each.
pub async fn batch_counts_retried_members_once<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let (batch, ids) = client
        .batch()
        .jobs((0..3).map(|i| Flaky {
            label: format!("f{i}"),
        }))
        .on_complete(callback("complete"))
        .enqueue()
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    callbacks_after(h, &rec, 1).await;
    worker.stop().await.unwrap();
    let fired = all_callbacks(&client, &rec).await;
    // Three attempts each.
    assert_eq!(
        rec.runs()
            .iter()
            .filter(|r| r.label.starts_with('f'))
            .count(),
        9
    );
    assert_eq!(fired.len(), 1, "{fired:#?}");
    let summary = &fired[0].1;
    assert_eq!((summary.total, summary.succeeded, summary.dead), (3, 0, 3));
    for id in ids {
        let info = client.job(Q, id).await.unwrap().unwrap();
        assert_eq!(info.state, JobState::Dead);
    }
    assert!(client.batch_status(batch).await.unwrap().unwrap().finished);
}

/// A member that adds jobs to its own batch while it runs keeps the batch open until
/// they end too; the callback counts them.
pub async fn jobs_added_from_inside_keep_the_batch_open<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let (batch, _) = client
        .batch()
        .job(Spawner {
            label: "parent".into(),
            children: 3,
            ms: h.tick().as_millis() as u64,
        })
        .on_complete(callback("complete"))
        .enqueue()
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    callbacks_after(h, &rec, 1).await;
    worker.stop().await.unwrap();
    let fired = all_callbacks(&client, &rec).await;
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!((fired[0].1.total, fired[0].1.succeeded), (4, 4));
    // The children ran before the callback: it fired when the last of the four ended.
    let runs = rec.runs();
    let callback_at = runs.iter().find(|r| r.label == "complete").unwrap().started;
    let children: Vec<_> = runs.iter().filter(|r| r.label.contains("child")).collect();
    assert_eq!(children.len(), 3);
    assert!(children.iter().all(|r| r.started <= callback_at));
    let members = client.batch_members(batch, 0, 100).await.unwrap();
    assert_eq!(members.len(), 4);
}

/// Members on two queues (on Redis Cluster, possibly two nodes) make one batch.
pub async fn batch_spans_queues<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let mut b = client.batch().on_complete(callback("complete"));
    for (i, queue) in ["suite", "suite-b", "suite", "suite-b"]
        .into_iter()
        .enumerate()
    {
        b = b.job_on(
            queue,
            Echo {
                label: format!("q{i}"),
            },
            JobId::new(),
        );
    }
    let (batch, _) = b.enqueue().await.unwrap();
    let members = client.batch_members(batch, 0, 100).await.unwrap();
    let queues: BTreeSet<&str> = members.iter().map(|(_, q)| q.as_str()).collect();
    assert_eq!(queues, BTreeSet::from(["suite", "suite-b"]));
    let worker = start_worker(h, &client, &rec, |b| b.queues(["suite", "suite-b"]));
    callbacks_after(h, &rec, 1).await;
    worker.stop().await.unwrap();
    let fired = all_callbacks(&client, &rec).await;
    assert_eq!(fired.len(), 1, "{fired:#?}");
    assert_eq!((fired[0].1.total, fired[0].1.succeeded), (4, 4));
    assert_eq!(
        rec.runs()
            .iter()
            .filter(|r| r.label.starts_with('q'))
            .count(),
        4
    );
}

/// A batch without members completes when it is opened.
pub async fn empty_batch_completes_at_once<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let (batch, ids) = client
        .batch()
        .on_complete(callback("complete"))
        .on_success(callback("success"))
        .enqueue()
        .await
        .unwrap();
    assert!(ids.is_empty());
    let worker = start_worker(h, &client, &rec, |b| b);
    callbacks_after(h, &rec, 2).await;
    worker.stop().await.unwrap();
    let fired = all_callbacks(&client, &rec).await;
    assert_eq!(fired.len(), 2, "{fired:#?}");
    assert!(fired.iter().all(|(_, s)| s.id == batch && s.total == 0));
}

/// A batch's status is one backend call however many members it has (no member is looked
/// up), and counts the members running, those that ended and the dead ones.
pub async fn batch_status_is_one_call_and_counts_running<H: Harness>(h: &H) {
    let client = Client::new(Faulty::new(h.backend(StoreConfig::default()).await));
    let rec = Recorder::default();
    let (batch, ids) = client
        .batch()
        .job(Echo { label: "ok".into() })
        .jobs((0..2).map(|i| Patient {
            label: format!("wait{i}"),
        }))
        .on_complete(callback("complete"))
        .enqueue()
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let seen = eventually("one member done, two running", h.patience(), || {
        let client = client.clone();
        let waiting = ids[1..].to_vec();
        async move {
            let status = client.batch_status(batch).await.unwrap()?;
            let running = rec_running(&client, &waiting).await;
            (status.succeeded == 1 && running == 2).then_some(status)
        }
    })
    .await;
    let calls = &client.backend().calls;
    let before = (
        calls.batch.load(Ordering::SeqCst),
        calls.job.load(Ordering::SeqCst),
        calls.batch_members.load(Ordering::SeqCst),
    );
    let status = client.batch_status(batch).await.unwrap().unwrap();
    let after = (
        calls.batch.load(Ordering::SeqCst),
        calls.job.load(Ordering::SeqCst),
        calls.batch_members.load(Ordering::SeqCst),
    );
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (1, 0, 0),
        "one batch read, no member looked up"
    );
    assert_eq!(
        (status.total, status.pending, status.succeeded, status.dead),
        (3, 2, 1, 0)
    );
    assert_eq!((seen.running, status.running), (2, 2));

    client.cancel_batch(batch).await.unwrap();
    callbacks_after(h, &rec, 1).await;
    let status = settled(&client, batch, h.patience()).await;
    worker.stop().await.unwrap();
    assert_eq!(
        (
            status.total,
            status.pending,
            status.running,
            status.succeeded,
            status.dead
        ),
        (3, 0, 0, 1, 2)
    );
    assert_eq!(
        status.dead_jobs.iter().copied().collect::<BTreeSet<_>>(),
        ids[1..].iter().copied().collect::<BTreeSet<_>>()
    );
}

/// How many of `ids` (on the suite's queue) are running.
async fn rec_running<B: jobs_core::Backend>(client: &Client<B>, ids: &[JobId]) -> usize {
    let mut n = 0;
    for id in ids {
        if client.job(Q, *id).await.unwrap().map(|i| i.state) == Some(JobState::Active) {
            n += 1;
        }
    }
    n
}

/// 2,500 members on two queues (more than one call's worth when a backend opens a batch in
/// chunks): members page in the order they joined, with their records; cancelling the
/// batch walks every page; the summary and the status carry the first
/// [`BATCH_DEAD_JOBS_MAX`] dead ids and the rest page too.
pub async fn batch_members_and_dead_ids_are_paged<H: Harness>(h: &H) {
    const N: usize = 2_500;
    let client = client(h).await;
    let mut b = client.batch().on_complete(callback("complete"));
    let mut joined = Vec::with_capacity(N);
    for i in 0..N {
        let queue = if i % 2 == 0 { "suite" } else { "suite-b" };
        let id = JobId::new();
        joined.push((id, queue.to_owned()));
        b = b.job_on(
            queue,
            Echo {
                label: format!("m{i}"),
            },
            id,
        );
    }
    let (batch, ids) = b.enqueue().await.unwrap();
    assert_eq!(ids, joined.iter().map(|(id, _)| *id).collect::<Vec<_>>());

    let mut paged = Vec::new();
    loop {
        let page = client
            .batch_members(batch, paged.len(), 1_000)
            .await
            .unwrap();
        assert!(page.len() <= BATCH_PAGE_MAX);
        let last = page.len() < 1_000;
        paged.extend(page);
        if last {
            break;
        }
    }
    assert_eq!(paged, joined, "every member once, in the order they joined");
    let page = client.batch_jobs(batch, 10, 3).await.unwrap();
    assert_eq!(
        page.iter()
            .map(|m| (m.id, m.queue.clone()))
            .collect::<Vec<_>>(),
        joined[10..13]
    );
    for member in &page {
        let info = member.info.as_ref().expect("a waiting member has a record");
        assert_eq!((info.id, info.state), (member.id, JobState::Ready));
    }
    assert_eq!(
        client.batch_members(batch, 0, 5_000).await.unwrap().len(),
        BATCH_PAGE_MAX,
        "a page is cut to the page maximum"
    );
    let status = client.batch_status(batch).await.unwrap().unwrap();
    assert_eq!((status.total, status.pending), (N as u64, N as u64));

    let (cancelled, requested) = client.cancel_batch(batch).await.unwrap();
    assert_eq!((cancelled, requested), (N as u64, 0));
    let status = settled(&client, batch, h.patience()).await;
    assert_eq!((status.dead, status.pending), (N as u64, 0));
    assert_eq!(status.dead_jobs.len(), BATCH_DEAD_JOBS_MAX);
    let mut dead = Vec::new();
    loop {
        let page = client
            .batch_dead_jobs(batch, dead.len(), 1_000)
            .await
            .unwrap();
        let last = page.len() < 1_000;
        dead.extend(page);
        if last {
            break;
        }
    }
    assert_eq!(dead.len(), N);
    assert_eq!(&dead[..BATCH_DEAD_JOBS_MAX], &status.dead_jobs[..]);
    assert_eq!(
        dead.iter().copied().collect::<BTreeSet<_>>(),
        ids.iter().copied().collect::<BTreeSet<_>>()
    );

    // The callback's summary, as stored in its payload.
    let callback_id = batch.callback_id(CallbackKind::Complete);
    let info = eventually("the callback enqueued", h.patience(), || {
        let client = client.clone();
        async move { client.job(Q, callback_id).await.unwrap() }
    })
    .await;
    let args: BatchDone = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(
        (
            args.batch.total,
            args.batch.dead,
            args.batch.dead_jobs.len()
        ),
        (N as u64, N as u64, BATCH_DEAD_JOBS_MAX)
    );
    assert_eq!(args.batch.dead_jobs, status.dead_jobs);
}
