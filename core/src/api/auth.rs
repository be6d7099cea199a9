//! HTTP authentication: Basic for principals (frameworks, agents,
//! operators), Bearer for executors. A route group is layered with
//! [`authenticate`] for its [`Surface`]: a request with credentials is
//! checked whatever the switches say (wrong credentials are always a 401),
//! one without them is refused only where its surface's switch is on; the
//! principal proven is put in the request's extensions ([`Principal`]).

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;

use crate::domain::acls::{Acls, Action};
pub use crate::domain::auth::{HttpAuth, Surface};

/// A principal that proved itself with its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// `Authorization: Basic base64(principal:secret)`, decoded.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (principal, secret) = text.split_once(':')?;
    Some((principal.to_owned(), secret.to_owned()))
}

/// `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// 401 with the challenge Mesos sends.
pub fn unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Basic realm=\"corral\""),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        message.to_owned(),
    )
        .into_response()
}

pub fn forbidden(message: impl Into<String>) -> Response {
    super::http::error(403, message)
}

/// What guards a route group: who must authenticate, and the ACLs of
/// `get_endpoints`.
#[derive(Debug, Clone)]
pub struct Guard {
    pub auth: Arc<HttpAuth>,
    pub surface: Surface,
    pub acls: Option<Arc<Acls>>,
}

/// The endpoints `get_endpoints` ACLs decide on (as Mesos' authorizer).
const AUTHORIZED_ENDPOINTS: &[&str] = &[
    "/flags",
    "/master/flags",
    "/slave(1)/flags",
    "/metrics/snapshot",
    "/metrics",
    "/monitor/statistics",
    "/monitor/statistics.json",
    "/containers",
    "/containers.json",
    "/files/debug",
    "/files/debug.json",
];

/// The middleware of a route group: authentication for its surface, then
/// `get_endpoints` for the endpoints it covers.
pub async fn authenticate(
    State(guard): State<Guard>,
    mut request: Request,
    next: Next,
) -> Response {
    let (auth, surface) = (&guard.auth, guard.surface);
    let has_basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "));
    if has_basic {
        let Some((principal, secret)) = basic(request.headers()) else {
            return unauthorized("malformed 'Authorization: Basic' header");
        };
        let known = auth
            .credentials
            .as_ref()
            .is_some_and(|c| c.verify(&principal, &secret));
        if !known {
            tracing::warn!(principal, path = %request.uri().path(), "authentication failed");
            return unauthorized("authentication failed: unknown principal or wrong secret");
        }
        request.extensions_mut().insert(Principal(principal));
    } else if auth.required(surface) {
        return unauthorized("this endpoint needs credentials (HTTP Basic)");
    }
    let path = request.uri().path().trim_end_matches('/').to_owned();
    if let Some(acls) = &guard.acls {
        if AUTHORIZED_ENDPOINTS.contains(&path.as_str()) {
            let principal = request.extensions().get::<Principal>().map(|p| p.0.clone());
            // `/master/flags` and `/slave(1)/flags` are also `/flags`.
            let short = ["/master", "/slave(1)"]
                .iter()
                .find_map(|prefix| path.strip_prefix(prefix))
                .filter(|rest| rest.starts_with('/'));
            let allowed = |p: &str| acls.allows(Action::GetEndpoint, principal.as_deref(), p);
            if !(allowed(&path) || short.is_some_and(allowed)) {
                return forbidden(format!(
                    "principal '{}' is not authorized to GET {path}",
                    principal.as_deref().unwrap_or("(none)")
                ));
            }
        }
    }
    next.run(request).await
}
