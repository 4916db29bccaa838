//! Connecting: URL, credentials, TLS, key prefix, pool and store settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jobs_core::{BackendError, StoreOptions};

use crate::batches::DEFAULT_BATCH_CLAIM;
use crate::connect::{ConnectError, ConnectSettings, collect_text, redact, setup_error};
use crate::handle::{Inner, RedisBackend};
use crate::scripts::{self, Settings};
use crate::tls::TlsSettings;
use crate::waiter::Waiter;

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
    conn: ConnectSettings,
    prefix: String,
    store: StoreOptions,
    batch_claim: Duration,
    eviction_check: EvictionCheck,
}

impl fmt::Debug for RedisBackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackendBuilder")
            .field("url", &redact(&self.conn.url))
            .field(
                "cluster",
                &self
                    .conn
                    .cluster
                    .as_ref()
                    .map(|nodes| nodes.iter().map(|n| redact(n)).collect::<Vec<_>>()),
            )
            .field("prefix", &self.prefix)
            .field("store", &self.store)
            .field("batch_claim", &self.batch_claim)
            .field("pool_size", &self.conn.pool_size)
            .field("connect_timeout", &self.conn.connect_timeout)
            .field("response_timeout", &self.conn.response_timeout)
            .field("eviction_check", &self.eviction_check)
            .field("tls", &self.conn.tls)
            .finish()
    }
}

impl RedisBackendBuilder {
    pub(crate) fn new(url: &str) -> Self {
        RedisBackendBuilder {
            conn: ConnectSettings {
                url: url.to_owned(),
                cluster: None,
                pool_size: 16,
                connect_timeout: Duration::from_secs(2),
                response_timeout: Duration::from_secs(5),
                tls: TlsSettings::default(),
            },
            prefix: "jobs".to_owned(),
            store: StoreOptions::DEFAULT,
            batch_claim: DEFAULT_BATCH_CLAIM,
            eviction_check: EvictionCheck::Warn,
        }
    }

    /// Prefix of every key. Default: `jobs`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    // retention, max_stalls, events_max_len and store: the options of every store,
    // written once in jobs-core. Redis keeps about `events_max_len` entries per stream
    // (`XADD MAXLEN ~` trims whole nodes); 0 saves one `XADD` per script call.
    jobs_core::__store_option_setters!();

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
        self.conn.pool_size = size.max(1);
        self
    }

    /// Longest wait for a new connection. Default: 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.conn.connect_timeout = timeout;
        self
    }

    /// Longest wait for an answer to one call, so that calls fail fast with
    /// [`BackendError::Unavailable`] while Redis is away. Default: 5 s.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.conn.response_timeout = timeout;
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
        self.conn.tls.root_certificate = Some(pem.into());
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
        self.conn.tls.client_certificate = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Builds the backend without touching the network: for workers that must start
    /// (and wait) while Redis is still down.
    pub fn build(self) -> Result<RedisBackend, ConnectError> {
        let (conns, waits) = self.conn.connections()?;
        let store_keys = crate::keys::StoreKeys::new(&self.prefix);
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                conns,
                prefix: self.prefix,
                settings: Settings {
                    store: self.store,
                    batch_claim: self.batch_claim,
                },
                waiter: Waiter::new(waits),
                combiner: Default::default(),
                store_keys,
                known_queues: Default::default(),
            }),
        })
    }

    /// Builds the backend, checks that Redis answers, loads the scripts, and checks the
    /// server's eviction policy (see [`EvictionCheck`]).
    pub async fn connect(self) -> Result<RedisBackend, ConnectError> {
        let url = redact(&self.conn.url);
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
        builder.conn.cluster = Some(nodes);
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
