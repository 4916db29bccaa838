//! From the global options to a client of the store.

use anyhow::Context;
use jobs_core::Client;
use jobs_redis::{EvictionCheck, RedisBackend};

use crate::cli::Global;

/// The client every command uses.
pub type JobsClient = Client<RedisBackend>;

impl Global {
    /// The URL(s) as messages show them: passwords replaced by `***`.
    pub fn shown_url(&self) -> String {
        self.redis_url
            .split(',')
            .map(jobs_redis::redact)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Connects as the options say and checks that Redis answers (and takes the scripts).
pub async fn client(global: &Global) -> anyhow::Result<JobsClient> {
    let mut builder = if global.cluster {
        let nodes: Vec<String> = global
            .redis_url
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        RedisBackend::cluster_builder(nodes)
    } else {
        RedisBackend::builder(&global.redis_url)
    };
    if let Some(prefix) = &global.prefix {
        builder = builder.prefix(prefix.as_str());
    }
    if let Some(path) = &global.tls_ca {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the CA file {}", path.display()))?;
        builder = builder.tls_root_certificate(pem);
    }
    if let (Some(cert), Some(key)) = (&global.tls_cert, &global.tls_key) {
        let cert_pem = std::fs::read(cert)
            .with_context(|| format!("cannot read the client certificate {}", cert.display()))?;
        let key_pem = std::fs::read(key)
            .with_context(|| format!("cannot read the client key {}", key.display()))?;
        builder = builder.tls_client_certificate(cert_pem, key_pem);
    }
    // A one-shot tool needs one connection, and must not need INFO to start.
    let backend = builder
        .pool_size(2)
        .eviction_check(EvictionCheck::Skip)
        .connect()
        .await?;
    Ok(Client::new(backend))
}
