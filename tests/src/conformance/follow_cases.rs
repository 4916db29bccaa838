//! Following the work: lifecycle events, resumable subscriptions, waiting for an outcome,
//! typed results.

use std::collections::HashMap;
use std::time::Duration;

use jobs_core::{Client, Event, EventKind, JobId, JobOutcome, JobState, Progress, WaitError};

use super::jobs::{Echo, Refuse, Reporter};
use super::{Harness, StoreConfig, client, start_worker};
use crate::support::Recorder;

const Q: &str = "suite";

/// Reads events until `done` says the collection is complete, or fails after `patience`.
async fn collect<B: jobs_core::Backend>(
    sub: &mut jobs_core::Subscription<B>,
    patience: Duration,
    mut done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + patience;
    while !done(&seen) {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(event) => seen.push(event.expect("read events")),
            Err(_) => panic!("events so far: {seen:#?}"),
        }
    }
    seen
}

fn kinds_of(events: &[Event], job: JobId) -> Vec<&'static str> {
    events
        .iter()
        .filter(|e| e.job == job)
        .map(|e| e.kind.name())
        .collect()
}

/// Each transition is an event, in order, carrying errors and reasons.
pub async fn events_follow_the_lifecycle<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let mut sub = client.subscribe(Q, None);
    let ok = client.enqueue(Echo { label: "ok".into() }).await.unwrap();
    let refused = client.enqueue(Refuse { label: "no".into() }).await.unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let events = collect(&mut sub, h.patience(), |seen| {
        seen.iter().filter(|e| e.is_final()).count() == 2
    })
    .await;
    worker.stop().await.unwrap();
    assert_eq!(kinds_of(&events, ok), ["enqueued", "started", "succeeded"]);
    assert_eq!(
        kinds_of(&events, refused),
        ["enqueued", "started", "failed", "dead"]
    );
    let dead = events
        .iter()
        .find(|e| e.job == refused && e.is_final())
        .unwrap();
    assert!(
        matches!(&dead.kind, EventKind::Dead { reason } if reason.contains("disk is not empty")),
        "{dead:?}"
    );
    // Cursors increase strictly, and times come from the backend's clock.
    for pair in events.windows(2) {
        assert!(pair[0].cursor < pair[1].cursor, "{pair:#?}");
        assert!(pair[0].at_ms() <= pair[1].at_ms());
    }
}

/// A subscription resumes exactly after the last event it handled, also in the middle
/// of one stream entry (the events of one enqueue call share an entry).
pub async fn events_resume_after_a_cursor<H: Harness>(h: &H) {
    let client = client(h).await;
    let ids = client
        .enqueue_many((0..3).map(|i| Echo {
            label: format!("e{i}"),
        }))
        .await
        .unwrap();
    let mut sub = client.subscribe(Q, None);
    let first = sub.next().await.unwrap();
    assert_eq!((first.job, &first.kind), (ids[0], &EventKind::Enqueued));
    let cursor = sub.cursor().cloned().unwrap();
    assert_eq!(cursor, first.cursor);
    // As text and back, as an application would store it.
    let cursor = cursor.to_string().parse().unwrap();
    drop(sub);

    let later = client
        .enqueue(Echo {
            label: "later".into(),
        })
        .await
        .unwrap();
    let mut resumed = client.subscribe(Q, Some(cursor));
    let events = collect(&mut resumed, h.patience(), |seen| seen.len() == 3).await;
    assert_eq!(
        events.iter().map(|e| e.job).collect::<Vec<_>>(),
        [ids[1], ids[2], later]
    );

    // From now on: only what happens after the subscription.
    let mut now = client.subscribe_from_now(Q).await.unwrap();
    let newest = client
        .enqueue(Echo {
            label: "newest".into(),
        })
        .await
        .unwrap();
    assert_eq!(now.next().await.unwrap().job, newest);
}

/// The stream keeps a bounded number of entries: old events go, new ones stay.
pub async fn events_are_bounded<H: Harness>(h: &H) {
    let config = StoreConfig::default().with_events_max_len(10);
    let client = Client::new(h.backend(config).await);
    let mut last = None;
    for i in 0..300 {
        last = Some(
            client
                .enqueue(Echo {
                    label: format!("b{i}"),
                })
                .await
                .unwrap(),
        );
    }
    let mut sub = client.subscribe(Q, None);
    let mut kept = Vec::new();
    while kept.last().is_none_or(|e: &Event| Some(e.job) != last) {
        kept.push(sub.next().await.unwrap());
    }
    // Redis trims whole internal nodes (`MAXLEN ~`, 100 entries by default), so allow
    // one node of slack; 300 entries were written.
    assert!(
        (10..=110).contains(&kept.len()),
        "{} events kept with a bound of 10 entries",
        kept.len()
    );
}

/// `wait_for` returns when the job ends (succeeded or dead), at once for a finished job,
/// and says so when the job does not exist or does not end in time.
pub async fn wait_for_reports_how_a_job_ended<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let ok = client.enqueue(Echo { label: "w".into() }).await.unwrap();
    let refused = client.enqueue(Refuse { label: "r".into() }).await.unwrap();
    let never = client
        .enqueue(Echo {
            label: "never".into(),
        })
        .delay(h.patience() * 100)
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b);
    let done = client.wait_for(Q, ok, h.patience()).await.unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.info.unwrap().result.as_deref(), Some(&br#""w""#[..]));
    let dead = client.wait_for(Q, refused, h.patience()).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert!(
        dead.info
            .unwrap()
            .last_error
            .unwrap()
            .contains("disk is not empty")
    );
    // Already finished: answered at once.
    let again = client.wait_for(Q, ok, h.tick()).await.unwrap();
    assert_eq!(again.state, JobState::Succeeded);
    worker.stop().await.unwrap();

    match client.wait_for(Q, never, h.tick() * 2).await {
        Err(WaitError::TimedOut(id, JobState::Scheduled)) => assert_eq!(id, never),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(matches!(
        client.wait_for(Q, JobId::new(), h.tick()).await,
        Err(WaitError::NotFound(_))
    ));
}

/// The stored output reads back as the job's output type; a dead job gives its error.
pub async fn typed_outcome<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let ok = client
        .enqueue(Echo {
            label: "typed".into(),
        })
        .await
        .unwrap();
    let refused = client.enqueue(Refuse { label: "r".into() }).await.unwrap();
    assert_eq!(
        client.outcome::<Echo>(ok).await.unwrap(),
        Some(JobOutcome::Pending(JobState::Ready))
    );
    let worker = start_worker(h, &client, &rec, |b| b);
    let mut ends = HashMap::new();
    for id in [ok, refused] {
        ends.insert(
            id,
            client.wait_for(Q, id, h.patience()).await.unwrap().state,
        );
    }
    worker.stop().await.unwrap();
    assert_eq!(
        client.outcome::<Echo>(ok).await.unwrap(),
        Some(JobOutcome::Succeeded(Some("typed".to_owned())))
    );
    match client.outcome::<Refuse>(refused).await.unwrap() {
        Some(JobOutcome::Dead(error)) => assert!(error.contains("disk is not empty")),
        other => panic!("expected dead, got {other:?}"),
    }
    assert_eq!(client.outcome::<Echo>(JobId::new()).await.unwrap(), None);
}

/// A job reporting progress very often costs a few backend calls, not one per report;
/// the latest report is on the record while it runs, and each sent one is an event.
pub async fn progress_is_coalesced_and_readable<H: Harness>(h: &H) {
    let client = client(h).await;
    let rec = Recorder::default();
    let mut sub = client.subscribe(Q, None);
    let pause = h.tick() * 3;
    let id = client
        .enqueue(Reporter {
            label: "p".into(),
            ms: pause.as_millis() as u64,
        })
        .await
        .unwrap();
    let worker = start_worker(h, &client, &rec, |b| b.progress_every(h.tick()));
    // While it pauses after its 100 reports, the record holds the last one.
    let seen = crate::support::eventually("progress on the record", h.patience(), || {
        let client = client.clone();
        async move {
            let info = client.job(Q, id).await.unwrap()?;
            (info.state == JobState::Active).then_some(info.progress?)
        }
    })
    .await;
    assert_eq!(seen, Progress::new(100, "step 100"));
    let done = client.wait_for(Q, id, h.patience()).await.unwrap();
    worker.stop().await.unwrap();
    assert_eq!(
        done.info.unwrap().progress,
        Some(Progress::new(100, "done"))
    );
    let events = collect(&mut sub, h.patience(), |seen| {
        seen.iter().any(|e| e.is_final())
    })
    .await;
    let reports: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Progress { percent, message } => Some((*percent, message.as_str())),
            _ => None,
        })
        .collect();
    assert!(
        !reports.is_empty() && reports.len() <= 3,
        "101 reports became {} events: {reports:?}",
        reports.len()
    );
    assert_eq!(reports.last(), Some(&(100, "done")));
}
