//! The Redis backend for `jobs-core`.
//!
//! Jobs live in Redis under a key prefix, one hash and a few sorted sets per queue; every
//! state change is one Lua script (`lua/*.lua`), so each transition is atomic. Leases,
//! run-at times and retention ages are computed from the Redis server's clock inside the
//! scripts. Idle workers block on a per-queue wake-up list instead of polling.
//!
//! ```no_run
//! use jobs_core::{job, Client, JobError, Worker};
//! use jobs_redis::RedisBackend;
//!
//! #[job(queue = "disks")]
//! async fn format_disk(host: String, device: String) -> Result<(), JobError> {
//!     Ok(())
//! }
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(RedisBackend::connect("redis://127.0.0.1:6379").await?);
//! client.enqueue(FormatDisk { host: "node-1".into(), device: "/dev/sdb".into() }).await?;
//! Worker::builder(client).register::<FormatDisk>().build().run().await?;
//! # Ok(()) }
//! ```

mod backend;
mod batches;
mod combiner;
mod config;
mod conn;
mod connect;
mod error;
mod events;
mod grouping;
mod keys;
mod record;
mod reply;
mod scripts;
mod tls;
mod waiter;

pub use backend::RedisBackend;
pub use batches::DEFAULT_BATCH_CLAIM;
pub use config::{EvictionCheck, RedisBackendBuilder};
pub use connect::ConnectError;
