//! TLS (`rediss://`): the certificates given to the builder, the crypto provider, and
//! telling a refused handshake from other connection failures.
//!
//! TLS is rustls (with the `ring` provider), built in with the `tls` feature (on by
//! default). Without the builder's certificate options a `rediss://` URL trusts the
//! system's root certificates.

use std::error::Error;
use std::fmt;

/// The TLS material given to [`RedisBackendBuilder`](crate::RedisBackendBuilder). Its
/// `Debug` says only which parts are set: a private key is never printed.
#[derive(Clone, Default)]
pub(crate) struct TlsSettings {
    /// PEM certificates to trust instead of the system's roots.
    pub(crate) root_certificate: Option<Vec<u8>>,
    /// PEM certificate chain and private key presented to the server (mutual TLS).
    pub(crate) client_certificate: Option<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |on: bool| if on { "<set>" } else { "<none>" };
        f.debug_struct("TlsSettings")
            .field("root_certificate", &set(self.root_certificate.is_some()))
            .field(
                "client_certificate",
                &set(self.client_certificate.is_some()),
            )
            .finish()
    }
}

impl TlsSettings {
    /// Whether any TLS option was given.
    pub(crate) fn is_set(&self) -> bool {
        self.root_certificate.is_some() || self.client_certificate.is_some()
    }

    /// The settings in redis-rs's form, after checking that each PEM holds what it
    /// should: redis-rs takes a PEM without any certificate for an empty list, which would
    /// trust nothing, or present no certificate, and fail only at the handshake.
    #[cfg(feature = "tls")]
    pub(crate) fn certificates(&self) -> Result<redis::TlsCertificates, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        let count = |pem: &[u8]| {
            CertificateDer::pem_slice_iter(pem)
                .filter(Result::is_ok)
                .count()
        };
        if self
            .root_certificate
            .as_deref()
            .is_some_and(|pem| count(pem) == 0)
        {
            return Err("no PEM certificate in the one given to `tls_root_certificate`".into());
        }
        if self
            .client_certificate
            .as_ref()
            .is_some_and(|(cert, _)| count(cert) == 0)
        {
            return Err("no PEM certificate in the one given to `tls_client_certificate`".into());
        }
        Ok(self.redis_certificates())
    }

    #[cfg(feature = "tls")]
    fn redis_certificates(&self) -> redis::TlsCertificates {
        redis::TlsCertificates {
            client_tls: self.client_certificate.as_ref().map(|(cert, key)| {
                redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }
            }),
            root_cert: self.root_certificate.clone(),
        }
    }
}

/// Makes sure rustls has a process-wide crypto provider before a TLS client is built: the
/// `ring` one, unless the application installed one of its own first. (rustls picks one by
/// itself only while exactly one provider is compiled in, which other crates can change.)
#[cfg(feature = "tls")]
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Whether a connection failed in the TLS layer: a certificate refused on either side, a
/// failed handshake, or a peer that does not speak TLS.
///
/// redis-rs keeps the I/O error that carries rustls's error behind an
/// `Arc<dyn Error + Send + Sync>`, whose `source()` skips it; so each link of the chain is
/// also looked into through those wrappers.
pub(crate) fn is_tls_failure(err: &(dyn Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if is_rustls(err) {
            return true;
        }
        next = err.source();
    }
    false
}

fn is_rustls(err: &(dyn Error + 'static)) -> bool {
    #[cfg(feature = "tls")]
    if err.is::<rustls::Error>() {
        return true;
    }
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        return io
            .get_ref()
            .is_some_and(|inner| is_tls_failure(inner as &(dyn Error + 'static)));
    }
    if let Some(shared) = err.downcast_ref::<std::sync::Arc<dyn Error + Send + Sync>>() {
        return is_tls_failure(shared.as_ref() as &(dyn Error + 'static));
    }
    false
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn finds_rustls_errors_behind_io_and_arc() {
        let rustls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls);
        let redis = redis::RedisError::from(io);
        assert!(is_tls_failure(&redis));
        let boxed: Box<dyn Error + Send + Sync> = Box::new(redis);
        let backend = jobs_core::BackendError::Unavailable(boxed);
        assert!(is_tls_failure(&backend));

        let plain =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!is_tls_failure(&plain));
        let shared: Arc<dyn Error + Send + Sync> = Arc::new(std::io::Error::other("no"));
        assert!(!is_tls_failure(shared.as_ref()));
    }

    #[test]
    fn debug_hides_the_key() {
        let settings = TlsSettings {
            root_certificate: Some(b"CA".to_vec()),
            client_certificate: Some((b"CERT".to_vec(), b"SECRET KEY".to_vec())),
        };
        let text = format!("{settings:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("<set>"), "{text}");
    }
}
