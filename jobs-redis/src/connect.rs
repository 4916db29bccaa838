//! Turning connection settings into connections: one server's pool, or a cluster's
//! client, with the TLS options applied; and what a failed setup is reported as.

use std::time::Duration;

use deadpool::Runtime;
use jobs_core::{BackendError, BoxError};
use redis::cluster::ClusterClient;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::conn::{Connections, Manager, Pool};
use crate::tls::{self, TlsSettings};
use crate::waiter::WaitClient;

/// The backend could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a Redis URL (`redis://[user:password@]host[:port][/db]`,
    /// `rediss://` for TLS).
    #[error("invalid Redis URL {url:?}: {source}")]
    InvalidUrl {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// Why it was refused.
        source: redis::RedisError,
    },
    /// The connection pool could not be built.
    #[error("cannot build the Redis connection pool: {0}")]
    Pool(String),
    /// The server's `maxmemory-policy` may evict the framework's keys, and the builder was
    /// told to refuse that ([`EvictionCheck::Refuse`](crate::EvictionCheck::Refuse)).
    #[error(
        "Redis at {url} has maxmemory-policy `{policy}`, which can evict job records and queues; \
         set it to `noeviction` (or a `volatile-*` policy)"
    )]
    EvictingPolicy {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// The server's policy.
        policy: String,
    },
    /// The server refused the credentials: none given where it requires them (`NOAUTH`), a
    /// wrong password or user name, or a disabled user (`WRONGPASS`).
    #[error("Redis at {url} refused the credentials: {source}")]
    Auth {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// The server's answer (it never contains the password).
        source: BackendError,
    },
    /// TLS could not be set up or was refused: the certificates or key given to the
    /// builder do not parse, TLS options were given for a `redis://` URL (or the `tls`
    /// feature is off), or the handshake failed (the server's certificate is not signed by
    /// a trusted CA, does not name the host or has expired; the server wants a client
    /// certificate).
    #[error("TLS to Redis at {url} failed: {source}")]
    Tls {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// What went wrong.
        source: BoxError,
    },
    /// The server could not be reached or refused the setup (script loading, a command
    /// the ACL user may not run).
    #[error("cannot set up the Redis backend at {url}: {source}")]
    Backend {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// What went wrong.
        source: BackendError,
    },
}

/// Where and how to connect, as the builder was told.
#[derive(Clone)]
pub(crate) struct ConnectSettings {
    pub url: String,
    /// Seed nodes, for Redis Cluster.
    pub cluster: Option<Vec<String>>,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub tls: TlsSettings,
}

impl ConnectSettings {
    /// The pool (or cluster client) for ordinary calls, and the client for blocking waits.
    /// Touches no network.
    pub(crate) fn connections(&self) -> Result<(Connections, WaitClient), ConnectError> {
        match &self.cluster {
            None => self.single(),
            Some(nodes) => self.cluster(nodes),
        }
    }

    fn single(&self) -> Result<(Connections, WaitClient), ConnectError> {
        let invalid = |source| ConnectError::InvalidUrl {
            url: redact(&self.url),
            source,
        };
        let info = self.url.as_str().into_connection_info().map_err(invalid)?;
        let client = self.client(info)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout));
        // The pool shares the client, TLS settings included.
        let manager = Manager {
            client: client.clone(),
            config,
        };
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.connect_timeout + self.response_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.response_timeout))
            .build()
            .map_err(|e| ConnectError::Pool(e.to_string()))?;
        let waits = WaitClient::Single {
            client,
            connect_timeout: self.connect_timeout,
        };
        Ok((Connections::Single(pool), waits))
    }

    /// A client for one server: with the TLS options applied if any were given, after
    /// checking that they can be (a `rediss://` URL, certificates that parse).
    fn client(&self, info: ConnectionInfo) -> Result<redis::Client, ConnectError> {
        let url = &self.url;
        if !self.tls.is_set() {
            if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
                #[cfg(feature = "tls")]
                tls::install_crypto_provider();
            }
            return redis::Client::open(info).map_err(|source| ConnectError::InvalidUrl {
                url: redact(url),
                source,
            });
        }
        let tls_error = |source: BoxError| ConnectError::Tls {
            url: redact(url),
            source,
        };
        if !matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
            return Err(tls_error(
                "TLS options were given for a URL that does not use TLS; use `rediss://`".into(),
            ));
        }
        #[cfg(feature = "tls")]
        {
            tls::install_crypto_provider();
            let certificates = self.tls.certificates().map_err(|e| tls_error(e.into()))?;
            redis::Client::build_with_tls(info, certificates).map_err(|e| tls_error(Box::new(e)))
        }
        #[cfg(not(feature = "tls"))]
        Err(tls_error(
            "jobs-redis was built without its `tls` feature".into(),
        ))
    }

    fn cluster(&self, nodes: &[String]) -> Result<(Connections, WaitClient), ConnectError> {
        let all = nodes
            .iter()
            .map(|n| redact(n))
            .collect::<Vec<_>>()
            .join(", ");
        let invalid = |source| ConnectError::InvalidUrl {
            url: all.clone(),
            source,
        };
        // Each seed checked as one server would be, so a bad URL or certificate is reported
        // as such, and TLS options need `rediss://` seeds here too.
        for node in nodes {
            let info = node.as_str().into_connection_info().map_err(|source| {
                ConnectError::InvalidUrl {
                    url: redact(node),
                    source,
                }
            })?;
            self.client(info)?;
        }
        let builder = || {
            let builder = ClusterClient::builder(nodes.iter().map(String::as_str))
                .connection_timeout(self.connect_timeout);
            #[cfg(feature = "tls")]
            // Checked on each seed above.
            let builder = match self.tls.certificates() {
                Ok(certificates) if self.tls.is_set() => builder.certs(certificates),
                _ => builder,
            };
            builder
        };
        let client = builder()
            .response_timeout(self.response_timeout)
            .build()
            .map_err(invalid)?;
        // Blocking waits need no response timeout of their own: each is bounded by the waiter.
        let waits = builder()
            .response_timeout(Duration::from_secs(24 * 3600))
            .build()
            .map_err(invalid)?;
        Ok((
            Connections::Cluster {
                client: Box::new(client),
                conn: Default::default(),
            },
            WaitClient::Cluster(waits),
        ))
    }
}

/// A failed setup call as a [`ConnectError`]: refused credentials and TLS failures get
/// variants of their own, so that they are not mistaken for a server that is away.
pub(crate) fn setup_error(url: &str, source: BackendError) -> ConnectError {
    let url = url.to_owned();
    if tls::is_tls_failure(&source) {
        return ConnectError::Tls {
            url,
            source: Box::new(source),
        };
    }
    if refused_credentials(&source) {
        return ConnectError::Auth { url, source };
    }
    ConnectError::Backend { url, source }
}

/// Whether the server refused to authenticate the connection, or a command on it for want
/// of authentication.
fn refused_credentials(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(redis) = err.downcast_ref::<redis::RedisError>() {
            if redis.kind() == redis::ErrorKind::AuthenticationFailed
                || matches!(redis.code(), Some("NOAUTH" | "WRONGPASS"))
            {
                return true;
            }
        }
        next = err.source();
    }
    false
}

/// Every string in a reply (a cluster answers `INFO` with one per node).
pub(crate) fn collect_text(value: redis::Value, out: &mut Vec<String>) {
    match value {
        redis::Value::BulkString(b) => out.push(String::from_utf8_lossy(&b).into_owned()),
        redis::Value::SimpleString(s) | redis::Value::VerbatimString { text: s, .. } => out.push(s),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.into_iter().for_each(|v| collect_text(v, out));
        }
        redis::Value::Map(pairs) => pairs.into_iter().for_each(|(_, v)| collect_text(v, out)),
        _ => {}
    }
}

/// The URL with its password hidden (`redis://user:***@host`), for messages and logs.
///
/// ```
/// assert_eq!(jobs_redis::redact("redis://ops:s3cret@10.0.0.1:6379"), "redis://ops:***@10.0.0.1:6379");
/// assert_eq!(jobs_redis::redact("redis://127.0.0.1"), "redis://127.0.0.1");
/// ```
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => format!("{}***{}", &url[..scheme + 3], &url[at..]),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis://app:s3cret@host:6379/0"),
            "redis://app:***@host:6379/0"
        );
        assert_eq!(redact("rediss://:s3cret@host"), "rediss://:***@host");
    }
}
