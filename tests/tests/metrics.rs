//! The `metrics` feature (enabled for `jobs-core` by this crate): a worker running a
//! succeeding, a permanently failing and a retried job records the right counters, with
//! the right labels, into `metrics-util`'s debugging recorder. One test per binary: the
//! recorder is process-global.

use std::collections::BTreeMap;
use std::time::Duration;

use jobs_core::{Backend, Client, JobState, MemoryBackend};
use jobs_tests::conformance::jobs::{Echo, Flaky, Q, Refuse};
use jobs_tests::support::{Recorder, RunningWorker, eventually, wait_for_state};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

const PATIENCE: Duration = Duration::from_secs(120);

/// Adds a snapshot to `seen` (`name{label=value,...}` -> value, labels sorted): a
/// snapshot drains counters and histograms, so the values add up over snapshots.
fn snapshot(snapshotter: &Snapshotter, seen: &mut BTreeMap<String, DebugValue>) {
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        match (seen.get_mut(&name), value) {
            (Some(DebugValue::Counter(n)), DebugValue::Counter(m)) => *n += m,
            (Some(DebugValue::Histogram(v)), DebugValue::Histogram(w)) => v.extend(w),
            (_, value) => {
                seen.insert(name, value);
            }
        }
    }
}

fn counter(seen: &BTreeMap<String, DebugValue>, key: &str) -> u64 {
    match seen.get(key) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{key} is not a counter: {other:?}"),
    }
}

fn samples(seen: &BTreeMap<String, DebugValue>, key: &str) -> usize {
    match seen.get(key) {
        Some(DebugValue::Histogram(v)) => v.len(),
        None => 0,
        Some(other) => panic!("{key} is not a histogram: {other:?}"),
    }
}

fn gauge(seen: &BTreeMap<String, DebugValue>, key: &str) -> Option<f64> {
    match seen.get(key) {
        Some(DebugValue::Gauge(v)) => Some(v.into_inner()),
        None => None,
        Some(other) => panic!("{key} is not a gauge: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn outcomes_are_counted_with_queue_and_job_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let client = Client::new(MemoryBackend::new());
    let rec = Recorder::default();
    let ok = client.enqueue(Echo { label: "ok".into() }).await.unwrap();
    let refused = client.enqueue(Refuse { label: "no".into() }).await.unwrap();
    let flaky = client
        .enqueue(Flaky {
            label: "flaky".into(),
        })
        .await
        .unwrap();
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Echo>()
            .register::<Refuse>()
            .register::<Flaky>()
            .data(rec.clone())
    });
    wait_for_state(&client, Q, ok, JobState::Succeeded, PATIENCE).await;
    wait_for_state(&client, Q, refused, JobState::Dead, PATIENCE).await;
    wait_for_state(&client, Q, flaky, JobState::Dead, PATIENCE).await;
    worker.stop().await.unwrap();

    let depths =
        jobs_core::metrics::spawn_queue_depths(client.clone(), None, Duration::from_secs(10));
    // The first refresh runs at once.
    let mut seen = BTreeMap::new();
    eventually("the queue depths", PATIENCE, || {
        snapshot(&snapshotter, &mut seen);
        let found = gauge(&seen, "jobs_queue_depth{queue=suite,state=dead}");
        std::future::ready(found.map(|_| ()))
    })
    .await;
    for (key, value) in &seen {
        println!("{key} = {value:?}");
    }

    let echo = "{job=echo,queue=suite}";
    let refuse = "{job=refuse,queue=suite}";
    let flaky = "{job=flaky,queue=suite}";
    for job in [echo, refuse, flaky] {
        assert_eq!(
            counter(&seen, &format!("jobs_enqueued_total{job}")),
            1,
            "{job}"
        );
        assert_eq!(
            samples(&seen, &format!("jobs_queue_wait_seconds{job}")),
            1,
            "{job}"
        );
    }
    // Echo: started and succeeded once.
    assert_eq!(counter(&seen, &format!("jobs_started_total{echo}")), 1);
    assert_eq!(counter(&seen, &format!("jobs_succeeded_total{echo}")), 1);
    assert_eq!(counter(&seen, &format!("jobs_failed_total{echo}")), 0);
    assert_eq!(samples(&seen, &format!("jobs_run_seconds{echo}")), 1);
    // Refuse: failed once, permanently: dead, no retry.
    assert_eq!(counter(&seen, &format!("jobs_started_total{refuse}")), 1);
    assert_eq!(counter(&seen, &format!("jobs_failed_total{refuse}")), 1);
    assert_eq!(counter(&seen, &format!("jobs_retried_total{refuse}")), 0);
    assert_eq!(counter(&seen, &format!("jobs_dead_total{refuse}")), 1);
    assert_eq!(counter(&seen, &format!("jobs_succeeded_total{refuse}")), 0);
    // Flaky: three attempts, two retried, the last one dead.
    assert_eq!(counter(&seen, &format!("jobs_started_total{flaky}")), 3);
    assert_eq!(counter(&seen, &format!("jobs_failed_total{flaky}")), 3);
    assert_eq!(counter(&seen, &format!("jobs_retried_total{flaky}")), 2);
    assert_eq!(counter(&seen, &format!("jobs_dead_total{flaky}")), 1);
    assert_eq!(samples(&seen, &format!("jobs_run_seconds{flaky}")), 3);
    // No backend error, no lost lease.
    assert!(
        !seen
            .keys()
            .any(|k| k.starts_with("jobs_backend_errors_total")
                || k.starts_with("jobs_leases_lost_total")),
        "{seen:?}"
    );
    // Gauges, from the one refresher.
    let depth = |state: &str| {
        gauge(
            &seen,
            &format!("jobs_queue_depth{{queue=suite,state={state}}}"),
        )
    };
    assert_eq!(depth("succeeded"), Some(1.0));
    assert_eq!(depth("dead"), Some(2.0));
    assert_eq!(depth("ready"), Some(0.0));
    assert_eq!(gauge(&seen, "jobs_workers_live{}"), Some(0.0));
    // A stall after the refresher's baseline: a lease runs out and a reservation recovers
    // it; the next refresh adds it to the counter.
    client
        .enqueue(Echo {
            label: "lost".into(),
        })
        .await
        .unwrap();
    let queues = vec![Q.to_owned()];
    let backend = client.backend();
    let lost = backend
        .reserve(&queues, 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await; // paused clock: the lease runs out
    assert_eq!(backend.recover_expired(Q, 10).await.unwrap().requeued, 1);
    eventually("the stall to be counted", PATIENCE, || {
        snapshot(&snapshotter, &mut seen);
        let n = counter(&seen, "jobs_stalls_recovered_total{queue=suite}");
        let counted = (n > 0).then_some(n);
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            counted
        }
    })
    .await;
    assert_eq!(
        counter(&seen, "jobs_stalls_recovered_total{queue=suite}"),
        1
    );
    depths.abort();
}
