//! The `#[job]` attribute macro of `jobs-core`: it turns an `async fn` into a job type.
//!
//! Use it through `jobs_core::job`: `jobs-core` re-exports it, and the code it generates
//! names `jobs_core`, so an application depends on `jobs-core` (plus a store) alone.
//!
//! ```
//! use jobs_core::{job, Job, JobError};
//!
//! /// Wipes and formats one disk.
//! #[job(queue = "disks", max_attempts = 3, timeout = "2h")]
//! async fn format_disk(host: String, device: String) -> Result<(), JobError> {
//!     Ok(())
//! }
//!
//! // Generated next to the function: a serializable struct of its arguments, a `Job`.
//! let job = FormatDisk { host: "node-1".into(), device: "/dev/sdb".into() };
//! assert_eq!(FormatDisk::NAME, "format_disk"); // the wire name
//! assert_eq!(FormatDisk::OPTIONS.queue, "disks");
//! assert_eq!(FormatDisk::OPTIONS.max_attempts, 3);
//! # let _ = job;
//! ```
//!
//! [`macro@job`] lists the options (`name`, `queue`, `max_attempts`, `backoff`, `timeout`,
//! `priority`, `limit_key`, `limit_key_with`, `unique`, `unique_key`, `unique_key_with`,
//! `on_conflict`), the parameters a worker injects instead of serializing (`JobContext`,
//! `Data<T>`), and what the macro refuses at compile time.
//!
//! Inside, the macro reads its options (`attr.rs`), checks the function into a small typed
//! view (`ast.rs`), then generates the job type and its `Job` impl (`expand.rs`).

mod ast;
mod attr;
mod expand;

use proc_macro::TokenStream;

/// Turns an `async fn` into a job type.
///
/// The function stays as written, so it can still be called and unit-tested directly.
/// Next to it the macro generates a struct named after the function in UpperCamelCase,
/// with one field per serialized argument, and implements `jobs_core::Job` for it:
///
/// ```
/// use jobs_core::{job, Data, JobContext, JobError};
/// # use jobs_core::{Client, EnqueueError, MemoryBackend};
/// # struct RpcClient;
/// # type FormatReport = String;
/// # impl RpcClient {
/// #     async fn format(&self, host: &str, device: &str, _: &JobContext) -> Result<String, JobError> {
/// #         Ok(format!("{host}:{device}"))
/// #     }
/// # }
///
/// /// Wipes and formats one disk.
/// #[job(queue = "disks", max_attempts = 3, timeout = "2h")]
/// async fn format_disk(
///     host: String,
///     device: String,
///     rpc: Data<RpcClient>,
///     ctx: JobContext,
/// ) -> Result<FormatReport, JobError> {
///     rpc.format(&host, &device, &ctx).await
/// }
///
/// // Generated: `struct FormatDisk { host: String, device: String }`, serializable,
/// // with `FormatDisk::NAME == "format_disk"`.
/// # async fn enqueue(client: Client<MemoryBackend>) -> Result<(), EnqueueError> {
/// client.enqueue(FormatDisk { host: "db-1".into(), device: "/dev/sdb".into() }).await?;
/// # Ok(()) }
/// ```
///
/// # Parameters
///
/// A parameter is *injected* by the worker, not serialized, when its type is named
/// (by the last segment of its path):
///
/// - `JobContext`: the running job's context (at most one);
/// - `Data<T>`: shared data of type `T` registered on the worker, which the worker checks
///   for before it starts.
///
/// Every other parameter is serialized with the job: it must be a plain identifier of an
/// owned type (`String`, not `&str`) that implements `Serialize` and `Deserialize`.
///
/// The function must be a free `async fn` without generics, returning `Result<T, E>`
/// where `E` converts into `JobError` (`anyhow::Result<T>` works).
///
/// # Options
///
/// | option | example | default |
/// | --- | --- | --- |
/// | `name` | `name = "disks.format"` | the function name |
/// | `queue` | `queue = "disks"` | `"default"` |
/// | `max_attempts` | `max_attempts = 3` | 10 |
/// | `backoff` | `backoff = "exponential"`, `"exponential(500ms)"`, `"exponential(1s, 10m)"`, `"fixed(30s)"` | exponential, 1 s to 1 h |
/// | `timeout` | `timeout = "1h 30m"` | none |
/// | `priority` | `priority = -5` (an `i8`; higher runs first) | 0 |
/// | `limit_key` | `limit_key = "host"` (an argument's name) | no key |
/// | `limit_key_with` | `limit_key_with = rack_and_host` (a function's path) | no key |
/// | `unique` | `unique = "waiting"`, `"until_done"`, `"10m"` | not unique |
/// | `unique_key` | `unique_key = "host"` (an argument's name; needs `unique`) | the job's name and arguments |
/// | `unique_key_with` | `unique_key_with = disk_key` (a function's path; needs `unique`) | the job's name and arguments |
/// | `on_conflict` | `on_conflict = "reject"`, `"replace"`, `"debounce"` (needs `unique`) | `"reject"` |
///
/// Durations use the `humantime` syntax: `"500ms"`, `"30s"`, `"2h"`, `"1h 30m"`.
/// The name is the job's wire name: keep it unchanged while jobs of the type may be
/// queued, and set `name` to keep it when renaming the function.
///
/// # Limit keys
///
/// A job's limit key (`Job::limit_key`) groups jobs for the queue's per-key concurrency
/// limit (`QueueLimits::per_key`): at most that many jobs with the same key run at once.
/// At most one of these two options gives it:
///
/// - `limit_key = "arg"` names one of the function's serialized arguments, of any
///   `Serialize` type. A string gives its contents as is (`"node-1"` -> `node-1`), a
///   `None` (anything serialized as JSON `null`) gives no key, and any other value its
///   compact JSON text (`42`, `{"rack":3,"slot":1}`).
/// - `limit_key_with = path::to::function` computes the key: the function takes the job
///   type by reference and returns `String`, `&str` (borrowed from the job, say),
///   or an `Option` of either (`None`: no key).
///
/// ```
/// use jobs_core::{job, Job, JobError};
///
/// #[job(queue = "disks", limit_key = "host")]
/// async fn format_disk(host: String, device: String) -> Result<(), JobError> {
///     Ok(())
/// }
///
/// #[job(queue = "power", limit_key_with = rack_and_host)]
/// async fn reboot(rack: u32, host: String) -> Result<(), JobError> {
///     Ok(())
/// }
///
/// fn rack_and_host(job: &Reboot) -> String {
///     format!("{}/{}", job.rack, job.host)
/// }
///
/// let job = FormatDisk { host: "node-1".into(), device: "/dev/sdb".into() };
/// assert_eq!(job.limit_key().as_deref(), Some("node-1"));
/// let job = Reboot { rack: 3, host: "node-1".into() };
/// assert_eq!(job.limit_key().as_deref(), Some("3/node-1"));
/// ```
///
/// The key is checked when the job is enqueued: an empty key, or one longer than
/// `MAX_LIMIT_KEY_LEN` (256) bytes, fails the enqueue with `EnqueueError::InvalidFlow`.
/// `Enqueue::limit_key` replaces the key for one enqueue.
///
/// # Unique jobs
///
/// `unique` makes the job unique (`Job::unique`, a `jobs_core::Unique`): at most one job
/// of its queue holds its uniqueness key at a time, checked by the store in the same step
/// as the insert. It says how long the key is held:
///
/// - `unique = "waiting"`: while the job waits (ready or scheduled); once it starts, the
///   same job may be enqueued again (`UniqueFor::Waiting`);
/// - `unique = "until_done"`: while it waits or runs (`UniqueFor::WaitingOrRunning`);
/// - `unique = "10m"`: for so long after the enqueue, whatever happens to the job
///   (`UniqueFor::Period`; a duration as for `timeout`, at least 1 ms).
///
/// The key is the job's name and all its serialized arguments (`Unique::key_for`), unless
/// one of these gives it:
///
/// - `unique_key = "arg"` names a serialized argument, rendered as for `limit_key` (a
///   string as is, a `None` leaves the key to the job's name and arguments, anything
///   else its compact JSON text);
/// - `unique_key_with = path::to::function` computes it, as for `limit_key_with` (the
///   function takes the job by reference; `None` leaves the key to the name and
///   arguments).
///
/// Such a key is the queue's, not the job type's: two job types of one queue that give the
/// same key share it. An enqueue that finds the key held does what `on_conflict` says:
///
/// - `"reject"` (the default): it fails with `EnqueueError::Duplicate`, naming the job
///   holding the key;
/// - `"replace"`: the holder, if it still waits, is cancelled and the new job stored in
///   its place;
/// - `"debounce"`: the holder, if it still waits, stays with its arguments and takes the
///   new job's run-at; the enqueue answers the holder's id.
///
/// A holder that no longer waits (it runs, or, for a period, has ended) is never replaced
/// or debounced: the enqueue is refused as for `"reject"`.
///
/// `unique_key`, `unique_key_with` and `on_conflict` need `unique`. `Enqueue::unique`
/// replaces the whole setting for one enqueue. Uniqueness is checked by `Client::enqueue`
/// and `Client::enqueue_many`; a unique job cannot be a batch member (refused with
/// `InvalidFlow::UniqueInBatch`: a batch counts each member it opened with).
///
/// ```
/// use std::time::Duration;
/// use jobs_core::{job, Job, JobError, OnConflict, Unique};
///
/// /// One format of a disk waiting at a time: a second request is refused.
/// #[job(queue = "disks", unique = "waiting")]
/// async fn format_disk(host: String, device: String) -> Result<(), JobError> {
///     Ok(())
/// }
///
/// /// One inventory refresh per host in any 10 minutes, pushed back by each request.
/// #[job(unique = "10m", unique_key = "host", on_conflict = "debounce")]
/// async fn refresh_inventory(host: String, full: bool) -> Result<(), JobError> {
///     Ok(())
/// }
///
/// let job = FormatDisk { host: "node-1".into(), device: "/dev/sdb".into() };
/// assert_eq!(job.unique(), Some(Unique::while_waiting()));
/// let job = RefreshInventory { host: "node-7".into(), full: false };
/// let expected = Unique::for_period(Duration::from_secs(600))
///     .key("node-7")
///     .on_conflict(OnConflict::Debounce);
/// assert_eq!(job.unique(), Some(expected));
/// ```
///
/// A key given by `unique_key` or `unique_key_with` is checked when the job is enqueued:
/// an empty key, or one longer than `MAX_UNIQUE_KEY_LEN` (512) bytes, fails the enqueue
/// with `EnqueueError::InvalidFlow`.
#[proc_macro_attribute]
pub fn job(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::job(args.into(), item.into()).into()
}
