//! Queue name validation, shared by every backend.

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

/// Longest accepted queue name, in bytes.
pub const MAX_QUEUE_NAME_LEN: usize = 128;

/// Checks that `name` can be used as a queue name on every backend.
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
    let fail = |reason| {
        Err(InvalidQueueName {
            name: InvalidQueueName::shown(name),
            len: name.len(),
            reason,
        })
    };
    if name.is_empty() {
        return fail("must not be empty");
    }
    if name.len() > MAX_QUEUE_NAME_LEN {
        return fail("longer than 128 bytes");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return fail("only ASCII letters, digits, '-', '_' and '.' are allowed");
    }
    Ok(())
}
