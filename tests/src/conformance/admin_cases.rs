//! The operators' calls: pages of jobs in any state, deletions and purges, retries by
//! filter, the queue list, throughput, and the live workers' registrations.

use std::time::Duration;

use jobs_core::backend::{Finish, Outcome, Reserved};
use jobs_core::{Backend, BackendError, Client, Deleted, JobId, JobState, ListCursor, WorkerInfo};

use super::jobs::Echo;
use super::{Harness, client, lease};
use crate::support::eventually;

const Q: &str = "suite";

async fn echo<B: Backend>(client: &Client<B>, label: &str) -> JobId {
    client
        .enqueue(Echo {
            label: label.into(),
        })
        .await
        .unwrap()
}

/// Leases every ready job of the suite's queue (at most 100).
async fn reserve<H: Harness>(h: &H, client: &Client<H::Backend>) -> Vec<Reserved> {
    let queues = vec![Q.to_owned()];
    client
        .backend()
        .reserve(&queues, 100, lease(h))
        .await
        .unwrap()
}

async fn end<B: Backend>(client: &Client<B>, job: &Reserved, outcome: Outcome) {
    let lease = job.lease.clone();
    client
        .backend()
        .finish(vec![Finish { lease, outcome }])
        .await
        .unwrap();
}

fn failed(retry: Option<Duration>) -> Outcome {
    Outcome::Failed {
        error: "boom".into(),
        retry_after: retry,
    }
}

/// Every page of `state`, `size` at a time, following the cursors.
async fn all_pages<B: Backend>(client: &Client<B>, state: JobState, size: usize) -> Vec<JobId> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = client.list_jobs(Q, state, after, size).await.unwrap();
        assert!(page.jobs.len() <= size);
        out.extend(page.jobs.iter().map(|j| {
            assert_eq!(j.queue, Q);
            j.id
        }));
        match page.next {
            Some(next) => {
                // The cursor prints and parses back (a command line passes it on).
                assert_eq!(next.to_string().parse::<ListCursor>().unwrap(), next);
                after = Some(next);
            }
            None => return out,
        }
    }
}

/// Every state lists its jobs in pages, in its order: ready by priority then age,
/// scheduled soonest first, active by lease end, succeeded and dead most recent first;
/// cancelled jobs with the dead ones; a page after a job that left goes on after it.
pub async fn jobs_are_listed_by_state_in_pages<H: Harness>(h: &H) {
    let client = client(h).await;
    let mut ready = Vec::new();
    for n in 0..5 {
        ready.push(echo(&client, &format!("r{n}")).await);
    }
    let urgent = client
        .enqueue(Echo {
            label: "urgent".into(),
        })
        .priority(5)
        .await
        .unwrap();
    let later = client
        .enqueue(Echo {
            label: "later".into(),
        })
        .delay(h.tick() * 200)
        .await
        .unwrap();
    let sooner = client
        .enqueue(Echo {
            label: "sooner".into(),
        })
        .delay(h.tick() * 100)
        .await
        .unwrap();

    let mut expected = vec![urgent];
    expected.extend(&ready);
    assert_eq!(all_pages(&client, JobState::Ready, 2).await, expected);
    assert_eq!(
        all_pages(&client, JobState::Scheduled, 1).await,
        vec![sooner, later]
    );
    let first = client
        .list_jobs(Q, JobState::Scheduled, None, 5)
        .await
        .unwrap();
    assert_eq!(first.next, None, "a page that reached the end says so");
    assert_eq!(first.jobs[0].state, JobState::Scheduled);
    assert!(first.jobs[0].run_at_ms.is_some());

    // A page after a job that has left its state goes on from its place.
    let page = client.list_jobs(Q, JobState::Ready, None, 2).await.unwrap();
    assert_eq!(
        page.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![urgent, ready[0]]
    );
    client.cancel(Q, ready[0]).await.unwrap();
    let rest = client
        .list_jobs(Q, JobState::Ready, page.next, 10)
        .await
        .unwrap();
    assert_eq!(
        rest.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        ready[1..].to_vec()
    );

    // Leased, then ended: succeeded and dead, most recent first.
    let leased = reserve(h, &client).await;
    assert_eq!(leased.len(), 5);
    let active = all_pages(&client, JobState::Active, 2).await;
    assert_eq!(active.len(), 5);
    let info = client
        .list_jobs(Q, JobState::Active, None, 1)
        .await
        .unwrap();
    assert!(info.jobs[0].lease_expires_at_ms.is_some());
    for (n, job) in leased.iter().enumerate() {
        let outcome = if n < 3 {
            Outcome::Succeeded { result: None }
        } else {
            failed(None)
        };
        end(&client, job, outcome).await;
        // Distinct finish times, so "most recent first" is one order.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ids: Vec<JobId> = leased.iter().map(|j| j.lease.id).collect();
    let succeeded = all_pages(&client, JobState::Succeeded, 2).await;
    assert_eq!(succeeded, vec![ids[2], ids[1], ids[0]]);
    let dead = all_pages(&client, JobState::Dead, 2).await;
    assert_eq!(dead, vec![ids[4], ids[3], ready[0]]);
    // Cancelled jobs are listed with the dead, as what they are.
    let as_cancelled = client
        .list_jobs(Q, JobState::Cancelled, None, 10)
        .await
        .unwrap();
    let cancelled = as_cancelled.jobs.iter().find(|j| j.id == ready[0]).unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(
        client
            .list_jobs(Q, JobState::Dead, None, 0)
            .await
            .unwrap()
            .jobs
            .len(),
        0
    );
    let other = client
        .list_jobs("nothing-here", JobState::Ready, None, 10)
        .await
        .unwrap();
    assert!(other.jobs.is_empty() && other.next.is_none());
}

/// Deleting: a waiting job is cancelled then gone (its batch counts it as ended), an
/// ended one gone, a running one left alone, an unknown one not found; a purge empties a
/// state in bounded steps and refuses running jobs.
pub async fn jobs_are_deleted_and_states_purged<H: Harness>(h: &H) {
    let client = client(h).await;
    let running = echo(&client, "running").await;
    let leased = reserve(h, &client).await;
    assert_eq!(leased.len(), 1);
    let waiting = echo(&client, "waiting").await;
    let scheduled = client
        .enqueue(Echo { label: "s".into() })
        .delay(h.tick() * 100)
        .await
        .unwrap();
    let unknown = JobId::new();
    let answers = client
        .delete_jobs(Q, &[waiting, scheduled, running, unknown])
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![
            Deleted::Deleted,
            Deleted::Deleted,
            Deleted::Running,
            Deleted::NotFound
        ]
    );
    assert!(client.job(Q, waiting).await.unwrap().is_none());
    assert!(client.job(Q, scheduled).await.unwrap().is_none());
    let stats = client.stats(Q).await.unwrap();
    assert_eq!(
        (stats.ready, stats.scheduled, stats.active, stats.dead),
        (0, 0, 1, 0)
    );

    // Ended jobs: the running one fails for good, then is deleted.
    end(&client, &leased[0], failed(None)).await;
    assert_eq!(
        client.delete_jobs(Q, &[running]).await.unwrap(),
        vec![Deleted::Deleted]
    );
    assert!(client.job(Q, running).await.unwrap().is_none());

    // A batch member deleted while waiting counts as ended (not succeeded) in its batch.
    let (batch, members) = client
        .batch()
        .job(Echo { label: "m1".into() })
        .job(Echo { label: "m2".into() })
        .enqueue()
        .await
        .unwrap();
    client.delete_jobs(Q, &members[..1]).await.unwrap();
    let status = eventually(
        "the batch to count its deleted member",
        h.patience(),
        || {
            let client = client.clone();
            async move {
                let s = client.batch_status(batch).await.unwrap()?;
                (s.dead == 1).then_some(s)
            }
        },
    )
    .await;
    assert_eq!(status.succeeded, 0);

    // Purge: every dead job in bounded steps; running jobs are refused.
    for n in 0..7 {
        let id = echo(&client, &format!("d{n}")).await;
        client.cancel(Q, id).await.unwrap();
    }
    let dead_before = client.stats(Q).await.unwrap().dead;
    assert!(dead_before >= 7);
    assert_eq!(
        client.backend().purge(Q, JobState::Dead, 3).await.unwrap(),
        3
    );
    assert_eq!(
        client.purge(Q, JobState::Dead).await.unwrap(),
        dead_before - 3
    );
    assert_eq!(client.stats(Q).await.unwrap().dead, 0);
    assert!(matches!(
        client.purge(Q, JobState::Active).await,
        Err(BackendError::Refused(_))
    ));
    // The other member is still waiting: purging ready takes it too, and it never runs.
    assert_eq!(client.purge(Q, JobState::Ready).await.unwrap(), 1);
    assert!(reserve(h, &client).await.is_empty());
}

/// Retrying dead jobs by filter: only those that ended at or after the given time, then
/// all of them.
pub async fn dead_jobs_are_retried_by_time<H: Harness>(h: &H) {
    let client = client(h).await;
    let old = echo(&client, "old").await;
    let leased = reserve(h, &client).await;
    end(&client, &leased[0], failed(None)).await;
    let old_end = client
        .job(Q, old)
        .await
        .unwrap()
        .unwrap()
        .finished_at_ms
        .unwrap();
    tokio::time::sleep(h.tick()).await; // the next one ends at a later ms
    let recent = echo(&client, "recent").await;
    let leased = reserve(h, &client).await;
    end(&client, &leased[0], failed(None)).await;
    let recent_end = client
        .job(Q, recent)
        .await
        .unwrap()
        .unwrap()
        .finished_at_ms
        .unwrap();
    assert!(recent_end > old_end);

    assert_eq!(
        client.retry_dead_where(Q, Some(recent_end)).await.unwrap(),
        1
    );
    assert_eq!(
        client.job(Q, recent).await.unwrap().unwrap().state,
        JobState::Ready
    );
    assert_eq!(
        client.job(Q, old).await.unwrap().unwrap().state,
        JobState::Dead
    );
    assert_eq!(client.retry_dead_where(Q, None).await.unwrap(), 1);
    assert_eq!(client.stats(Q).await.unwrap().ready, 2);
    assert_eq!(client.retry_dead_where(Q, None).await.unwrap(), 0);
}

/// Ended attempts are counted per minute: successes, and failures whether retried or
/// dead; the list covers the minutes asked for, oldest first, the current one last.
pub async fn throughput_counts_ended_attempts_per_minute<H: Harness>(h: &H) {
    let client = client(h).await;
    for n in 0..4 {
        echo(&client, &format!("t{n}")).await;
    }
    let leased = reserve(h, &client).await;
    assert_eq!(leased.len(), 4);
    end(&client, &leased[0], Outcome::Succeeded { result: None }).await;
    end(&client, &leased[1], Outcome::Succeeded { result: None }).await;
    end(&client, &leased[2], failed(Some(h.tick() * 100))).await;
    end(&client, &leased[3], failed(None)).await;
    let minutes = client.throughput(Q, 5).await.unwrap();
    assert_eq!(minutes.len(), 5);
    assert!(
        minutes
            .windows(2)
            .all(|w| w[1].minute_ms == w[0].minute_ms + 60_000)
    );
    assert_eq!(minutes[4].minute_ms % 60_000, 0);
    // The four may straddle a minute's turn: count the last two.
    let (s, f) = minutes[3..]
        .iter()
        .fold((0, 0), |(s, f), m| (s + m.succeeded, f + m.failed));
    assert_eq!((s, f), (2, 2));
    assert_eq!(client.throughput(Q, 10_000).await.unwrap().len(), 60);

    // A lease that expires and is recovered counts as a stall.
    echo(&client, "stalls").await;
    let queues = vec![Q.to_owned()];
    let lost = client
        .backend()
        .reserve(&queues, 1, h.tick())
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);
    tokio::time::sleep(h.tick() * 2).await; // the lease running out is what is under test
    let recovered = client.backend().recover_expired(Q, 10).await.unwrap();
    assert_eq!(recovered.requeued, 1);
    let minutes = client.throughput(Q, 2).await.unwrap();
    assert_eq!(minutes.iter().map(|m| m.stalled).sum::<u64>(), 1);
    assert!(
        client
            .throughput("idle", 3)
            .await
            .unwrap()
            .iter()
            .all(|m| m.succeeded == 0)
    );
}

/// The store lists the queues it has seen, and the live workers: a registration beats
/// (the store stamps it), expires unless it beats again, and goes when removed.
pub async fn queues_and_live_workers_are_listed<H: Harness>(h: &H) {
    let client = client(h).await;
    echo(&client, "q").await;
    let queues = client.queues().await.unwrap();
    assert!(queues.contains(&Q.to_owned()), "{queues:?}");

    let mut info = WorkerInfo::new(
        "worker-a".into(),
        "host-1".into(),
        4242,
        vec!["served-only".into(), Q.into()],
        8,
    );
    info.running = 3;
    info.started_at_ms = 1;
    let backend = client.backend();
    backend
        .worker_beat(info.clone(), h.tick() * 100)
        .await
        .unwrap();
    let short = WorkerInfo::new("worker-b".into(), "host-2".into(), 7, vec![Q.into()], 1);
    backend.worker_beat(short, h.tick()).await.unwrap();
    let listed = client.workers().await.unwrap();
    let a = listed
        .iter()
        .find(|w| w.id == "worker-a")
        .expect("worker-a listed");
    assert_eq!(
        (a.host.as_str(), a.pid, a.concurrency, a.running),
        ("host-1", 4242, 8, 3)
    );
    assert_eq!(a.queues, info.queues);
    assert!(a.last_beat_ms > 0 && a.expires_at_ms > a.last_beat_ms);
    // A queue served by a live worker is a known queue too.
    assert!(
        client
            .queues()
            .await
            .unwrap()
            .contains(&"served-only".to_owned())
    );

    // worker-b stops beating: gone once its ttl passed.
    eventually("worker-b to expire", h.patience(), || {
        let client = client.clone();
        async move {
            tokio::time::sleep(h.tick() / 4).await;
            let ws = client.workers().await.unwrap();
            (!ws.iter().any(|w| w.id == "worker-b")).then_some(())
        }
    })
    .await;
    backend.worker_gone("worker-a").await.unwrap();
    assert!(client.workers().await.unwrap().is_empty());
}

/// Deleting waiting jobs that hold a uniqueness key, a limit key, or sit parked in a
/// paused batch leaves the queue consistent: the key is free again, the counts drop.
pub async fn deleted_waiting_jobs_give_back_their_flow_control<H: Harness>(h: &H) {
    use super::jobs::Keyed;
    use jobs_core::Unique;
    let client = client(h).await;
    let unique = client
        .enqueue(Echo { label: "u".into() })
        .unique(Unique::while_waiting())
        .await
        .unwrap();
    let keyed = client
        .enqueue(Keyed {
            label: "k".into(),
            key: "host-1".into(),
            ms: 1,
        })
        .await
        .unwrap();
    let (batch, members) = client
        .batch()
        .job(Echo { label: "m1".into() })
        .enqueue()
        .await
        .unwrap();
    assert!(client.pause_batch(batch).await.unwrap());
    let answers = client
        .delete_jobs(Q, &[unique, keyed, members[0]])
        .await
        .unwrap();
    assert_eq!(answers, vec![Deleted::Deleted; 3]);
    let s = client.stats(Q).await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.dead), (0, 0, 0), "{s:?}");
    // The uniqueness key is free again.
    client
        .enqueue(Echo { label: "u".into() })
        .unique(Unique::while_waiting())
        .await
        .expect("the deleted holder no longer holds its key");
    // The key's group still works.
    client
        .enqueue(Keyed {
            label: "k2".into(),
            key: "host-1".into(),
            ms: 1,
        })
        .await
        .unwrap();
    let got = reserve(h, &client).await;
    assert_eq!(
        got.len(),
        2,
        "the new unique job and the new keyed job start"
    );
}

/// A registration is listed as it was sent: no queues, and numbers past 14 digits (a
/// store that decoded and re-encoded it as JSON could change both).
pub async fn worker_registrations_are_kept_as_sent<H: Harness>(h: &H) {
    let client = client(h).await;
    let mut info = WorkerInfo::new("worker-e".into(), "host-1".into(), 1, vec![], 1);
    info.started_at_ms = 1_700_000_000_123;
    client
        .backend()
        .worker_beat(info, h.tick() * 100)
        .await
        .unwrap();
    let listed = client.workers().await.unwrap();
    assert_eq!(listed.len(), 1, "listed: {listed:?}");
    assert_eq!(listed[0].started_at_ms, 1_700_000_000_123);
    assert!(listed[0].queues.is_empty());
    let mut info = WorkerInfo::new(
        "worker-n".into(),
        "host-1".into(),
        1,
        vec![Q.into()],
        123_456_789_012_345,
    );
    info.started_at_ms = 1_700_000_000_123;
    client
        .backend()
        .worker_beat(info, h.tick() * 100)
        .await
        .unwrap();
    let listed = client.workers().await.unwrap();
    let n = listed
        .iter()
        .find(|w| w.id == "worker-n")
        .expect("worker-n listed");
    assert_eq!(n.concurrency, 123_456_789_012_345);
}

/// Paging active jobs while a listed job renews its lease (workers renew every third of
/// it): the next page still holds the jobs after the place the cursor names.
pub async fn pages_go_on_from_the_cursor_place_when_its_job_moved<H: Harness>(h: &H) {
    let client = client(h).await;
    for n in 0..4 {
        echo(&client, &format!("a{n}")).await;
        tokio::time::sleep(h.tick()).await;
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        let queues = vec![Q.to_owned()];
        got.extend(
            client
                .backend()
                .reserve(&queues, 1, lease(h))
                .await
                .unwrap(),
        );
        tokio::time::sleep(h.tick()).await;
    }
    assert_eq!(got.len(), 4);
    let first = client
        .list_jobs(Q, JobState::Active, None, 2)
        .await
        .unwrap();
    let seen: Vec<JobId> = first.jobs.iter().map(|j| j.id).collect();
    // The cursor's job renews its lease: it moves to the end of the active order.
    tokio::time::sleep(h.tick()).await;
    let last = got.iter().find(|r| r.lease.id == seen[1]).unwrap();
    client
        .backend()
        .renew(std::slice::from_ref(&last.lease), lease(h) * 2)
        .await
        .unwrap();
    let second = client
        .list_jobs(Q, JobState::Active, first.next, 2)
        .await
        .unwrap();
    let rest: Vec<JobId> = second.jobs.iter().map(|j| j.id).collect();
    let others: Vec<JobId> = got
        .iter()
        .map(|r| r.lease.id)
        .filter(|id| !seen.contains(id))
        .collect();
    for id in &others {
        assert!(rest.contains(id), "{id} skipped: second page {rest:?}");
    }
}

/// A purge of ready jobs takes everything `stats` counts as ready: the queue's line, the
/// jobs waiting under a limit key, and the members parked in a paused batch.
pub async fn purge_of_ready_takes_every_waiting_job<H: Harness>(h: &H) {
    use super::jobs::Keyed;
    let client = client(h).await;
    client
        .set_limits(Q, jobs_core::QueueLimits::new().per_key(1))
        .await
        .unwrap();
    echo(&client, "plain").await;
    for n in 0..3 {
        let keyed = Keyed {
            label: format!("k{n}"),
            key: "host-1".into(),
            ms: 1,
        };
        client.enqueue(keyed).await.unwrap();
    }
    // One keyed job runs: its key is at its limit, its other jobs wait behind it.
    let queues = vec![Q.to_owned()];
    let running = client
        .backend()
        .reserve(&queues, 2, lease(h))
        .await
        .unwrap();
    assert_eq!(running.len(), 2);
    let (batch, _) = client
        .batch()
        .job(Echo { label: "m1".into() })
        .job(Echo { label: "m2".into() })
        .enqueue()
        .await
        .unwrap();
    assert!(client.pause_batch(batch).await.unwrap());
    // A reservation meets the paused members and parks them.
    assert!(reserve(h, &client).await.is_empty());
    let before = client.stats(Q).await.unwrap();
    assert_eq!(before.ready, 4, "{before:?}");
    assert_eq!(client.purge(Q, JobState::Ready).await.unwrap(), 4);
    let after = client.stats(Q).await.unwrap();
    assert_eq!((after.ready, after.active), (0, 2), "{after:?}");
    // The running one ends; nothing is left to start, not even when the batch resumes.
    let keyed = running
        .iter()
        .find(|r| r.name == "keyed")
        .expect("a keyed job ran");
    end(&client, keyed, Outcome::Succeeded { result: None }).await;
    assert!(client.resume_batch(batch).await.unwrap());
    assert!(reserve(h, &client).await.is_empty());
}
