//! The queue-name rule of the `jobs` crates, written once.
//!
//! `jobs-core` applies it at run time (`jobs_core::validate_queue_name`, on every enqueue
//! and when a worker starts), and the `#[job]` macro of `jobs-derive` at compile time (a
//! `#[job(queue = "...")]` that breaks it does not compile). Both ask
//! [`queue_name_problem`]. The crate has no dependencies, so a proc-macro crate can use it.
//!
//! Queue names become part of Redis keys inside a `{...}` hash tag, so braces, whitespace
//! and control characters are refused instead of being silently encoded.
//!
//! ```
//! use jobs_names::{MAX_QUEUE_NAME_LEN, queue_name_problem};
//!
//! assert_eq!(queue_name_problem("disks"), None);
//! assert_eq!(queue_name_problem("tenant-7.disks_v2"), None);
//! assert_eq!(queue_name_problem(""), Some("must not be empty"));
//! assert!(queue_name_problem("a{b}").is_some());
//! assert!(queue_name_problem(&"q".repeat(MAX_QUEUE_NAME_LEN)).is_none());
//! assert_eq!(
//!     queue_name_problem(&"q".repeat(MAX_QUEUE_NAME_LEN + 1)),
//!     Some("longer than 128 bytes")
//! );
//! ```

/// Longest accepted queue name, in bytes.
pub const MAX_QUEUE_NAME_LEN: usize = 128;

/// Why `name` cannot be a queue name (a short reason, e.g. `"must not be empty"`), or
/// `None` when it can: 1 to [`MAX_QUEUE_NAME_LEN`] bytes of ASCII letters, digits, `-`,
/// `_` and `.`.
///
/// ```
/// use jobs_names::queue_name_problem;
/// assert_eq!(
///     queue_name_problem("with space"),
///     Some("only ASCII letters, digits, '-', '_' and '.' are allowed")
/// );
/// assert!(queue_name_problem("a:b").is_some());
/// ```
pub fn queue_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("must not be empty");
    }
    if name.len() > MAX_QUEUE_NAME_LEN {
        return Some("longer than 128 bytes");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Some("only ASCII letters, digits, '-', '_' and '.' are allowed");
    }
    None
}
