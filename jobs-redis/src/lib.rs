//! The Redis backend for `jobs-core`: jobs survive restarts of workers, machines and
//! Redis (with persistence on), and many worker processes on many machines share them.
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
//!
//! Options (key prefix, retention, pool, timeouts, TLS, Redis Cluster) are on
//! [`RedisBackendBuilder`]:
//!
//! ```no_run
//! # async fn f() -> Result<(), jobs_redis::ConnectError> {
//! let backend = jobs_redis::RedisBackend::builder("rediss://:password@redis.internal:6380")
//!     .prefix("ops")
//!     .pool_size(32)
//!     .connect()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # How the crate is laid out
//!
//! In the order a job travels:
//! - `config.rs`, `connect.rs`, `conn.rs`, `tls.rs`: the builder, and turning its settings
//!   into a pool (one server) or a cluster client;
//! - `keys.rs`: every key name, built in one place (`{prefix}:{queue}:…`, the queue in a
//!   hash tag so one script's keys share a cluster slot);
//! - `handle.rs`: [`RedisBackend`], its connections and settings, and sending enqueue
//!   calls (`combiner.rs` lets concurrent single enqueues share one);
//! - `backend.rs`: the `Backend` implementation, which only coordinates: which script,
//!   which chunk (`grouping.rs`), what to do with the answer;
//! - `scripts/`: one module per Lua script (`enqueue`, `reserve`, `renew`, `progress`,
//!   `finish`, `recover`, then the read, batch and operator scripts): its arguments and
//!   its reply as a typed value; `scripts/mod.rs` loads the scripts (with the shared
//!   `lua/lib.lua` and `lua/batch_lib.lua` before them) and builds each call's keys from
//!   the list the script's header declares;
//! - `record.rs`: the stored job record (msgpack), decoded on the worker, not in Lua;
//! - `waiter.rs`: idle workers' blocking waits on a dedicated connection;
//! - `batches.rs`: counting ended batch members from each queue's outbox and firing the
//!   callbacks; `events.rs`: reading the per-queue event streams;
//! - `reply.rs`, `error.rs`: strict reading of replies and errors with context.

mod admin;
mod backend;
mod batches;
mod combiner;
mod config;
mod conn;
mod connect;
mod error;
mod events;
mod grouping;
mod handle;
mod keys;
mod record;
mod reply;
mod scripts;
mod tls;
mod waiter;

pub use batches::DEFAULT_BATCH_CLAIM;
pub use config::{EvictionCheck, RedisBackendBuilder};
pub use connect::{ConnectError, redact};
pub use handle::RedisBackend;
