//! HTTPS for both daemons: a rustls acceptor from a PEM certificate chain
//! and key (no OpenSSL), offering HTTP/2 and HTTP/1.1.

use std::{path::Path, sync::Arc};

use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A certificate or key that cannot be served, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error("cannot read the TLS certificate {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read the TLS key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("the TLS certificate {cert} and key {key} do not make a server: {source}")]
    Config {
        cert: String,
        key: String,
        source: rustls::Error,
    },
}

/// A daemon's acceptor when it is given certificate and key files, none
/// for plain HTTP; an error as the daemon reports it at start.
pub fn acceptor_for(
    files: Option<&crate::domain::auth::TlsFiles>,
) -> std::io::Result<Option<TlsAcceptor>> {
    files
        .map(|t| acceptor(&t.cert, &t.key))
        .transpose()
        .map_err(std::io::Error::other)
}

/// The acceptor for `cert` (PEM chain, leaf first) and `key` (PEM).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServerTlsError> {
    let shown = |p: &Path| p.display().to_string();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| ServerTlsError::Certificate {
            path: shown(cert),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(ServerTlsError::Certificate {
            path: shown(cert),
            reason: "no certificate in the file".into(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| ServerTlsError::Key {
        path: shown(key),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|source| ServerTlsError::Config {
            cert: shown(cert),
            key: shown(key),
            source,
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
