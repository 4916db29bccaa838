//! From Redis errors to the core's [`BackendError`].

use jobs_core::BackendError;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Errors worth retrying (the server is away, loading, failing over) become
/// [`BackendError::Unavailable`]; a key of the wrong type, [`BackendError::Corrupt`].
pub(crate) fn map(err: RedisError) -> BackendError {
    let transient = err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_cluster_error()
        || matches!(
            err.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
            )
        );
    if transient {
        return BackendError::Unavailable(Box::new(err));
    }
    if err.code() == Some("OOM") {
        let detail = err
            .detail()
            .unwrap_or("command not allowed when used memory > 'maxmemory'");
        return BackendError::Full(format!("Redis is at its maxmemory limit: {detail}"));
    }
    if err.code() == Some("WRONGTYPE") {
        let detail = err
            .detail()
            .unwrap_or("a key holds the wrong type of value");
        return BackendError::Corrupt(format!(
            "WRONGTYPE {detail} (was it written by something else?)"
        ));
    }
    BackendError::Other(Box::new(err))
}

pub(crate) fn pool(err: deadpool::managed::PoolError<RedisError>) -> BackendError {
    BackendError::Unavailable(Box::new(err))
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> BackendError {
    BackendError::Corrupt(what.to_string())
}

/// The same error for each job (and caller) that shared a failed call.
pub(crate) fn copy(e: &BackendError) -> BackendError {
    match e {
        BackendError::Unavailable(src) => BackendError::Unavailable(src.to_string().into()),
        BackendError::Full(s) => BackendError::Full(s.clone()),
        BackendError::Corrupt(s) => BackendError::Corrupt(s.clone()),
        BackendError::InvalidQueue(q) => BackendError::InvalidQueue(q.clone()),
        other => BackendError::Other(other.to_string().into()),
    }
}
