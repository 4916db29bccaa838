//! Connecting: URL, credentials, TLS, key prefix, pool and store settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool::Runtime;
use jobs_core::event::DEFAULT_EVENTS_MAX_LEN;
use jobs_core::{BackendError, BoxError, DEFAULT_MAX_STALLS, Retention};
use redis::cluster::ClusterClient;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::backend::{Inner, RedisBackend};
use crate::batches::DEFAULT_BATCH_CLAIM;
use crate::conn::{Connections, Manager, Pool};
use crate::scripts::{self, Settings};
use crate::tls::{self, TlsSettings};
use crate::waiter::{WaitClient, Waiter};

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
    /// told to refuse that ([`EvictionCheck::Refuse`]).
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

/// What [`RedisBackendBuilder::connect`] does when the server's `maxmemory-policy` can
/// evict the framework's keys (`allkeys-lru`, `allkeys-lfu`, `allkeys-random`): Redis would
/// then delete queued jobs silently when it fills up. The `volatile-*` policies only evict
/// keys with an expiry, which the framework never sets, so they pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EvictionCheck {
    /// Log a warning and go on (the default).
    #[default]
    Warn,
    /// Fail with [`ConnectError::EvictingPolicy`].
    Refuse,
    /// Do not check (e.g. where `INFO` is not allowed).
    Skip,
}

/// Options for a [`RedisBackend`].
///
/// ```no_run
/// # async fn f() -> Result<(), jobs_redis::ConnectError> {
/// use std::time::Duration;
/// use jobs_core::Retention;
/// use jobs_redis::RedisBackend;
///
/// let backend = RedisBackend::builder("redis://127.0.0.1:6379")
///     .prefix("myapp")
///     .retention(Retention::DEFAULT.succeeded(1_000, Duration::from_secs(3600)))
///     .pool_size(32)
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
///
/// Its `Debug` hides the URL's password and the TLS key.
#[derive(Clone)]
pub struct RedisBackendBuilder {
    url: String,
    /// Seed nodes, for Redis Cluster.
    cluster: Option<Vec<String>>,
    prefix: String,
    retention: Retention,
    max_stalls: u32,
    events_max_len: usize,
    batch_claim: Duration,
    pool_size: usize,
    connect_timeout: Duration,
    response_timeout: Duration,
    eviction_check: EvictionCheck,
    tls: TlsSettings,
}

impl fmt::Debug for RedisBackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackendBuilder")
            .field("url", &redact(&self.url))
            .field(
                "cluster",
                &self
                    .cluster
                    .as_ref()
                    .map(|nodes| nodes.iter().map(|n| redact(n)).collect::<Vec<_>>()),
            )
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .field("max_stalls", &self.max_stalls)
            .field("batch_claim", &self.batch_claim)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("eviction_check", &self.eviction_check)
            .field("tls", &self.tls)
            .finish()
    }
}

impl RedisBackendBuilder {
    pub(crate) fn new(url: &str) -> Self {
        RedisBackendBuilder {
            url: url.to_owned(),
            cluster: None,
            prefix: "jobs".to_owned(),
            retention: Retention::DEFAULT,
            max_stalls: DEFAULT_MAX_STALLS,
            events_max_len: DEFAULT_EVENTS_MAX_LEN,
            batch_claim: DEFAULT_BATCH_CLAIM,
            pool_size: 16,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            eviction_check: EvictionCheck::Warn,
            tls: TlsSettings::default(),
        }
    }

    /// Prefix of every key. Default: `jobs`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long finished jobs are kept.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How many times a job's lease may expire before the job is dead (at least 1).
    pub fn max_stalls(mut self, max_stalls: u32) -> Self {
        self.max_stalls = max_stalls.max(1);
        self
    }

    /// How many entries each queue's event stream keeps, approximately (Redis trims whole
    /// nodes: `XADD MAXLEN ~`). 0 turns events off, saving one `XADD` per script call.
    /// Default: [`DEFAULT_EVENTS_MAX_LEN`].
    pub fn events_max_len(mut self, entries: usize) -> Self {
        self.events_max_len = entries;
        self
    }

    /// How long a worker that takes up a complete batch's firing has to enqueue its
    /// callbacks before another worker may take the firing over (the first died, lost its
    /// connection, or Redis refused the callbacks for want of memory); also how long a job
    /// added to a batch from a running job ([`jobs_core::Client::add_to_batch`]) may wait
    /// for its adder to enqueue it before a worker enqueues it instead. A firing taken over
    /// enqueues the same callback ids, so a callback still stored is not stored twice.
    /// Default: 30 s (at least 1 ms).
    pub fn batch_claim(mut self, claim: Duration) -> Self {
        self.batch_claim = claim.max(Duration::from_millis(1));
        self
    }

    /// Connections in the pool for ordinary calls (one server; a cluster uses one
    /// multiplexed connection per node). Default: 16.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Longest wait for a new connection. Default: 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest wait for an answer to one call, so that calls fail fast with
    /// [`BackendError::Unavailable`] while Redis is away. Default: 5 s.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// What [`connect`](Self::connect) does if the server may evict the framework's keys.
    /// Default: [`EvictionCheck::Warn`].
    pub fn eviction_check(mut self, check: EvictionCheck) -> Self {
        self.eviction_check = check;
        self
    }

    /// Trusts the CA certificate(s) in `pem` (PEM text, one or more certificates) for a
    /// `rediss://` server, *instead of* the system's root certificates: for a server whose
    /// certificate is signed by a private CA. Applies to the pool, the blocking waits and,
    /// on a cluster, every node. Needs the `tls` feature (on by default).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::fs::read("/etc/redis/tls/ca.crt")?;
    /// let backend = jobs_redis::RedisBackend::builder("rediss://:password@redis.internal:6380")
    ///     .tls_root_certificate(ca)
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.root_certificate = Some(pem.into());
        self
    }

    /// Presents this client certificate (PEM chain) and private key (PEM: PKCS#8, PKCS#1
    /// or SEC1) to a `rediss://` server that asks for one (mutual TLS, Redis's
    /// `tls-auth-clients yes`). The key is never printed. Needs the `tls` feature.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = jobs_redis::RedisBackend::builder("rediss://redis.internal:6380")
    ///     .tls_root_certificate(std::fs::read("/etc/jobs/tls/ca.crt")?)
    ///     .tls_client_certificate(
    ///         std::fs::read("/etc/jobs/tls/client.crt")?,
    ///         std::fs::read("/etc/jobs/tls/client.key")?,
    ///     )
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_client_certificate(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client_certificate = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Builds the backend without touching the network: for workers that must start
    /// (and wait) while Redis is still down.
    pub fn build(self) -> Result<RedisBackend, ConnectError> {
        let (conns, waits) = match &self.cluster {
            None => self.single()?,
            Some(nodes) => self.cluster(nodes)?,
        };
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                conns,
                prefix: self.prefix,
                settings: Settings {
                    retention: self.retention,
                    max_stalls: self.max_stalls,
                    events_max_len: self.events_max_len,
                    batch_claim: self.batch_claim,
                },
                waiter: Waiter::new(waits),
                hints: Default::default(),
                combiner: Default::default(),
            }),
        })
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

    /// Builds the backend, checks that Redis answers, loads the scripts, and checks the
    /// server's eviction policy (see [`EvictionCheck`]).
    pub async fn connect(self) -> Result<RedisBackend, ConnectError> {
        let url = redact(&self.url);
        let check = self.eviction_check;
        let backend = self.build()?;
        backend
            .load_scripts()
            .await
            .map_err(|source| setup_error(&url, source))?;
        if check == EvictionCheck::Skip {
            return Ok(backend);
        }
        let policies = match backend.eviction_policies().await {
            Ok(policies) => policies,
            Err(e) => {
                // Managed services may hide INFO; a setup check must not stop a worker.
                tracing::warn!(error = %e, "could not read Redis's maxmemory-policy; not checked");
                return Ok(backend);
            }
        };
        if let Some(policy) = policies.into_iter().find(|p| p.starts_with("allkeys-")) {
            if check == EvictionCheck::Refuse {
                return Err(ConnectError::EvictingPolicy { url, policy });
            }
            tracing::warn!(
                %url, %policy,
                "Redis may evict job records and queues when it fills up (maxmemory-policy); set it to `noeviction`"
            );
        }
        Ok(backend)
    }
}

impl RedisBackend {
    /// Options for a backend at `url` (`redis://[user:password@]host[:port][/db]`,
    /// `rediss://` for TLS, `redis+unix:///path/to/socket`). A password (or user name)
    /// with reserved characters (`@ : / % #` ...) must be percent-encoded.
    pub fn builder(url: &str) -> RedisBackendBuilder {
        RedisBackendBuilder::new(url)
    }

    /// Options for a backend on Redis Cluster, reached through any of the seed `nodes`.
    /// Each queue lives in one hash slot; different queues spread over the cluster.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), jobs_redis::ConnectError> {
    /// let backend = jobs_redis::RedisBackend::cluster_builder(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn cluster_builder<I, S>(nodes: I) -> RedisBackendBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        let mut builder = RedisBackendBuilder::new(nodes.first().map_or("", String::as_str));
        builder.cluster = Some(nodes);
        builder
    }

    /// Connects with the default options; see [`RedisBackend::builder`].
    pub async fn connect(url: &str) -> Result<RedisBackend, ConnectError> {
        Self::builder(url).connect().await
    }

    /// The `maxmemory-policy` of the server (of every node, on a cluster), from `INFO`.
    pub async fn eviction_policies(&self) -> Result<Vec<String>, BackendError> {
        let mut conn = self.conn().await?;
        let info: redis::Value = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .map_err(crate::error::map)?;
        let mut texts = Vec::new();
        collect_text(info, &mut texts);
        Ok(texts
            .iter()
            .flat_map(|t| t.lines())
            .filter_map(|line| line.strip_prefix("maxmemory_policy:"))
            .map(|p| p.trim().to_owned())
            .collect())
    }

    /// Loads every script into the server's script cache (they are also loaded on demand).
    pub async fn load_scripts(&self) -> Result<(), BackendError> {
        let mut conn = self.conn().await?;
        for script in scripts::all() {
            script.load(&mut conn).await?;
        }
        Ok(())
    }
}

/// A failed setup call as a [`ConnectError`]: refused credentials and TLS failures get
/// variants of their own, so that they are not mistaken for a server that is away.
fn setup_error(url: &str, source: BackendError) -> ConnectError {
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
fn collect_text(value: redis::Value, out: &mut Vec<String>) {
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

/// The URL with its password hidden, for messages.
fn redact(url: &str) -> String {
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
