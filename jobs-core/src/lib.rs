//! Background jobs for Rust, backed by Redis or by memory.
//!
//! This crate holds what every deployment needs: the [`Job`] trait and the
//! [`job`](macro@job) attribute macro that implements it for an `async fn`, the
//! [`Backend`] contract that queue stores implement, the [`Worker`] pool that runs jobs,
//! and [`MemoryBackend`], a complete in-process backend with the same semantics as the
//! Redis one (`jobs-redis`).
//!
//! # In 30 seconds
//!
//! ```
//! use std::time::Duration;
//! use jobs_core::{job, Client, JobError, JobState, MemoryBackend, Worker};
//!
//! /// A job is an `async fn`; `#[job]` generates `FormatDisk`, a type holding its arguments.
//! #[job(queue = "disks", max_attempts = 3)]
//! async fn format_disk(host: String, device: String) -> Result<String, JobError> {
//!     Ok(format!("{device} on {host} formatted"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The application enqueues: here in memory; `jobs_redis::RedisBackend` in production.
//! let client = Client::new(MemoryBackend::new());
//! let job = FormatDisk { host: "node-1".into(), device: "/dev/sdb".into() };
//! let id = client.enqueue(job).delay(Duration::from_millis(10)).await?;
//!
//! // A worker runs jobs, many at once, until it is told to stop.
//! let worker = Worker::builder(client.clone()).register::<FormatDisk>().build();
//! let stop = tokio_util::sync::CancellationToken::new();
//! let running = tokio::spawn(worker.run_until(stop.clone().cancelled_owned()));
//!
//! // The application follows the job to its end, without polling.
//! let done = client.wait_for("disks", id, Duration::from_secs(10)).await?;
//! assert_eq!(done.state, JobState::Succeeded);
//! stop.cancel();
//! running.await??;
//! # Ok(()) }
//! ```
//!
//! The repository's README goes further: the worker's settings, the job lifecycle and
//! its guarantees, the Redis store.
//!
//! # How the crate is laid out
//!
//! The source folders follow a job's path, and depend on each other in one direction
//! only (`store` <- `job` <- `client` <- `worker`, and `store` <- `memory`):
//!
//! - `job/`: what a job is: [`Job`] and [`JobOptions`], the [`JobContext`] a running job
//!   gets, shared [`Data`], [`Backoff`] policies, [`JobError`], and the registry through
//!   which a worker turns a stored job back into its type;
//! - `client/`: the application's side: [`Client`], enqueueing ([`Enqueue`],
//!   [`EnqueueMany`]), batches ([`BatchBuilder`]), and following the work
//!   ([`Subscription`], [`Client::wait_for`], [`Client::outcome`]);
//! - `store/`: the store contract: the [`Backend`] trait and the values it takes and
//!   returns ([`backend`]), ids, queue names, batches, [`event`]s, [`Retention`] and
//!   [`StoreOptions`], [`BackendError`];
//! - `memory/`: [`MemoryBackend`], the contract kept in process memory;
//! - `worker/`: [`Worker`]: the launcher and its tasks (reserve, run, record outcomes,
//!   renew leases, report progress, register the worker), and its [`WorkerHealth`];
//! - `metrics`: what the client and the worker record through the `metrics` facade (the
//!   `metrics` feature).

mod client;
mod job;
mod memory;
pub mod metrics;
mod store;
mod worker;

pub use store::{backend, event, reason};

// Also at the crate root; documented once, in their modules.
#[doc(no_inline)]
pub use backend::{
    Backend, InvalidState, JobInfo, JobState, Progress, QueueStats, Reschedule, RescheduleOutcome,
};
#[doc(no_inline)]
pub use event::{DEFAULT_EVENTS_MAX_LEN, Event, EventCursor, EventKind};

pub use client::batch::{BatchBuilder, BatchError, BatchMember, BatchStatus};
pub use client::enqueue::{Enqueue, EnqueueError, EnqueueMany, ManyJobs};
pub use client::follow::{Finished, JobOutcome, OutcomeError, Subscription, WaitError};
pub use client::{Client, DEFAULT_MAX_PAYLOAD_BYTES};
pub use job::backoff::Backoff;
pub use job::context::{CancelReason, JobContext};
pub use job::data::{Data, DataMap, DataType};
pub use job::error::{JobError, JobErrorKind};
pub use job::{Job, JobOptions};
pub use memory::{MemoryBackend, MemoryBackendBuilder};
pub use store::admin::{
    Deleted, InvalidCursor, JobPage, LIST_PAGE_MAX, ListCursor, MinuteCounts, PURGE_BATCH,
    THROUGHPUT_MINUTES, WorkerInfo,
};
pub use store::batch::{
    BATCH_DEAD_JOBS_MAX, BATCH_PAGE_MAX, BatchCounts, BatchId, BatchSummary, Callback, CallbackKind,
};
pub use store::error::{BackendError, BoxError};
pub use store::flow::{
    InvalidFlow, JobFlow, MAX_LIMIT_KEY_LEN, MAX_UNIQUE_KEY_LEN, OnConflict, QueueLimits, Rate,
    Unique, UniqueFor,
};
pub use store::id::{InvalidJobId, JobId};
pub use store::options::StoreOptions;
pub use store::queue_name::{InvalidQueueName, MAX_QUEUE_NAME_LEN, validate_queue_name};
pub use store::retention::{
    DEFAULT_MAX_STALLS, PROMOTE_BATCH, RECOVER_BATCH, Retention, TRIM_BATCH,
};
pub use worker::signal::shutdown_signal;
pub use worker::{HealthStatus, Worker, WorkerBuilder, WorkerError, WorkerHealth, WorkerPhase};

// The `#[job]` macro; its documentation (options and all) comes with it.
pub use jobs_derive::job;

/// Not public API: what code generated by `#[job]` reaches through.
#[doc(hidden)]
pub mod __private {
    pub use crate::{
        Backoff, Data, DataType, Job, JobContext, JobError, JobOptions, OnConflict, Unique,
        UniqueFor,
    };
    pub use ::serde;
    pub use ::std::string::String;
    pub use ::std::time::Duration;
    pub use ::std::vec::Vec;

    /// The return types a job function may have.
    #[diagnostic::on_unimplemented(
        message = "a job function must return `Result<T, E>` where `E: Into<JobError>`",
        label = "this return type is not a `Result` with a convertible error",
        note = "e.g. `-> Result<Report, JobError>` or `-> anyhow::Result<Report>`"
    )]
    pub trait IntoJobResult {
        /// The `Ok` type.
        type Output;
        /// Converts into the job result.
        fn into_job_result(self) -> Result<Self::Output, JobError>;
    }

    impl<T, E: Into<JobError>> IntoJobResult for Result<T, E> {
        type Output = T;
        fn into_job_result(self) -> Result<T, JobError> {
            self.map_err(Into::into)
        }
    }

    /// `#[job(limit_key = "arg")]`: the argument's value as a limit key.
    ///
    /// A JSON string gives its contents as is (`"node-1"` -> `node-1`), JSON `null` (a
    /// `None`, a `()`) gives no key, and anything else gives its compact JSON text
    /// (`42`, `true`, `{"rack":3,"slot":1}`, fields in declaration order). A value that
    /// does not serialize gives no key: the enqueue fails on serializing the job anyway.
    pub fn limit_key_of<T: ::serde::Serialize + ?Sized>(value: &T) -> Option<String> {
        let text = ::serde_json::to_string(value).ok()?;
        match text.as_bytes().first() {
            Some(b'"') => ::serde_json::from_str(&text).ok(),
            Some(b'n') => None, // `null`: nothing else serializes starting with `n`
            _ => Some(text),
        }
    }

    /// `#[job(limit_key_with = path)]`: what the function may return as a limit key.
    #[diagnostic::on_unimplemented(
        message = "a `limit_key_with` function must return `String`, `&str` or an `Option` of either, not `{Self}`",
        label = "this function's return type is not a limit key",
        note = "the function takes the job by reference, e.g. `fn host_key(job: &FormatDisk) -> String`"
    )]
    pub trait IntoLimitKey {
        /// The key; `None` for no key.
        fn into_limit_key(self) -> Option<String>;
    }

    impl IntoLimitKey for String {
        fn into_limit_key(self) -> Option<String> {
            Some(self)
        }
    }

    impl IntoLimitKey for &str {
        fn into_limit_key(self) -> Option<String> {
            Some(self.to_owned())
        }
    }

    impl<T: IntoLimitKey> IntoLimitKey for Option<T> {
        fn into_limit_key(self) -> Option<String> {
            self.and_then(IntoLimitKey::into_limit_key)
        }
    }

    /// `#[job(unique_key = "arg")]`: the argument's value as a uniqueness key, rendered as
    /// [`limit_key_of`] renders a limit key. `None` (JSON `null`) leaves the key to the
    /// job's name and arguments ([`Unique::key_for`]).
    pub fn unique_key_of<T: ::serde::Serialize + ?Sized>(value: &T) -> Option<String> {
        limit_key_of(value)
    }

    /// `#[job(unique_key_with = path)]`: what the function may return as a uniqueness key.
    #[diagnostic::on_unimplemented(
        message = "a `unique_key_with` function must return `String`, `&str` or an `Option` of either, not `{Self}`",
        label = "this function's return type is not a uniqueness key",
        note = "the function takes the job by reference, e.g. `fn disk_key(job: &FormatDisk) -> String`"
    )]
    pub trait IntoUniqueKey {
        /// The key; `None` for the job's name and arguments.
        fn into_unique_key(self) -> Option<String>;
    }

    impl IntoUniqueKey for String {
        fn into_unique_key(self) -> Option<String> {
            Some(self)
        }
    }

    impl IntoUniqueKey for &str {
        fn into_unique_key(self) -> Option<String> {
            Some(self.to_owned())
        }
    }

    impl<T: IntoUniqueKey> IntoUniqueKey for Option<T> {
        fn into_unique_key(self) -> Option<String> {
            self.and_then(IntoUniqueKey::into_unique_key)
        }
    }
}
