//! Cases that drive the backend contract directly, playing the worker's part by hand.

use std::time::Duration;

use jobs_core::backend::{Finish, LeaseStatus, Outcome, Reserved};
use jobs_core::{Backend, Client, JobId, JobState, Retention};

use super::jobs::*;
use super::{Harness, StoreConfig, client, lease};
use crate::support::eventually;

fn queues() -> Vec<String> {
    vec![Q.to_owned()]
}

/// Reserves until a job comes out (after a lease expiry, say), or fails after patience.
async fn reserve_eventually<H: Harness>(h: &H, client: &Client<H::Backend>) -> Reserved {
    eventually("a job to be reservable", h.patience(), || async {
        client
            .backend()
            .reserve(&queues(), 1, lease(h))
            .await
            .unwrap()
            .pop()
    })
    .await
}

fn succeeded(result: &[u8]) -> Outcome {
    Outcome::Succeeded {
        result: Some(result.to_vec()),
    }
}

/// After a lease expires and the job is handed out again, the first holder's token is
/// refused for renew and finish, and cannot overwrite what the second holder did.
pub async fn stale_token_rejected_after_redelivery<H: Harness>(h: &H) {
    let client = client(h).await;
    let backend = client.backend();
    let id = client.enqueue(Echo { label: "x".into() }).await.unwrap();
    let first = backend.reserve(&queues(), 10, lease(h)).await.unwrap();
    assert_eq!(first.len(), 1);
    let first = first.into_iter().next().unwrap();
    assert_eq!(
        (first.lease.id, first.attempt, first.deliveries),
        (id, 1, 1)
    );
    assert!(
        backend
            .reserve(&queues(), 10, lease(h))
            .await
            .unwrap()
            .is_empty(),
        "leased to one holder only"
    );

    let second = reserve_eventually(h, &client).await;
    assert_eq!(
        (second.lease.id, second.attempt, second.deliveries),
        (id, 2, 2)
    );
    assert_ne!(first.lease.token, second.lease.token);
    let info = client.job(Q, id).await.unwrap().unwrap();
    assert_eq!((info.state, info.stalls), (JobState::Active, 1));

    let stale = backend
        .renew(std::slice::from_ref(&first.lease), lease(h))
        .await
        .unwrap();
    assert_eq!(stale, [LeaseStatus::Stale]);
    let stale = backend
        .finish(vec![Finish {
            lease: first.lease.clone(),
            outcome: succeeded(b"\"stale\""),
        }])
        .await;
    assert_eq!(stale.unwrap(), [LeaseStatus::Stale]);
    let info = client.job(Q, id).await.unwrap().unwrap();
    assert_eq!(
        info.state,
        JobState::Active,
        "a stale finish changes nothing"
    );

    let done = backend
        .finish(vec![Finish {
            lease: second.lease.clone(),
            outcome: succeeded(b"\"fresh\""),
        }])
        .await;
    assert!(matches!(done.unwrap()[..], [LeaseStatus::Held { .. }]));
    let late = Outcome::Failed {
        error: "late".into(),
        retry_after: Some(Duration::ZERO),
    };
    let late = backend
        .finish(vec![Finish {
            lease: first.lease,
            outcome: late,
        }])
        .await
        .unwrap();
    assert_eq!(late, [LeaseStatus::Stale]);
    let info = client.job(Q, id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Succeeded);
    assert_eq!(info.result.as_deref(), Some(&b"\"fresh\""[..]));
    assert_eq!(info.last_error, None);
}

/// A job whose lease keeps expiring (it kills its worker, say) is dead after `max_stalls`.
pub async fn too_many_stalls_is_dead<H: Harness>(h: &H) {
    let config = StoreConfig::default().with_max_stalls(2);
    let client = Client::new(h.backend(config).await);
    let id = client
        .enqueue(Echo {
            label: "crasher".into(),
        })
        .await
        .unwrap();
    let first = reserve_eventually(h, &client).await;
    let second = reserve_eventually(h, &client).await;
    assert_eq!((first.deliveries, second.deliveries), (1, 2));
    let info = eventually("the job to be dead", h.patience(), || async {
        let _ = client.backend().recover_expired(Q, 10).await.unwrap();
        client
            .job(Q, id)
            .await
            .unwrap()
            .filter(|i| i.state == JobState::Dead)
    })
    .await;
    assert_eq!(info.stalls, 2);
    assert!(
        info.last_error
            .as_deref()
            .unwrap()
            .contains("lease expired 2 time(s)"),
        "{:?}",
        info.last_error
    );
    assert!(
        client
            .backend()
            .reserve(&queues(), 1, lease(h))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A renewed lease outlives its original end; nobody else can reserve the job meanwhile.
pub async fn renewal_keeps_a_lease<H: Harness>(h: &H) {
    let client = client(h).await;
    let backend = client.backend();
    let id = client.enqueue(Echo { label: "r".into() }).await.unwrap();
    let held = backend
        .reserve(&queues(), 1, lease(h))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let mut expires = held.lease.expires_at_ms;
    for _ in 0..6 {
        tokio::time::sleep(h.tick()).await; // time passing is what is under test
        let renewed = backend
            .renew(std::slice::from_ref(&held.lease), lease(h))
            .await
            .unwrap();
        let [LeaseStatus::Held { expires_at_ms }] = renewed[..] else {
            panic!("lost the lease: {renewed:?}")
        };
        assert!(expires_at_ms >= expires);
        expires = expires_at_ms;
        assert!(
            backend
                .reserve(&queues(), 1, lease(h))
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(backend.recover_expired(Q, 10).await.unwrap().requeued, 0);
    let info = client.job(Q, id).await.unwrap().unwrap();
    assert_eq!(
        (info.state, info.stalls, info.lease_expires_at_ms),
        (JobState::Active, 0, Some(expires))
    );
}

/// Enqueueing an id that is stored does nothing: a retried enqueue makes no duplicate.
pub async fn enqueue_with_same_id_is_idempotent<H: Harness>(h: &H) {
    let client = client(h).await;
    let id = JobId::new();
    for _ in 0..3 {
        assert_eq!(
            client
                .enqueue(Echo {
                    label: "once".into()
                })
                .id(id)
                .await
                .unwrap(),
            id
        );
    }
    assert_eq!(client.stats(Q).await.unwrap().ready, 1);
}

/// A bulk enqueue stores every job, ready in order.
pub async fn enqueue_many_stores_all<H: Harness>(h: &H) {
    let client = client(h).await;
    let ids = client
        .enqueue_many((0..250).map(|i| Echo {
            label: format!("{i}"),
        }))
        .await
        .unwrap();
    assert_eq!(ids.len(), 250);
    assert_eq!(client.stats(Q).await.unwrap().ready, 250);
    let got = client
        .backend()
        .reserve(&queues(), 300, lease(h))
        .await
        .unwrap();
    assert_eq!(got.iter().map(|r| r.lease.id).collect::<Vec<_>>(), ids);
}

/// Succeeded jobs beyond the retention count are deleted, oldest first.
pub async fn retention_trims_succeeded<H: Harness>(h: &H) {
    let retention = Retention::DEFAULT.succeeded(2, Duration::from_secs(3600));
    let config = StoreConfig::default().with_retention(retention);
    let client = Client::new(h.backend(config).await);
    let ids = client
        .enqueue_many((0..5).map(|i| Echo {
            label: format!("{i}"),
        }))
        .await
        .unwrap();
    for _ in 0..5 {
        let job = client
            .backend()
            .reserve(&queues(), 1, lease(h))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let done = client
            .backend()
            .finish(vec![Finish {
                lease: job.lease,
                outcome: succeeded(b"null"),
            }])
            .await;
        assert!(matches!(done.unwrap()[..], [LeaseStatus::Held { .. }]));
    }
    assert_eq!(client.stats(Q).await.unwrap().succeeded, 2);
    assert!(
        client.job(Q, ids[0]).await.unwrap().is_none(),
        "oldest trimmed"
    );
    assert!(
        client.job(Q, ids[4]).await.unwrap().is_some(),
        "newest kept"
    );
}

/// The dead set is capped: beyond the limit the oldest dead jobs are deleted.
pub async fn dead_set_is_capped<H: Harness>(h: &H) {
    let retention = Retention::DEFAULT.dead(2, Duration::from_secs(3600));
    let config = StoreConfig::default().with_retention(retention);
    let client = Client::new(h.backend(config).await);
    let ids = client
        .enqueue_many((0..4).map(|i| Echo {
            label: format!("{i}"),
        }))
        .await
        .unwrap();
    for _ in 0..4 {
        let job = client
            .backend()
            .reserve(&queues(), 1, lease(h))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let outcome = Outcome::Failed {
            error: "no".into(),
            retry_after: None,
        };
        client
            .backend()
            .finish(vec![Finish {
                lease: job.lease,
                outcome,
            }])
            .await
            .unwrap();
    }
    assert_eq!(client.stats(Q).await.unwrap().dead, 2);
    let dead: Vec<_> = client
        .dead_jobs(Q, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        dead,
        [ids[3], ids[2]],
        "newest first; the oldest were deleted"
    );
    assert!(client.job(Q, ids[0]).await.unwrap().is_none());
}

/// Many jobs are looked up in one call, in order, in every state; a running job shows its
/// lease and the delivery under way.
pub async fn jobs_are_looked_up_in_any_state<H: Harness>(h: &H) {
    let client = client(h).await;
    let echo = |label: &str| Echo {
        label: label.into(),
    };
    let running = client.enqueue(echo("running")).await.unwrap();
    let got = client
        .backend()
        .reserve(&queues(), 1, lease(h))
        .await
        .unwrap();
    assert_eq!(got[0].lease.id, running);
    let ready = client.enqueue(echo("ready")).await.unwrap();
    let later = client
        .enqueue(echo("later"))
        .delay(Duration::from_secs(3600))
        .await
        .unwrap();
    let unknown = JobId::new();
    let found = client
        .jobs(Q, &[later, unknown, running, ready])
        .await
        .unwrap();
    let states: Vec<_> = found.iter().map(|i| i.as_ref().map(|i| i.state)).collect();
    assert_eq!(
        states,
        [
            Some(JobState::Scheduled),
            None,
            Some(JobState::Active),
            Some(JobState::Ready)
        ]
    );
    let active = found[2].as_ref().unwrap();
    assert_eq!(active.lease_expires_at_ms, Some(got[0].lease.expires_at_ms));
    assert_eq!((active.attempts, active.deliveries), (1, 1));
    assert_eq!(client.stats(Q).await.unwrap().orphaned, 0);
}

/// A healthy queue has no job in no state: the orphan count is 0 and a sweep moves nothing,
/// whatever states its jobs are in.
pub async fn orphan_sweep_moves_nothing_on_a_healthy_queue<H: Harness>(h: &H) {
    let client = client(h).await;
    let echo = |label: &str| Echo {
        label: label.into(),
    };
    client.enqueue(echo("ready")).await.unwrap();
    client
        .enqueue(echo("later"))
        .delay(Duration::from_secs(3600))
        .await
        .unwrap();
    client.enqueue(echo("running")).await.unwrap();
    let got = client
        .backend()
        .reserve(&queues(), 1, lease(h))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(client.sweep_orphans(Q).await.unwrap(), 0);
    let stats = client.stats(Q).await.unwrap();
    assert_eq!(
        (stats.ready, stats.scheduled, stats.active, stats.orphaned),
        (1, 1, 1, 0)
    );
}
