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

/// The middleware of a route group guarded by `surface`.
pub async fn authenticate(
    State((auth, surface)): State<(Arc<HttpAuth>, Surface)>,
    mut request: Request,
    next: Next,
) -> Response {
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
    next.run(request).await
}
