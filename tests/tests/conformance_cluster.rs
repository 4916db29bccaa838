//! The conformance suite against the Redis backend on a three-master Redis Cluster.

use std::time::Duration;

use jobs_core::{Client, JobState};
use jobs_redis::RedisBackend;
use jobs_tests::conformance::jobs::Echo;
use jobs_tests::redis_cluster::RedisCluster;
use jobs_tests::support::{Recorder, RunningWorker, wait_for_state};
use jobs_tests::{Harness, StoreConfig};

struct Cluster {
    cluster: RedisCluster,
}

impl Cluster {
    fn new() -> Self {
        Cluster {
            cluster: RedisCluster::start(3).expect("start a Redis Cluster"),
        }
    }
}

impl Harness for Cluster {
    type Backend = RedisBackend;

    async fn backend(&self, config: StoreConfig) -> RedisBackend {
        RedisBackend::cluster_builder(self.cluster.urls())
            .store(config)
            .connect()
            .await
            .expect("connect to the test's cluster")
    }

    fn tick(&self) -> Duration {
        Duration::from_millis(200)
    }

    fn patience(&self) -> Duration {
        Duration::from_secs(30)
    }
}

jobs_tests::conformance_tests!(
    test = tokio::test(flavor = "multi_thread", worker_threads = 2),
    harness = Cluster::new()
);

/// Queues land on different nodes, and one worker serves them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_spread_over_the_cluster() {
    let h = Cluster::new();
    let queues = ["disks", "network", "default", "high", "low", "suite"];
    let nodes: std::collections::BTreeSet<_> = queues
        .iter()
        .map(|q| h.cluster.node_of(&format!("jobs:{{{q}}}:ready")))
        .collect();
    assert!(
        nodes.len() >= 2,
        "the test's queues should span nodes: {nodes:?}"
    );

    let client = Client::new(h.backend(StoreConfig::default()).await);
    let rec = Recorder::default();
    let mut ids = Vec::new();
    for q in queues {
        ids.push((
            q,
            client
                .enqueue(Echo { label: q.into() })
                .queue(q)
                .await
                .unwrap(),
        ));
    }
    let worker = RunningWorker::start(&client, |b| {
        b.register::<Echo>().data(rec.clone()).queues(queues)
    });
    for (q, id) in ids {
        wait_for_state(&client, q, id, JobState::Succeeded, h.patience()).await;
    }
    worker.stop().await.unwrap();
    // Each queue's keys are on the node owning its slot.
    for q in queues {
        let node = &h.cluster.nodes()[h.cluster.node_of(&format!("jobs:{{{q}}}:ready"))];
        let exists = node
            .command(&["EXISTS", &format!("jobs:{{{q}}}:succeeded")])
            .unwrap();
        assert_eq!(exists, ":1", "queue {q}");
    }
}
