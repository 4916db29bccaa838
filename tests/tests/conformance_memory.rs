//! The conformance suite against the in-memory backend, on tokio's paused clock.

use jobs_core::MemoryBackend;
use jobs_tests::{Harness, StoreConfig};

struct Memory;

impl Harness for Memory {
    type Backend = MemoryBackend;

    async fn backend(&self, config: StoreConfig) -> MemoryBackend {
        MemoryBackend::builder().store(config).build()
    }
}

jobs_tests::conformance_tests!(test = tokio::test(start_paused = true), harness = Memory);
