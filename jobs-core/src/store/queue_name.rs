//! Queue name validation, shared by every backend. The rule itself is in `jobs-names`,
//! which the `#[job]` macro applies at compile time too.

pub use jobs_names::MAX_QUEUE_NAME_LEN;
use jobs_names::queue_name_problem;

/// A queue name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid queue name {name:?} ({len} bytes): {reason}")]
pub struct InvalidQueueName {
    /// The name as given, cut to [`InvalidQueueName::SHOWN`] bytes (with `...` when cut),
    /// so a huge name does not flood logs and replies.
    pub name: String,
    /// The length of the name as given, in bytes.
    pub len: usize,
    /// Why it was refused.
    pub reason: &'static str,
}

impl InvalidQueueName {
    /// Most bytes of a refused name kept in the error.
    pub const SHOWN: usize = 64;

    fn shown(name: &str) -> String {
        if name.len() <= Self::SHOWN {
            return name.to_owned();
        }
        let mut end = Self::SHOWN;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &name[..end])
    }
}

/// Checks that `name` can be used as a queue name on every backend: 1 to
/// [`MAX_QUEUE_NAME_LEN`] bytes of ASCII letters, digits, `-`, `_` and `.`.
///
/// Queue names become part of Redis keys inside a `{...}` hash tag, so braces, whitespace
/// and control characters are refused instead of being silently encoded.
///
/// ```
/// use jobs_core::validate_queue_name;
/// assert!(validate_queue_name("disks").is_ok());
/// assert!(validate_queue_name("tenant-7.disks_v2").is_ok());
/// assert!(validate_queue_name("").is_err());
/// assert!(validate_queue_name("a{b}").is_err());
/// assert!(validate_queue_name("with space").is_err());
/// assert!(validate_queue_name("a:b").is_err());
/// // A huge name is cut in the error: its message stays short.
/// let e = validate_queue_name(&"x".repeat(100_000)).unwrap_err();
/// assert_eq!(e.len, 100_000);
/// assert!(e.to_string().len() < 200);
/// ```
pub fn validate_queue_name(name: &str) -> Result<(), InvalidQueueName> {
    match queue_name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(InvalidQueueName {
            name: InvalidQueueName::shown(name),
            len: name.len(),
            reason,
        }),
    }
}
