//! The conformance suite against the Redis backend: a private `redis-server` per test, real
//! time (leases of a few hundred milliseconds).

use std::time::Duration;

use jobs_redis::RedisBackend;
use jobs_tests::redis_server::RedisServer;
use jobs_tests::{Harness, StoreConfig};

struct Redis {
    server: RedisServer,
}

impl Redis {
    fn new() -> Self {
        Redis {
            server: RedisServer::start().expect("start redis-server"),
        }
    }
}

impl Harness for Redis {
    type Backend = RedisBackend;

    async fn backend(&self, config: StoreConfig) -> RedisBackend {
        RedisBackend::builder(&self.server.url())
            .store(config)
            .connect()
            .await
            .expect("connect to the test's redis-server")
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
    harness = Redis::new()
);
