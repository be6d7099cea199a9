//! The HTTP server of both daemons: a tokio accept loop over hyper-util's
//! connection builder, with the bounds of [`HttpLimits`]:
//!
//! - headers must arrive within `header_read_timeout` (hyper's timer,
//!   which also bounds how long a keep-alive connection idles between
//!   requests, but never runs while a response is streamed);
//! - at most `connection_cap()` connections; the last
//!   `reserved_connections` of them serve only the paths the daemon keeps
//!   them for (`/health`, the agent protocol) with a short header timeout;
//!   past the cap a connection is closed as soon as it is accepted;
//! - an accept error (EMFILE, ENFILE, ENOBUFS, ENOMEM) is logged and
//!   retried after a backoff (5 ms doubling to 1 s), never in a busy loop;
//! - on shutdown, accepting stops and every open connection is let finish
//!   (the daemon ends its event streams).

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::{
    extract::Request,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Router,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};

use crate::domain::limits::HttpLimits;

/// Which requests a reserved connection may make.
pub(crate) type Reserved = fn(&Request) -> bool;

/// Connections refused at the cap, for the log line.
#[derive(Debug, Default)]
struct Refused {
    count: AtomicU64,
}

fn builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// Serves `router` on `listener` until `signal` completes, then waits for
/// the open connections to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &HttpLimits,
    reserved: Reserved,
    tls: Option<tokio_rustls::TlsAcceptor>,
    signal: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let handshake_timeout = limits.header_read_timeout;
    let cap = limits.connection_cap();
    let kept = limits.reserved_connections.min(cap.saturating_sub(1));
    let general = Arc::new(Semaphore::new(cap - kept));
    let reserve = Arc::new(Semaphore::new(kept));
    let normal = Arc::new(builder(limits.header_read_timeout));
    let restricted = Arc::new(builder(limits.reserved_header_read_timeout));
    let reserved_router = router
        .clone()
        .layer(middleware::from_fn_with_state(reserved, reserved_only));
    let graceful = GracefulShutdown::new();
    let refused = Refused::default();
    let mut last_warning: Option<Instant> = None;
    let mut backoff = MIN_BACKOFF;
    tracing::debug!(cap, reserved = kept, "serving");
    tokio::pin!(signal);
    loop {
        let stream = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff = MIN_BACKOFF;
                    stream
                }
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot accept a connection");
                    tokio::select! {
                        () = &mut signal => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        let (permit, is_reserved) = match general.clone().try_acquire_owned() {
            Ok(p) => (p, false),
            Err(_) => match reserve.clone().try_acquire_owned() {
                Ok(p) => (p, true),
                Err(_) => {
                    let n = refused.count.fetch_add(1, Ordering::Relaxed) + 1;
                    if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        last_warning = Some(Instant::now());
                        tracing::warn!(
                            cap,
                            refused_so_far = n,
                            "too many connections open: closing new ones"
                        );
                    }
                    drop(stream);
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            // Event streams are small writes that should leave at once.
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let (builder, service) = if is_reserved {
            (restricted.clone(), reserved_router.clone())
        } else {
            (normal.clone(), router.clone())
        };
        let watcher = graceful.watcher();
        let service = tower::ServiceExt::map_request(service, trim_trailing_slash);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(service);
            let ended = match tls {
                None => {
                    watcher
                        .watch(
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service),
                        )
                        .await
                }
                // A handshake that does not finish in time (a slow or idle
                // client) closes the connection, as a slow header does.
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(secure)) => {
                            watcher
                                .watch(
                                    builder.serve_connection_with_upgrades(
                                        TokioIo::new(secure),
                                        service,
                                    ),
                                )
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A trailing slash is ignored on every endpoint, as Mesos' routes ignore
/// it: `/master/frameworks/` is `/master/frameworks`.
fn trim_trailing_slash<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let with_query = match request.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(pq) = axum::http::uri::PathAndQuery::try_from(with_query) {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

const MIN_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Errors of one connection, not of the listener: try the next at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
    )
}

/// On a reserved connection, only what it is kept for is served.
async fn reserved_only(
    axum::extract::State(allowed): axum::extract::State<Reserved>,
    request: Request,
    next: Next,
) -> Response {
    if allowed(&request) {
        return next.run(request).await;
    }
    let mut response = crate::api::http::error(
        503,
        "too many connections are open; this one is kept for health checks and agents",
    );
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response.into_response()
}
