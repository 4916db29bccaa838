//! Queue name validation, shared by every backend.

/// A queue name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid queue name {name:?}: {reason}")]
pub struct InvalidQueueName {
    /// The name as given.
    pub name: String,
    /// Why it was refused.
    pub reason: &'static str,
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
/// ```
pub fn validate_queue_name(name: &str) -> Result<(), InvalidQueueName> {
    let fail = |reason| {
        Err(InvalidQueueName {
            name: name.to_owned(),
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
