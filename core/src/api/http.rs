//! Pieces shared by the HTTP endpoints: error responses and RecordIO event
//! streams that tell their owner when the client goes away.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use futures::Stream;
use prost::Message;
use prost_reflect::ReflectMessage;
use tokio::sync::mpsc;

use crate::master::CallError;
use crate::wire::{
    codec::{encode, Encoding},
    recordio::record,
};

/// A plain-text error response, as Mesos answers bad calls.
pub fn error(status: u16, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// A refused master call, with the status Mesos answers it with.
pub fn call_error(e: &CallError) -> Response {
    let status = match e {
        CallError::Invalid(_) | CallError::BadId(_) | CallError::MissingField(_) => 400,
        CallError::NotSubscribed => 403,
        CallError::UnknownAgent(_) => 404,
        CallError::UnknownCall => 501,
    };
    error(status, e.to_string())
}

pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Runs its closure once, when dropped: the client closed the stream.
pub struct OnDrop(Option<Box<dyn FnOnce() + Send>>);

impl OnDrop {
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        OnDrop(Some(Box::new(f)))
    }
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

impl std::fmt::Debug for OnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnDrop")
    }
}

/// The listener with Nagle's algorithm off on every accepted connection:
/// event streams are small writes that should leave at once rather than
/// wait for the ACK of the previous one (clients, reqwest included, set
/// the same on their side).
pub fn no_delay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    })
}

/// Bytes of queued events gathered into one chunk of an event stream.
const CHUNK_BYTES: usize = 64 * 1024;

/// A RecordIO stream of `events`, with `heartbeat` (if any) sent whenever
/// `every` passes. The stream ends when the sender side is dropped;
/// `on_close` runs when the stream ends or the client leaves.
pub fn event_stream<E>(
    events: mpsc::UnboundedReceiver<Box<E>>,
    encoding: Encoding,
    heartbeat: Option<(E, Duration)>,
    on_close: OnDrop,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send
where
    E: Message + ReflectMessage + Clone + Send + 'static,
{
    let period = heartbeat
        .as_ref()
        .map_or(Duration::from_secs(3600), |(_, every)| *every);
    let ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    futures::stream::unfold(
        (events, ticker, heartbeat, on_close),
        move |(mut events, mut ticker, heartbeat, guard)| async move {
            let event = tokio::select! {
                biased;
                event = events.recv() => *event?,
                _ = ticker.tick(), if heartbeat.is_some() => heartbeat.as_ref()?.0.clone(),
            };
            let mut chunk = record(&encode(&event, encoding));
            // Events already queued go out in the same chunk: one write
            // for a burst (a reconciliation, a round of offers) instead of
            // one per event.
            while chunk.len() < CHUNK_BYTES {
                match events.try_recv() {
                    Ok(event) => chunk.extend_from_slice(&record(&encode(&*event, encoding))),
                    Err(_) => break,
                }
            }
            Some((Ok(Bytes::from(chunk)), (events, ticker, heartbeat, guard)))
        },
    )
}

/// A streaming 200 response with the given content type and extra headers.
pub fn streaming_response(
    encoding: Encoding,
    extra: &[(&'static str, String)],
    body: impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    response
}
