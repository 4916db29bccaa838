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
//! `priority`, `limit_key`, `limit_key_with`), the parameters a worker injects instead of serializing (`JobContext`,
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
#[proc_macro_attribute]
pub fn job(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::job(args.into(), item.into()).into()
}
