//! Exit statuses, the errors that choose one, and the one line an error prints.

use std::error::Error as StdError;
use std::process::ExitCode;

use jobs_core::BackendError;
use jobs_redis::ConnectError;

/// What the process exits with (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// An error, or a waited-for job that did not succeed.
    Failed = 1,
    /// Bad usage (clap exits 2 by itself for what it parses).
    Usage = 2,
    /// No such job, or a queue the store does not know.
    NotFound = 3,
    /// `wait` gave up at its `--timeout`.
    TimedOut = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// An error that exits with a chosen status and says exactly `message`.
#[derive(Debug)]
pub struct CliError {
    /// The status.
    pub exit: Exit,
    /// The line printed after `error: `.
    pub message: String,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CliError {}

/// Exit 3: `message` names what is missing.
pub fn not_found(message: impl Into<String>) -> anyhow::Error {
    CliError {
        exit: Exit::NotFound,
        message: message.into(),
    }
    .into()
}

/// Exit 2: `message` says what to write instead.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    CliError {
        exit: Exit::Usage,
        message: message.into(),
    }
    .into()
}

/// Prints `err` as one line on stderr and returns its status. `url` is the store's
/// address as shown (password hidden).
pub fn report(url: &str, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        // `jobs list ... | head`: the reader left; nothing to say.
        return Exit::Ok.into();
    }
    let (exit, message) = describe(url, err);
    eprintln!("error: {message}");
    exit.into()
}

/// True when the error is a write to a closed pipe.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The status and the message for `err`.
fn describe(url: &str, err: &anyhow::Error) -> (Exit, String) {
    if let Some(cli) = err.downcast_ref::<CliError>() {
        return (cli.exit, cli.message.clone());
    }
    if let Some(noperm) = err.chain().find_map(|e| permission(&e.to_string())) {
        return (
            Exit::Failed,
            format!("Redis at {url} refused a command: {noperm}"),
        );
    }
    if let Some(connect) = err.downcast_ref::<ConnectError>() {
        return (Exit::Failed, connect_message(url, connect));
    }
    if let Some(backend) = err.downcast_ref::<BackendError>() {
        return (Exit::Failed, backend_message(url, backend));
    }
    // Context chains (a file that does not read, ...): the outer line and the cause.
    let text = err
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    (Exit::Failed, text)
}

fn connect_message(url: &str, err: &ConnectError) -> String {
    match err {
        ConnectError::Backend { source, .. } => backend_message(url, source),
        ConnectError::Auth { source, .. } => {
            format!(
                "Redis at {url} refused the credentials: {}",
                root_cause(source)
            )
        }
        ConnectError::Tls { source, .. } => {
            format!(
                "TLS to Redis at {url} failed: {}",
                clean(&source.to_string())
            )
        }
        other => other.to_string(),
    }
}

fn backend_message(url: &str, err: &BackendError) -> String {
    match err {
        BackendError::Unavailable(_) => {
            format!("cannot reach Redis at {url}: {}", root_cause(err))
        }
        BackendError::Other(_) => format!("Redis at {url} failed: {}", root_cause(err)),
        other => other.to_string(),
    }
}

/// The innermost cause's text, without an `(os error N)` tail.
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last: &(dyn StdError + 'static) = err;
    while let Some(next) = last.source() {
        last = next;
    }
    clean(&last.to_string())
}

/// Drops an `(os error N)` tail, and a `- ` that redis-rs puts between kinds and details.
fn clean(text: &str) -> String {
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => text,
    };
    text.trim().to_owned()
}

/// For an ACL refusal (`NOPERM`): what the ACL user lacks, as far as Redis says.
pub fn permission(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let refused = lower.contains("noperm")
        || lower.contains("no permissions")
        || lower.contains("can't run this command");
    if !refused {
        return None;
    }
    // Redis's own words, without redis-rs's kind prefix.
    let said = ["NoPerm: ", "NOPERM ", "ResponseError: "]
        .iter()
        .find_map(|p| text.find(p).map(|at| &text[at + p.len()..]))
        .unwrap_or(text);
    let said = first_line(said);
    // `... has no permissions to run the 'zrange' command`.
    if let Some(cmd) = quoted_after(text, "to run the '") {
        return Some(format!(
            "the ACL user may not run `{cmd}` (grant it with `+{cmd}`): {said}"
        ));
    }
    if lower.contains("can't run this command") {
        return Some(format!(
            "the ACL user may not run a command that one of the framework's scripts calls \
             (Redis does not say which: compare the user with the README's `ACL SETUSER` \
             rule, or read `ACL LOG`): {said}"
        ));
    }
    if lower.contains("one of the keys") || lower.contains("access a key") {
        return Some(format!(
            "the ACL user may not access the store's keys (check its key pattern, e.g. \
             `~jobs:*`, against --prefix): {said}"
        ));
    }
    if lower.contains("channel") {
        return Some(format!("the ACL user may not use a channel: {said}"));
    }
    Some(format!("permission denied: {said}"))
}

fn quoted_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let start = text.find(marker)? + marker.len();
    let len = text[start..].find('\'')?;
    Some(&text[start..start + len])
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noperm_names_the_command() {
        let said = permission(
            "backend error: NoPerm: User jobs has no permissions to run the 'zrange' command",
        )
        .expect("a refusal");
        assert!(said.contains("`+zrange`"), "{said}");
        let keys = permission("NoPerm: this user has no permissions to access one of the keys")
            .expect("a refusal");
        assert!(keys.contains("key pattern"), "{keys}");
        assert!(permission("Connection refused").is_none());
    }

    #[test]
    fn os_error_tails_are_dropped() {
        assert_eq!(
            clean("Connection refused (os error 111)"),
            "Connection refused"
        );
    }
}
