//! Each Lua script of the Redis backend, called on its own: happy path, empty queue, wrong
//! state, and the NOSCRIPT fallback after `SCRIPT FLUSH`. Plus what the key layout
//! promises: every key under the prefix and inside the queue's hash tag.

use std::time::Duration;

use jobs_core::backend::{Finish, LeaseStatus, NewJob, Outcome, RunAt};
use jobs_core::{Backend, BackendError, JobId, JobState};
use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;

const Q: &str = "disks";
const LEASE: Duration = Duration::from_secs(30);

async fn setup() -> (RedisServer, RedisBackend) {
    let server = RedisServer::start().expect("start redis-server");
    let backend = RedisBackend::builder(&server.url())
        .prefix("t")
        .connect()
        .await
        .expect("connect");
    (server, backend)
}

fn job(run_at: RunAt) -> NewJob {
    NewJob {
        id: JobId::new(),
        name: "format_disk".into(),
        queue: Q.into(),
        payload: br#"{"host":"node-123","device":"/dev/sdb"}"#.to_vec(),
        priority: 0,
        run_at,
        max_attempts: 3,
        batch: None,
        flow: Default::default(),
    }
}

fn queues() -> Vec<String> {
    vec![Q.to_owned()]
}

#[tokio::test]
async fn enqueue_stores_ready_or_scheduled_and_skips_known_ids() {
    let (_server, b) = setup().await;
    let now = job(RunAt::Now);
    let later = job(RunAt::After(Duration::from_secs(3600)));
    b.enqueue(vec![now.clone(), later.clone()]).await.unwrap();
    b.enqueue(vec![now.clone()]).await.unwrap(); // same id again: nothing happens
    let stats = b.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.scheduled), (1, 1));
    let info = b.job(Q, now.id).await.unwrap().unwrap();
    assert_eq!(
        (
            info.state,
            info.name.as_str(),
            info.attempts,
            info.max_attempts
        ),
        (JobState::Ready, "format_disk", 0, 3)
    );
    assert_eq!(info.payload, now.payload);
    let info = b.job(Q, later.id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Scheduled);
    let run_at = info.run_at_ms.unwrap();
    assert!(
        run_at >= info.created_at_ms + 3_599_000,
        "{run_at} vs {}",
        info.created_at_ms
    );
}

#[tokio::test]
async fn reserve_on_an_empty_queue_returns_nothing_and_changes_nothing() {
    let (server, b) = setup().await;
    assert!(b.reserve(&queues(), 10, LEASE).await.unwrap().is_empty());
    assert!(
        b.reserve(&["never-used".to_owned()], 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        server.command(&["DBSIZE"]).unwrap(),
        ":0",
        "an empty reservation writes nothing"
    );
}

#[tokio::test]
async fn reserve_leases_with_a_server_clock_deadline_and_a_fresh_token() {
    let (server, b) = setup().await;
    let jobs = vec![job(RunAt::Now), job(RunAt::Now), job(RunAt::Now)];
    b.enqueue(jobs.clone()).await.unwrap();
    let got = b.reserve(&queues(), 2, LEASE).await.unwrap();
    assert_eq!(
        got.iter().map(|r| r.lease.id).collect::<Vec<_>>(),
        [jobs[0].id, jobs[1].id]
    );
    assert_ne!(got[0].lease.token, got[1].lease.token);
    assert_eq!(
        (got[0].attempt, got[0].deliveries, got[0].max_attempts),
        (1, 1, 3)
    );
    assert_eq!(got[0].payload, jobs[0].payload);

    let time = server.command(&["TIME"]).unwrap();
    let secs: u64 = time.lines().next().unwrap().parse().unwrap();
    let lease_end = got[0].lease.expires_at_ms;
    let server_now = secs * 1000;
    assert!(
        lease_end > server_now + 28_000 && lease_end <= server_now + 31_000,
        "{lease_end} vs {server_now}"
    );
    let stats = b.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.active), (1, 2));
}

#[tokio::test]
async fn renew_extends_held_leases_and_refuses_others() {
    let (_server, b) = setup().await;
    let jobs = vec![job(RunAt::Now), job(RunAt::Now)];
    b.enqueue(jobs.clone()).await.unwrap();
    let held = b
        .reserve(&queues(), 1, Duration::from_secs(1))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let mut forged = held.lease.clone();
    forged.token += 1000;
    let mut not_leased = held.lease.clone();
    not_leased.id = jobs[1].id; // still ready
    let mut unknown = held.lease.clone();
    unknown.id = JobId::new();
    let got = b
        .renew(&[held.lease.clone(), forged, not_leased, unknown], LEASE)
        .await
        .unwrap();
    let LeaseStatus::Held { expires_at_ms } = got[0] else {
        panic!("{got:?}")
    };
    assert!(expires_at_ms > held.lease.expires_at_ms + 20_000);
    assert_eq!(got[1..], [LeaseStatus::Stale; 3]);
    assert_eq!(
        b.job(Q, jobs[1].id).await.unwrap().unwrap().state,
        JobState::Ready
    );
}

#[tokio::test]
async fn finish_in_the_wrong_state_changes_nothing() {
    let (_server, b) = setup().await;
    let ready = job(RunAt::Now);
    b.enqueue(vec![ready.clone()]).await.unwrap();
    let lease = jobs_core::backend::Lease {
        queue: Q.into(),
        id: ready.id,
        token: 1,
        expires_at_ms: 0,
        batch: None,
        limit_key: None,
    };
    let outcomes = [
        Outcome::Succeeded { result: None },
        Outcome::Failed {
            error: "x".into(),
            retry_after: None,
        },
        Outcome::Snooze {
            after: Duration::ZERO,
        },
        Outcome::Release,
    ];
    let items = outcomes
        .into_iter()
        .map(|outcome| Finish {
            lease: lease.clone(),
            outcome,
        })
        .collect();
    assert_eq!(b.finish(items).await.unwrap(), [LeaseStatus::Stale; 4]);
    let info = b.job(Q, ready.id).await.unwrap().unwrap();
    assert_eq!(
        (info.state, info.attempts, info.last_error),
        (JobState::Ready, 0, None)
    );
}

#[tokio::test]
async fn finish_applies_each_outcome() {
    let (_server, b) = setup().await;
    let jobs: Vec<_> = (0..5).map(|_| job(RunAt::Now)).collect();
    b.enqueue(jobs.clone()).await.unwrap();
    let got = b.reserve(&queues(), 5, LEASE).await.unwrap();
    let outcomes = [
        Outcome::Succeeded {
            result: Some(b"42".to_vec()),
        },
        Outcome::Failed {
            error: "disk busy".into(),
            retry_after: Some(Duration::from_secs(60)),
        },
        Outcome::Failed {
            error: "not a disk".into(),
            retry_after: None,
        },
        Outcome::Snooze {
            after: Duration::from_secs(60),
        },
        Outcome::Release,
    ];
    let items = got
        .iter()
        .zip(outcomes)
        .map(|(r, outcome)| Finish {
            lease: r.lease.clone(),
            outcome,
        })
        .collect();
    let status = b.finish(items).await.unwrap();
    assert!(
        status.iter().all(|s| matches!(s, LeaseStatus::Held { .. })),
        "{status:?}"
    );

    let info = |i: usize| {
        let b = b.clone();
        let id = jobs[i].id;
        async move { b.job(Q, id).await.unwrap().unwrap() }
    };
    let ok = info(0).await;
    assert_eq!(
        (ok.state, ok.result.as_deref()),
        (JobState::Succeeded, Some(&b"42"[..]))
    );
    assert!(ok.finished_at_ms.is_some());
    let retry = info(1).await;
    assert_eq!((retry.state, retry.attempts), (JobState::Scheduled, 1));
    assert_eq!(retry.last_error.as_deref(), Some("disk busy"));
    let dead = info(2).await;
    assert_eq!(
        (dead.state, dead.last_error.as_deref()),
        (JobState::Dead, Some("not a disk"))
    );
    let snoozed = info(3).await;
    assert_eq!(
        (snoozed.state, snoozed.attempts, snoozed.deliveries),
        (JobState::Scheduled, 0, 1)
    );
    let released = info(4).await;
    assert_eq!(
        (released.state, released.attempts, released.deliveries),
        (JobState::Ready, 0, 1)
    );
    let stats = b.stats(Q).await.unwrap();
    assert_eq!(
        (
            stats.succeeded,
            stats.dead,
            stats.scheduled,
            stats.ready,
            stats.active
        ),
        (1, 1, 2, 1, 0)
    );
}

#[tokio::test]
async fn recover_and_retry_dead_with_nothing_to_do() {
    let (_server, b) = setup().await;
    let ready = job(RunAt::Now);
    b.enqueue(vec![ready.clone()]).await.unwrap();
    assert_eq!(b.recover_expired(Q, 10).await.unwrap(), Default::default());
    assert_eq!(
        b.retry_dead(Q, &[ready.id, JobId::new()]).await.unwrap(),
        0,
        "not dead: not moved"
    );
    assert!(b.dead_jobs(Q, 0, 10).await.unwrap().is_empty());
    assert_eq!(b.job(Q, JobId::new()).await.unwrap(), None);
    assert_eq!(
        b.job(Q, ready.id).await.unwrap().unwrap().state,
        JobState::Ready
    );
}

#[tokio::test]
async fn recover_returns_expired_leases() {
    let (_server, b) = setup().await;
    let j = job(RunAt::Now);
    b.enqueue(vec![j.clone()]).await.unwrap();
    b.reserve(&queues(), 1, Duration::from_millis(1))
        .await
        .unwrap();
    let recovered =
        jobs_tests::support::eventually("the lease to expire", Duration::from_secs(10), || async {
            let r = b.recover_expired(Q, 10).await.unwrap();
            (r.requeued == 1).then_some(r)
        })
        .await;
    assert_eq!(recovered.dead, 0);
    let info = b.job(Q, j.id).await.unwrap().unwrap();
    assert_eq!(
        (info.state, info.stalls, info.attempts),
        (JobState::Ready, 1, 1)
    );
}

#[tokio::test]
async fn every_script_reloads_after_script_flush() {
    let (server, b) = setup().await;
    let jobs = vec![job(RunAt::Now), job(RunAt::Now)];
    let flush = || assert_eq!(server.command(&["SCRIPT", "FLUSH"]).unwrap(), "+OK");
    flush();
    b.enqueue(jobs.clone()).await.unwrap();
    flush();
    let got = b.reserve(&queues(), 2, LEASE).await.unwrap();
    assert_eq!(got.len(), 2);
    flush();
    assert!(matches!(
        b.renew(&[got[0].lease.clone()], LEASE).await.unwrap()[..],
        [LeaseStatus::Held { .. }]
    ));
    flush();
    let fail = Outcome::Failed {
        error: "boom".into(),
        retry_after: None,
    };
    b.finish(vec![Finish {
        lease: got[0].lease.clone(),
        outcome: fail,
    }])
    .await
    .unwrap();
    flush();
    assert_eq!(
        b.job(Q, jobs[0].id).await.unwrap().unwrap().state,
        JobState::Dead
    );
    flush();
    assert_eq!(b.dead_jobs(Q, 0, 10).await.unwrap().len(), 1);
    flush();
    assert_eq!(b.retry_dead(Q, &[jobs[0].id]).await.unwrap(), 1);
    flush();
    assert_eq!(b.recover_expired(Q, 10).await.unwrap(), Default::default());
}

#[tokio::test]
async fn every_key_is_under_the_prefix_and_the_queue_hash_tag_but_the_queue_list() {
    let (server, b) = setup().await;
    let jobs: Vec<_> = (0..4).map(|_| job(RunAt::Now)).collect();
    b.enqueue(jobs.clone()).await.unwrap();
    b.enqueue(vec![job(RunAt::After(Duration::from_secs(60)))])
        .await
        .unwrap();
    let got = b.reserve(&queues(), 3, LEASE).await.unwrap();
    let ok = Finish {
        lease: got[0].lease.clone(),
        outcome: Outcome::Succeeded { result: None },
    };
    let dead = Finish {
        lease: got[1].lease.clone(),
        outcome: Outcome::Failed {
            error: "x".into(),
            retry_after: None,
        },
    };
    b.finish(vec![ok, dead]).await.unwrap();
    let keys = server.command(&["KEYS", "*"]).unwrap();
    let keys: Vec<_> = keys.lines().collect();
    assert!(keys.len() >= 7, "{keys:?}");
    for key in keys {
        // The store's queue list is the one key outside the queue's tag.
        assert!(key.starts_with("t:{disks}:") || key == "t:queues", "{key}");
    }
}

#[tokio::test]
async fn a_ready_job_without_a_readable_record_is_skipped_not_looped_on() {
    let (server, b) = setup().await;
    let missing = JobId::new();
    let corrupt = JobId::new();
    let good = job(RunAt::Now);
    b.enqueue(vec![good.clone()]).await.unwrap();
    // Entries edited by hand: a ready id without a record, one with a garbage record.
    for id in [missing, corrupt] {
        server
            .command(&["ZADD", "t:{disks}:ready", "0", &id.to_string()])
            .unwrap();
    }
    server
        .command(&[
            "HSET",
            "t:{disks}:jobs",
            &corrupt.to_string(),
            "not msgpack",
        ])
        .unwrap();

    let got = b.reserve(&queues(), 10, LEASE).await.unwrap();
    assert_eq!(
        got.iter().map(|r| r.lease.id).collect::<Vec<_>>(),
        [good.id]
    );
    assert_eq!(b.stats(Q).await.unwrap().ready, 0);
    let err = b.job(Q, corrupt).await.unwrap_err();
    assert!(matches!(err, BackendError::Corrupt(_)), "{err}");
    assert_eq!(
        b.stats(Q).await.unwrap().dead,
        1,
        "the corrupt record is kept in dead for inspection"
    );
}

#[tokio::test]
async fn a_key_of_the_wrong_type_is_reported_as_corrupt() {
    let (server, b) = setup().await;
    server
        .command(&["SET", "t:{disks}:ready", "I am a string"])
        .unwrap();
    let err = b.enqueue(vec![job(RunAt::Now)]).await.unwrap_err();
    assert!(matches!(err, BackendError::Corrupt(_)), "{err}");
    assert!(
        err.to_string()
            .contains("WRONGTYPE key t:{disks}:ready holds a string"),
        "{err}"
    );
    assert_eq!(
        server.command(&["EXISTS", "t:{disks}:jobs"]).unwrap(),
        ":0",
        "nothing half-written"
    );
}

/// Server-side command counts for one job's happy path (enqueue, reserve, succeed), from
/// `INFO commandstats`. Printed for the record; the script count is the contract.
#[tokio::test]
async fn happy_path_costs_one_script_call_per_step() {
    let (server, b) = setup().await;
    let j = job(RunAt::Now);
    // Warm the pool so connection set-up (HELLO, CLIENT SETINFO...) is not counted.
    b.stats(Q).await.unwrap();
    assert_eq!(server.command(&["CONFIG", "RESETSTAT"]).unwrap(), "+OK");
    b.enqueue(vec![j]).await.unwrap();
    let got = b.reserve(&queues(), 1, LEASE).await.unwrap().pop().unwrap();
    let done = Finish {
        lease: got.lease,
        outcome: Outcome::Succeeded {
            result: Some(b"null".to_vec()),
        },
    };
    b.finish(vec![done]).await.unwrap();

    let stats = server.command(&["INFO", "commandstats"]).unwrap();
    let calls = |name: &str| -> u64 {
        stats
            .lines()
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .and_then(|l| l.split("calls=").nth(1))
            .and_then(|v| v.split(',').next())
            .map_or(0, |v| v.parse().unwrap())
    };
    let total: u64 = stats
        .lines()
        .filter_map(|l| l.split("calls=").nth(1))
        .filter_map(|v| v.split(',').next()?.parse::<u64>().ok())
        .sum();
    println!(
        "happy path commands: {}",
        stats
            .lines()
            .filter(|l| l.starts_with("cmdstat_"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    assert_eq!(calls("evalsha"), 3, "{stats}");
    assert_eq!(calls("eval"), 0, "scripts are called by SHA: {stats}");
    println!("total commands executed (including those inside scripts and INFO itself): {total}");
}

#[tokio::test]
async fn a_failing_queue_does_not_strand_jobs_leased_from_earlier_queues() {
    let (server, b) = setup().await;
    b.enqueue(vec![job(RunAt::Now), job(RunAt::Now)])
        .await
        .unwrap();
    // The second queue's ready set is not ours: its reservation fails.
    server
        .command(&["SET", "t:{broken}:ready", "not a zset"])
        .unwrap();
    let both = [Q.to_owned(), "broken".to_owned()];
    let got = b.reserve(&both, 10, LEASE).await.unwrap();
    assert_eq!(
        got.len(),
        2,
        "the jobs leased from the first queue reach the caller"
    );
    // With nothing leased before it, the failure is reported.
    let err = b
        .reserve(&["broken".to_owned()], 10, LEASE)
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Corrupt(_)), "{err}");
}
