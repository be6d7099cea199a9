//! TLS for Corral's clients (the agent's master link, the command
//! executor, the CLI): a client that trusts a configured CA (PEM), and the
//! scheme to use. Servers' side: `server::tls`.

use std::path::{Path, PathBuf};

/// A CA file that cannot be used, naming it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {}: {source}", path.display())]
    ReadCa {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA file {} holds no usable PEM certificate: {source}", path.display())]
    BadCa {
        path: PathBuf,
        source: reqwest::Error,
    },
}

/// `builder` trusting only the CA certificates of `ca` (PEM), for HTTPS
/// (blocking read: at start only).
pub fn trusting(
    builder: reqwest::ClientBuilder,
    ca: &Path,
) -> Result<reqwest::ClientBuilder, TlsError> {
    let pem = std::fs::read(ca).map_err(|source| TlsError::ReadCa {
        path: ca.to_owned(),
        source,
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| TlsError::BadCa {
        path: ca.to_owned(),
        source,
    })?;
    let mut builder = builder
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .https_only(true);
    for cert in certs {
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// `https` when a CA is configured, else `http`.
pub fn scheme(ca: Option<&Path>) -> &'static str {
    if ca.is_some() {
        "https"
    } else {
        "http"
    }
}

/// The variable that tells an executor which CA verifies its agent (the
/// agent serves HTTPS then).
pub const AGENT_CA_VAR: &str = "CORRAL_AGENT_CA";
