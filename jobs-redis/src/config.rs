//! Connecting: URL, key prefix, pool and store settings.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::{Manager, Pool, Runtime};
use jobs_core::{BackendError, DEFAULT_MAX_STALLS, Retention};
use redis::AsyncConnectionConfig;
use redis::cluster::ClusterClient;

use crate::backend::{Inner, RedisBackend};
use crate::conn::Connections;
use crate::scripts::SCRIPTS;
use crate::waiter::{WaitClient, Waiter};

/// The backend could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a Redis URL (`redis://[user:password@]host[:port][/db]`).
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
    /// The server could not be reached or refused the setup (AUTH, script loading).
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
#[derive(Debug, Clone)]
pub struct RedisBackendBuilder {
    url: String,
    /// Seed nodes, for Redis Cluster.
    cluster: Option<Vec<String>>,
    prefix: String,
    retention: Retention,
    max_stalls: u32,
    pool_size: usize,
    connect_timeout: Duration,
    response_timeout: Duration,
    eviction_check: EvictionCheck,
}

impl RedisBackendBuilder {
    pub(crate) fn new(url: &str) -> Self {
        RedisBackendBuilder {
            url: url.to_owned(),
            cluster: None,
            prefix: "jobs".to_owned(),
            retention: Retention::DEFAULT,
            max_stalls: DEFAULT_MAX_STALLS,
            pool_size: 16,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            eviction_check: EvictionCheck::Warn,
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
                retention: self.retention,
                max_stalls: self.max_stalls,
                waiter: Waiter::new(waits),
                hints: Default::default(),
            }),
        })
    }

    fn single(&self) -> Result<(Connections, WaitClient), ConnectError> {
        let invalid = |source| ConnectError::InvalidUrl {
            url: redact(&self.url),
            source,
        };
        let client = redis::Client::open(self.url.as_str()).map_err(invalid)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout));
        let manager = Manager::new_with_config(self.url.as_str(), config).map_err(invalid)?;
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
        let client = ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.response_timeout)
            .build()
            .map_err(invalid)?;
        // Blocking waits need no response timeout of their own: each is bounded by the waiter.
        let waits = ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(self.connect_timeout)
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
        let fail = |source| ConnectError::Backend {
            url: url.clone(),
            source,
        };
        backend.load_scripts().await.map_err(fail)?;
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
    /// `rediss://` for TLS, `redis+unix:///path/to/socket`).
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
        for script in SCRIPTS.all() {
            script
                .prepare_invoke()
                .load_async(&mut conn)
                .await
                .map_err(crate::error::map)?;
        }
        Ok(())
    }
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
