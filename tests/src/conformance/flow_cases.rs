//! Flow control: concurrency limits (per queue, per limit key) and pause/resume, enforced
//! by the store for every worker at once.

use std::time::Duration;

use jobs_core::backend::{Finish, LeaseStatus, Outcome, Reserved};
use jobs_core::{
    Backend, BackendError, Client, EnqueueError, InvalidFlow, JobId, JobState, MAX_LIMIT_KEY_LEN,
    QueueLimits, Rate, Worker, WorkerError,
};

use super::jobs::{Echo, Keyed};
use super::{Harness, client, lease, start_worker};
use crate::support::{Recorder, eventually};

const Q: &str = "suite";

fn queues() -> Vec<String> {
    vec![Q.to_owned()]
}

async fn keyed<H: Harness>(client: &Client<H::Backend>, label: &str, key: &str, ms: u64) -> JobId {
    client
        .enqueue(Keyed {
            label: label.into(),
            key: key.into(),
            ms,
        })
        .await
        .unwrap()
}

/// Reserves as many jobs as the store hands out at once (at most 100).
async fn reserve_all<H: Harness>(h: &H, client: &Client<H::Backend>) -> Vec<Reserved> {
    client
        .backend()
        .reserve(&queues(), 100, lease(h))
        .await
        .unwrap()
}

fn ids(jobs: &[Reserved]) -> Vec<JobId> {
    let mut ids: Vec<JobId> = jobs.iter().map(|j| j.lease.id).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<JobId>) -> Vec<JobId> {
    ids.sort();
    ids
}

async fn finish<H: Harness>(client: &Client<H::Backend>, job: &Reserved, outcome: Outcome) {
    let status = client
        .backend()
        .finish(vec![Finish {
            lease: job.lease.clone(),
            outcome,
        }])
        .await
        .unwrap();
    assert!(
        matches!(status[..], [LeaseStatus::Held { .. }]),
        "{status:?}"
    );
}

fn ok() -> Outcome {
    Outcome::Succeeded { result: None }
}

/// A queue's concurrency limit holds across every worker: with two workers of 8 slots
/// each and a limit of 2, never more than 2 run at once, and every job runs.
pub async fn concurrency_limit_holds_across_workers<H: Harness>(h: &H) {
    let client = client(h).await;
    client
        .set_limits(Q, QueueLimits::new().concurrency(2))
        .await
        .unwrap();
    let rec = Recorder::default();
    let ms = h.tick().as_millis() as u64;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(keyed::<H>(&client, &format!("j{i}"), &format!("k{i}"), ms).await);
    }
    let a = start_worker(h, &client, &rec, |b| b);
    let b = start_worker(h, &client, &rec, |b| b);
    for id in ids {
        let done = client.wait_for(Q, id, h.patience()).await.unwrap();
        assert_eq!(done.state, JobState::Succeeded);
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(rec.peak_running(), 2);
}

/// At most `per_key` jobs of one key run at once, and a key at its limit does not hold up
/// the jobs of other keys queued behind its own (no head-of-line blocking).
pub async fn per_key_limit_does_not_block_other_keys<H: Harness>(h: &H) {
    let client = client(h).await;
    client
        .set_limits(Q, QueueLimits::new().per_key(1))
        .await
        .unwrap();
    let rec = Recorder::default();
    let slow = (h.tick() * 3).as_millis() as u64;
    let mut busy = Vec::new();
    for i in 0..4 {
        busy.push(keyed::<H>(&client, &format!("busy{i}"), "busy", slow).await);
    }
    let mut others = Vec::new();
    for key in ["a", "b", "c"] {
        others.push(keyed::<H>(&client, key, key, 1).await);
    }
    let worker = start_worker(h, &client, &rec, |b| b);
    for id in others {
        client.wait_for(Q, id, h.patience()).await.unwrap();
    }
    // The other keys ran while the first busy job still held its key.
    assert!(
        rec.runs_of("busy1").is_empty(),
        "the other keys waited behind the busy key"
    );
    for id in busy {
        client.wait_for(Q, id, h.patience()).await.unwrap();
    }
    worker.stop().await.unwrap();
    assert_eq!(rec.peak_of("busy"), 1);
    // One busy job after the other, in the order they were enqueued.
    let order: Vec<String> = rec
        .runs()
        .into_iter()
        .map(|r| r.label)
        .filter(|l| l.starts_with("busy"))
        .collect();
    assert_eq!(order, ["busy0", "busy1", "busy2", "busy3"]);
}

/// A key's slot is given back however its job's lease ends: success, failure with a
/// retry, snooze, release, and an expired lease (a crashed worker holds no slot for good).
/// Jobs without a key, and other keys, are never held up meanwhile.
pub async fn a_key_slot_is_given_back_on_every_ending<H: Harness>(h: &H) {
    let client = client(h).await;
    client
        .set_limits(Q, QueueLimits::new().per_key(1))
        .await
        .unwrap();
    let first = keyed::<H>(&client, "first", "k", 1).await;
    let second = keyed::<H>(&client, "second", "k", 1).await;
    let plain = client.enqueue(Echo { label: "p".into() }).await.unwrap();
    let other = keyed::<H>(&client, "other", "j", 1).await;

    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), sorted(vec![first, plain, other]));
    assert!(reserve_all(h, &client).await.is_empty());
    let held = got.iter().find(|j| j.lease.id == first).unwrap();
    assert_eq!(held.lease.limit_key.as_deref(), Some("k"));
    let info = client.job(Q, second).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Ready);
    assert_eq!(client.stats(Q).await.unwrap().ready, 1);
    for job in got.iter().filter(|j| j.lease.id != first) {
        finish::<H>(&client, job, ok()).await;
    }

    // Each way a lease ends frees the slot: the key's next job (here the same one,
    // back at the head of its line, or the second) can start.
    let endings = [
        Outcome::Failed {
            error: "boom".into(),
            retry_after: Some(Duration::ZERO),
        },
        Outcome::Snooze {
            after: Duration::ZERO,
        },
        Outcome::Release,
    ];
    let mut current = held.clone();
    for ending in endings {
        finish::<H>(&client, &current, ending).await;
        let next = eventually("the key's next job", h.patience(), || async {
            reserve_all(h, &client).await.pop()
        })
        .await;
        assert!(reserve_all(h, &client).await.is_empty(), "two of key k");
        current = next;
    }

    // A lease that expires frees the slot too.
    let recovered = eventually(
        "the expired lease's key to run again",
        h.patience(),
        || async { reserve_all(h, &client).await.pop() },
    )
    .await;
    assert_eq!(recovered.lease.limit_key.as_deref(), Some("k"));
    finish::<H>(&client, &recovered, ok()).await;
    let last = eventually("the key's last job", h.patience(), || async {
        reserve_all(h, &client).await.pop()
    })
    .await;
    finish::<H>(&client, &last, ok()).await;
    let done = [recovered.lease.id, last.lease.id];
    assert_eq!(sorted(done.to_vec()), sorted(vec![first, second]));
    assert!(reserve_all(h, &client).await.is_empty());
}

/// A queue's concurrency slot held by a lease that expired is given back (the job runs
/// again), so a crashed worker never holds the queue for good.
pub async fn an_expired_lease_gives_back_its_queue_slot<H: Harness>(h: &H) {
    let client = client(h).await;
    client
        .set_limits(Q, QueueLimits::new().concurrency(1))
        .await
        .unwrap();
    let a = client.enqueue(Echo { label: "a".into() }).await.unwrap();
    let b = client.enqueue(Echo { label: "b".into() }).await.unwrap();
    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), [a]);
    assert!(reserve_all(h, &client).await.is_empty());
    // Nobody finishes `a`: once its lease expired it is recovered and runs again, ahead
    // of `b` (its old place in line); `b` waits for its slot.
    let again = eventually("the expired job to run again", h.patience(), || async {
        reserve_all(h, &client).await.pop()
    })
    .await;
    assert_eq!((again.lease.id, again.deliveries), (a, 2));
    assert!(reserve_all(h, &client).await.is_empty());
    finish::<H>(&client, &again, ok()).await;
    assert_eq!(ids(&reserve_all(h, &client).await), [b]);
}

/// A paused queue starts nothing, on any worker, until it is resumed; running jobs finish,
/// enqueues go on; the state is in `stats`. Resuming wakes idle workers.
pub async fn paused_queue_starts_nothing_until_resumed<H: Harness>(h: &H) {
    let client = client(h).await;
    let running = client.enqueue(Echo { label: "r".into() }).await.unwrap();
    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), [running]);
    client.pause(Q).await.unwrap();
    let stats = client.stats(Q).await.unwrap();
    assert!(stats.paused);
    let waiting = client.enqueue(Echo { label: "w".into() }).await.unwrap();
    let keyed_id = keyed::<H>(&client, "k", "k", 1).await;
    assert!(reserve_all(h, &client).await.is_empty());
    // The running job finishes while paused.
    finish::<H>(&client, &got[0], ok()).await;
    assert!(reserve_all(h, &client).await.is_empty());
    assert_eq!(client.stats(Q).await.unwrap().ready, 2);

    // An idle worker is woken by the resume.
    let rec = Recorder::default();
    let worker = start_worker(h, &client, &rec, |b| b);
    client.resume(Q).await.unwrap();
    assert!(!client.stats(Q).await.unwrap().paused);
    for id in [waiting, keyed_id] {
        let done = client.wait_for(Q, id, h.patience()).await.unwrap();
        assert_eq!(done.state, JobState::Succeeded);
    }
    worker.stop().await.unwrap();
}

/// Limits are stored with the queue and read back; bad ones are typed errors at the call,
/// at enqueue, or when a worker starts, never a stuck queue.
pub async fn limits_are_stored_and_bad_ones_refused<H: Harness>(h: &H) {
    let client = client(h).await;
    assert_eq!(client.limits(Q).await.unwrap(), QueueLimits::new());
    let limits = QueueLimits::new().concurrency(50).per_key(1);
    client.set_limits(Q, limits).await.unwrap();
    assert_eq!(client.limits(Q).await.unwrap(), limits);
    client.set_limits(Q, QueueLimits::new()).await.unwrap();
    assert_eq!(client.limits(Q).await.unwrap(), QueueLimits::new());

    for bad in [
        QueueLimits::new().concurrency(0),
        QueueLimits::new().per_key(0),
    ] {
        let err = client.set_limits(Q, bad).await.unwrap_err();
        assert!(
            matches!(err, BackendError::InvalidFlow(InvalidFlow::ZeroLimit(_))),
            "{err:?}"
        );
    }
    let err = client
        .enqueue(Echo { label: "e".into() })
        .limit_key("")
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::InvalidFlow(InvalidFlow::EmptyKey)),
        "{err:?}"
    );
    let err = client
        .enqueue(Echo { label: "e".into() })
        .limit_key("x".repeat(MAX_LIMIT_KEY_LEN + 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::InvalidFlow(InvalidFlow::KeyTooLong(_))),
        "{err:?}"
    );
    let err = Worker::builder(client.clone())
        .register::<Echo>()
        .limits(Q, QueueLimits::new().per_key(0))
        .build()
        .run_until(std::future::ready(()))
        .await
        .unwrap_err();
    assert!(matches!(err, WorkerError::InvalidLimits { .. }), "{err:?}");
    // Nothing was stored by the refused calls.
    assert_eq!(client.limits(Q).await.unwrap(), QueueLimits::new());

    // A worker's limits are stored when it starts.
    let rec = Recorder::default();
    let worker = start_worker(h, &client, &rec, |b| {
        b.limits(Q, QueueLimits::new().concurrency(3))
    });
    eventually("the worker's limits to be stored", h.patience(), || async {
        (client.limits(Q).await.unwrap().concurrency == Some(3)).then_some(())
    })
    .await;
    worker.stop().await.unwrap();
}

/// Raising a per-key limit lets a key held at the old one start more jobs at once; a
/// cancelled job waiting under a key leaves its line.
pub async fn raised_key_limit_applies_and_keyed_jobs_cancel<H: Harness>(h: &H) {
    let client = client(h).await;
    client
        .set_limits(Q, QueueLimits::new().per_key(1))
        .await
        .unwrap();
    let a = keyed::<H>(&client, "a", "k", 1).await;
    let b = keyed::<H>(&client, "b", "k", 1).await;
    let c = keyed::<H>(&client, "c", "k", 1).await;
    let d = keyed::<H>(&client, "d", "k", 1).await;
    assert_eq!(ids(&reserve_all(h, &client).await), [a]);
    assert_eq!(
        client.cancel(Q, b).await.unwrap(),
        jobs_core::backend::CancelOutcome::Cancelled
    );
    client
        .set_limits(Q, QueueLimits::new().per_key(3))
        .await
        .unwrap();
    assert_eq!(ids(&reserve_all(h, &client).await), sorted(vec![c, d]));
    let stats = client.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.active), (0, 3));
    // Lowered again: no new job of the key starts until it is under the new limit.
    client
        .set_limits(Q, QueueLimits::new().per_key(1))
        .await
        .unwrap();
    let e = keyed::<H>(&client, "e", "k", 1).await;
    assert!(reserve_all(h, &client).await.is_empty());
    assert_eq!(
        client.job(Q, e).await.unwrap().unwrap().state,
        JobState::Ready
    );
}

/// The starts of `runs` never exceed `n` in any window of `window` (less `slack`, for a
/// backend whose clock is not the test's).
fn assert_rate(mut starts: Vec<tokio::time::Instant>, n: usize, window: Duration, slack: Duration) {
    starts.sort();
    let window = window.saturating_sub(slack);
    for (i, first) in starts.iter().enumerate() {
        let inside = starts[i..]
            .iter()
            .take_while(|t| t.duration_since(*first) < window)
            .count();
        assert!(
            inside <= n,
            "{inside} starts within {window:?}: {:?}",
            starts
                .iter()
                .map(|t| t.duration_since(starts[0]))
                .collect::<Vec<_>>()
        );
    }
}

/// At most `rate.starts` jobs of the queue start in any window of `rate.per` (a sliding
/// window), however many workers and slots are free; idle workers wake when the window
/// has room again.
pub async fn queue_rate_limit_holds_in_any_window<H: Harness>(h: &H) {
    let client = client(h).await;
    let window = h.tick() * 2;
    client
        .set_limits(Q, QueueLimits::new().rate(Rate::new(2, window)))
        .await
        .unwrap();
    // Straight from the store: two start, the third waits for the window.
    let ids_ = [
        client.enqueue(Echo { label: "a".into() }).await.unwrap(),
        client.enqueue(Echo { label: "b".into() }).await.unwrap(),
        client.enqueue(Echo { label: "c".into() }).await.unwrap(),
    ];
    let first = reserve_all(h, &client).await;
    assert_eq!(ids(&first), sorted(ids_[..2].to_vec()));
    for job in &first {
        finish::<H>(&client, job, ok()).await;
    }
    assert!(
        reserve_all(h, &client).await.is_empty(),
        "the rate is used up"
    );
    let third = eventually("the window to have room", h.patience(), || async {
        reserve_all(h, &client).await.pop()
    })
    .await;
    assert_eq!(third.lease.id, ids_[2]);
    finish::<H>(&client, &third, ok()).await;

    // Through workers: 6 jobs, two workers, never more than 2 starts per window.
    let rec = Recorder::default();
    let mut jobs = Vec::new();
    for i in 0..6 {
        jobs.push(
            client
                .enqueue(Echo {
                    label: format!("w{i}"),
                })
                .await
                .unwrap(),
        );
    }
    let a = start_worker(h, &client, &rec, |b| b);
    let b = start_worker(h, &client, &rec, |b| b);
    for id in jobs {
        let done = client.wait_for(Q, id, h.patience()).await.unwrap();
        assert_eq!(done.state, JobState::Succeeded);
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    let starts = rec.runs().into_iter().map(|r| r.started).collect();
    assert_rate(starts, 2, window, h.tick() / 4);
}

/// At most `per_key_rate.starts` jobs of one key start per window, while other keys go
/// on; the key's jobs start again once its window has room.
pub async fn per_key_rate_limit_holds_and_other_keys_go_on<H: Harness>(h: &H) {
    let client = client(h).await;
    let window = h.tick() * 2;
    client
        .set_limits(Q, QueueLimits::new().per_key_rate(Rate::new(1, window)))
        .await
        .unwrap();
    let k1 = keyed::<H>(&client, "k1", "k", 1).await;
    let k2 = keyed::<H>(&client, "k2", "k", 1).await;
    let a = keyed::<H>(&client, "a", "a", 1).await;
    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), sorted(vec![k1, a]));
    for job in &got {
        finish::<H>(&client, job, ok()).await;
    }
    let b = keyed::<H>(&client, "b", "b", 1).await;
    assert_eq!(
        ids(&reserve_all(h, &client).await),
        [b],
        "k is held back, b is not"
    );
    let next = eventually("k's window to have room", h.patience(), || async {
        reserve_all(h, &client).await.pop()
    })
    .await;
    assert_eq!(next.lease.id, k2);
}

/// A job that says it was rate limited runs again later without using up an attempt, and
/// its key's other jobs wait as long; other keys go on.
pub async fn rate_limited_job_holds_its_key<H: Harness>(h: &H) {
    let client = client(h).await;
    client
        .set_limits(Q, QueueLimits::new().per_key(1))
        .await
        .unwrap();
    let k1 = keyed::<H>(&client, "k1", "k", 1).await;
    let k2 = keyed::<H>(&client, "k2", "k", 1).await;
    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), [k1]);
    finish::<H>(
        &client,
        &got[0],
        Outcome::RateLimited {
            after: h.tick() * 2,
        },
    )
    .await;
    let info = client.job(Q, k1).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (JobState::Scheduled, 0));
    let other = keyed::<H>(&client, "other", "j", 1).await;
    assert_eq!(
        ids(&reserve_all(h, &client).await),
        [other],
        "k2 waits while its key is held back"
    );
    let next = eventually("the key to run again", h.patience(), || async {
        reserve_all(h, &client).await.pop()
    })
    .await;
    assert!([k1, k2].contains(&next.lease.id));

    // Through a worker: the job's `JobError::rate_limited` does the same.
    let rec = Recorder::default();
    let worker = start_worker(h, &client, &rec, |b| b);
    let ms = (h.tick() * 2).as_millis() as u64;
    let id = client
        .enqueue(super::jobs::Throttled {
            label: "t".into(),
            key: "t".into(),
            ms,
        })
        .await
        .unwrap();
    let done = client.wait_for(Q, id, h.patience()).await.unwrap();
    worker.stop().await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.info.unwrap().attempts, 1);
    let runs = rec.runs_of("t");
    assert_eq!(runs.len(), 2);
    assert!(runs[1].started.duration_since(runs[0].started) >= h.tick() * 2 - h.tick() / 4);
}

/// A job still waiting at its deadline never starts: it ends as expired, with the reason
/// and a `Dead` event, whether it waited ready, under a limit key, or scheduled past its
/// deadline; the others run. Retried, it runs, without the deadline.
pub async fn a_job_past_its_deadline_expires_instead_of_starting<H: Harness>(h: &H) {
    let client = client(h).await;
    let mut events = client.subscribe(Q, None);
    client.pause(Q).await.unwrap();
    let soon = h.tick();
    let plain = client
        .enqueue(Echo { label: "a".into() })
        .expires_after(soon)
        .await
        .unwrap();
    let keyed_id = client
        .enqueue(Keyed {
            label: "b".into(),
            key: "k".into(),
            ms: 1,
        })
        .expires_after(soon)
        .await
        .unwrap();
    let fine = client
        .enqueue(Echo { label: "c".into() })
        .expires_after(h.patience() * 10)
        .await
        .unwrap();
    let late = client
        .enqueue(Echo { label: "d".into() })
        .delay(h.tick() * 3)
        .expires_after(soon)
        .await
        .unwrap();
    tokio::time::sleep(h.tick() * 2).await; // time passing is what is under test
    client.resume(Q).await.unwrap();
    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), [fine]);
    finish::<H>(&client, &got[0], ok()).await;
    for id in [plain, keyed_id] {
        let info = client.job(Q, id).await.unwrap().unwrap();
        assert_eq!((info.state, info.attempts), (JobState::Expired, 0));
        let reason = info.last_error.unwrap();
        assert!(
            reason.starts_with("expired: not started by its deadline"),
            "{reason}"
        );
    }
    // Scheduled past its deadline: it expires when it comes due.
    eventually("the late job to expire", h.patience(), || async {
        assert!(reserve_all(h, &client).await.is_empty());
        let info = client.job(Q, late).await.unwrap().unwrap();
        (info.state == JobState::Expired).then_some(())
    })
    .await;
    let done = client.wait_for(Q, plain, h.patience()).await.unwrap();
    assert_eq!(done.state, JobState::Expired);
    assert_eq!(client.stats(Q).await.unwrap().dead, 3);
    let dead = client.dead_jobs(Q, 0, 10).await.unwrap();
    assert!(
        dead.iter().all(|j| j.state == JobState::Expired),
        "{dead:?}"
    );
    let mut expired = Vec::new();
    while expired.len() < 3 {
        let e = events.next().await.unwrap();
        if let jobs_core::EventKind::Dead { reason } = &e.kind {
            assert!(reason.starts_with("expired"), "{reason}");
            expired.push(e.job);
        }
    }
    assert_eq!(sorted(expired), sorted(vec![plain, keyed_id, late]));

    // Retried on purpose, it runs: the deadline is gone.
    assert_eq!(client.retry_dead(Q, &[plain]).await.unwrap(), 1);
    let again = reserve_all(h, &client).await;
    assert_eq!(ids(&again), [plain]);
}

/// A waiting job is moved to another run-at or priority by id, atomically, ready or
/// scheduled or under a limit key; a running or ended job is left alone; a worker asleep
/// until the old run-at is woken for the new one.
pub async fn waiting_jobs_are_rescheduled_by_id<H: Harness>(h: &H) {
    use jobs_core::backend::{Reschedule, RescheduleOutcome};
    let client = client(h).await;
    let far = h.patience() * 10;
    let x = client
        .enqueue(Echo { label: "x".into() })
        .delay(far)
        .await
        .unwrap();
    let y = client.enqueue(Echo { label: "y".into() }).await.unwrap();
    let z = client.enqueue(Echo { label: "z".into() }).await.unwrap();
    let moved = |id, change| {
        let client = client.clone();
        async move { client.reschedule(Q, id, change).await.unwrap() }
    };
    assert_eq!(
        moved(z, Reschedule::new().priority(5)).await,
        RescheduleOutcome::Moved
    );
    assert_eq!(
        moved(x, Reschedule::new().now().priority(9)).await,
        RescheduleOutcome::Moved
    );
    let first = client
        .backend()
        .reserve(&queues(), 2, lease(h))
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|j| j.lease.id).collect::<Vec<_>>(),
        [x, z],
        "by the new priorities"
    );
    // Ready, moved to later: scheduled.
    assert_eq!(
        moved(y, Reschedule::new().delay(far)).await,
        RescheduleOutcome::Moved
    );
    let info = client.job(Q, y).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Scheduled);
    assert!(reserve_all(h, &client).await.is_empty());
    // Running, ended, unknown: nothing changes.
    assert_eq!(
        moved(x, Reschedule::new().now()).await,
        RescheduleOutcome::NotWaiting
    );
    finish::<H>(&client, &first[0], ok()).await;
    assert_eq!(
        moved(x, Reschedule::new().now()).await,
        RescheduleOutcome::NotWaiting
    );
    assert_eq!(
        moved(JobId::new(), Reschedule::new().now()).await,
        RescheduleOutcome::NotFound
    );
    // Under a limit key: its place in the key's line moves.
    // First in its key's line until k2 is moved ahead of it.
    let _k1 = keyed::<H>(&client, "k1", "k", 1).await;
    let k2 = keyed::<H>(&client, "k2", "k", 1).await;
    assert_eq!(
        moved(k2, Reschedule::new().priority(9)).await,
        RescheduleOutcome::Moved
    );
    let got = client
        .backend()
        .reserve(&queues(), 1, lease(h))
        .await
        .unwrap();
    assert_eq!(ids(&got), [k2]);
    // A worker asleep until y's far run-at runs it once y is moved to now.
    let rec = Recorder::default();
    let worker = start_worker(h, &client, &rec, |b| b);
    assert_eq!(
        moved(y, Reschedule::new().now()).await,
        RescheduleOutcome::Moved
    );
    let done = client.wait_for(Q, y, h.patience()).await.unwrap();
    worker.stop().await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
}

/// A unique job's key is held while it waits (or runs, or for a period): a second
/// enqueue is refused with the holder's id, replaces it while it waits, or debounces it;
/// once the hold is over the key is free again.
pub async fn unique_jobs_hold_their_key<H: Harness>(h: &H) {
    use jobs_core::{OnConflict, Unique, UniqueFor};
    let client = client(h).await;
    let echo = |label: &str| Echo {
        label: label.into(),
    };
    // Rejected while the holder waits; the key is made from the job's arguments.
    let first = client
        .enqueue(echo("u"))
        .unique(Unique::while_waiting())
        .await
        .unwrap();
    let err = client
        .enqueue(echo("u"))
        .unique(Unique::while_waiting())
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::Duplicate { existing, .. } if existing == first),
        "{err:?}"
    );
    // Other arguments, other key.
    let other = client
        .enqueue(echo("v"))
        .unique(Unique::while_waiting())
        .await
        .unwrap();
    assert_ne!(other, first);
    // Once the holder started, a `while_waiting` key is free; an `until_done` one is not.
    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), sorted(vec![first, other]));
    let again = client
        .enqueue(echo("u"))
        .unique(Unique::while_waiting())
        .await
        .unwrap();
    assert_ne!(again, first);
    let held = client
        .enqueue(echo("w"))
        .unique(Unique::until_done())
        .await
        .unwrap();
    let running = reserve_all(h, &client).await;
    assert_eq!(ids(&running), sorted(vec![again, held]));
    let err = client
        .enqueue(echo("w"))
        .unique(Unique::until_done().on_conflict(OnConflict::Replace))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::Duplicate { existing, .. } if existing == held),
        "a running holder is not replaced: {err:?}"
    );
    let w = running.iter().find(|j| j.lease.id == held).unwrap();
    finish::<H>(&client, w, ok()).await;
    client
        .enqueue(echo("w"))
        .unique(Unique::until_done())
        .await
        .unwrap();

    // Replace: the waiting holder is cancelled, the new job stored in its place.
    let old = client
        .enqueue(echo("r"))
        .delay(h.tick() * 100)
        .unique(Unique::new(UniqueFor::Waiting).key("report"))
        .await
        .unwrap();
    let new = client
        .enqueue(echo("r2"))
        .unique(
            Unique::new(UniqueFor::Waiting)
                .key("report")
                .on_conflict(OnConflict::Replace),
        )
        .await
        .unwrap();
    assert_ne!(new, old);
    let info = client.job(Q, old).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Cancelled);
    assert_eq!(
        client.job(Q, new).await.unwrap().unwrap().state,
        JobState::Ready
    );

    // Debounce: the holder stays and takes the new run-at; the enqueue answers its id.
    let kept = client
        .enqueue(echo("d"))
        .delay(h.tick() * 100)
        .unique(Unique::while_waiting().on_conflict(OnConflict::Debounce))
        .await
        .unwrap();
    let answered = client
        .enqueue(echo("d"))
        .delay(h.tick() * 200)
        .unique(Unique::while_waiting().on_conflict(OnConflict::Debounce))
        .await
        .unwrap();
    assert_eq!(answered, kept);
    let info = client.job(Q, kept).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Scheduled);
    let run_at = info.run_at_ms.unwrap();
    assert!(
        run_at >= info.created_at_ms + (h.tick() * 200).as_millis() as u64 - 5,
        "the run-at moved to the later one: {run_at} vs created {}",
        info.created_at_ms
    );

    // For a period: held even after the job ended, free once the period is over.
    let period = Unique::for_period(h.tick() * 2).key("hourly");
    let p = client
        .enqueue(echo("p"))
        .unique(period.clone())
        .await
        .unwrap();
    let got = reserve_all(h, &client).await;
    for job in &got {
        finish::<H>(&client, job, ok()).await;
    }
    assert!(got.iter().any(|j| j.lease.id == p));
    let err = client
        .enqueue(echo("p"))
        .unique(period.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, EnqueueError::Duplicate { .. }), "{err:?}");
    eventually("the period to end", h.patience(), || async {
        client.enqueue(echo("p")).unique(period.clone()).await.ok()
    })
    .await;

    // A retried enqueue (same id) is not a conflict; bad keys are refused.
    let id = JobId::new();
    for _ in 0..2 {
        assert_eq!(
            client
                .enqueue(echo("same"))
                .id(id)
                .unique(Unique::while_waiting())
                .await
                .unwrap(),
            id
        );
    }
    let err = client
        .enqueue(echo("e"))
        .unique(Unique::while_waiting().key(""))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EnqueueError::InvalidFlow(InvalidFlow::EmptyKey)),
        "{err:?}"
    );
}

/// Many enqueues of one unique key at once, over separate connections, store one job;
/// every other one is told which.
pub async fn concurrent_unique_enqueues_store_one<H: Harness>(h: &H) {
    use jobs_core::Unique;
    let client = client(h).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .enqueue(Echo {
                    label: "once".into(),
                })
                .unique(Unique::until_done())
                .await
        }));
    }
    let mut stored = Vec::new();
    let mut told = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(id) => stored.push(id),
            Err(EnqueueError::Duplicate { existing, .. }) => told.push(existing),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(told.iter().all(|id| *id == stored[0]));
    let stats = client.stats(Q).await.unwrap();
    assert_eq!(stats.ready, 1);
}

/// A paused batch's waiting members start nowhere until it is resumed, while other jobs of
/// the queue go on; they stay ready (and cancellable); the state is in `batch_status`.
pub async fn paused_batch_holds_its_waiting_members<H: Harness>(h: &H) {
    let client = client(h).await;
    let (batch, members) = client
        .batch()
        .job(Echo { label: "m1".into() })
        .job(Echo { label: "m2".into() })
        .job(Keyed {
            label: "m3".into(),
            key: "k".into(),
            ms: 1,
        })
        .enqueue()
        .await
        .unwrap();
    assert!(client.pause_batch(batch).await.unwrap());
    assert!(client.batch_status(batch).await.unwrap().unwrap().paused);
    assert!(!client.pause_batch(jobs_core::BatchId::new()).await.unwrap());
    let other = client.enqueue(Echo { label: "o".into() }).await.unwrap();
    let got = reserve_all(h, &client).await;
    assert_eq!(ids(&got), [other], "only the job outside the batch starts");
    finish::<H>(&client, &got[0], ok()).await;
    assert!(reserve_all(h, &client).await.is_empty());
    assert_eq!(client.stats(Q).await.unwrap().ready, 3);
    for id in &members {
        assert_eq!(
            client.job(Q, *id).await.unwrap().unwrap().state,
            JobState::Ready
        );
    }
    assert_eq!(
        client.cancel(Q, members[0]).await.unwrap(),
        jobs_core::backend::CancelOutcome::Cancelled
    );
    assert_eq!(client.stats(Q).await.unwrap().ready, 2);

    // Resumed: an idle worker is woken and runs the rest.
    let rec = Recorder::default();
    let worker = start_worker(h, &client, &rec, |b| b);
    assert!(client.resume_batch(batch).await.unwrap());
    assert!(!client.batch_status(batch).await.unwrap().unwrap().paused);
    for id in &members[1..] {
        let done = client.wait_for(Q, *id, h.patience()).await.unwrap();
        assert_eq!(done.state, JobState::Succeeded);
    }
    worker.stop().await.unwrap();
    assert!(rec.runs_of("m1").is_empty());
}
