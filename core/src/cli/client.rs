//! The HTTP client of the operator commands (`ps`, `state`, `tail`,
//! `events`, `execute`): with `CORRAL_PRINCIPAL` and `CORRAL_SECRET` set,
//! every request carries them as HTTP Basic credentials (for a master or
//! agent with authentication on; a secret in the environment stays out of
//! `ps` listings, unlike a flag); with `CORRAL_TLS_CA` set, it speaks
//! HTTPS and trusts only that CA (PEM).

use base64::Engine;

/// The principal and secret from the environment, when both are set.
fn credentials() -> Option<(String, String)> {
    let principal = std::env::var("CORRAL_PRINCIPAL")
        .ok()
        .filter(|p| !p.is_empty())?;
    let secret = std::env::var("CORRAL_SECRET").ok().unwrap_or_default();
    Some((principal, secret))
}

/// A client builder with the credentials (if any) on every request.
pub fn builder() -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some((principal, secret)) = credentials() {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"));
        if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&format!("Basic {token}")) {
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
    }
    let builder = reqwest::Client::builder().default_headers(headers);
    match ca() {
        Some(ca) => crate::wire::tls::trusting(builder, &ca).unwrap_or_else(|e| {
            eprintln!("error: CORRAL_TLS_CA: {e}");
            reqwest::Client::builder().https_only(true)
        }),
        None => builder,
    }
}

pub fn client() -> reqwest::Client {
    builder().build().unwrap_or_default()
}

fn ca() -> Option<std::path::PathBuf> {
    std::env::var_os("CORRAL_TLS_CA")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// `https` with `CORRAL_TLS_CA`, else `http`.
pub fn scheme() -> &'static str {
    crate::wire::tls::scheme(ca().as_deref())
}

/// The principal the commands authenticate as, for a framework's
/// `principal` (`corral execute`).
pub fn principal() -> Option<String> {
    credentials().map(|(p, _)| p)
}
