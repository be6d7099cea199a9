//! Pieces shared by the HTTP endpoints: error responses and RecordIO event
//! streams that tell their owner when the client goes away.

use std::{convert::Infallible, time::Duration};

use crate::domain::EventReceiver;
use crate::master::CallError;
use crate::wire::json_out::MesosJson;
use crate::wire::{
    codec::{encode, Encoding},
    recordio::record,
};
use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use futures::Stream;
use prost::Message;

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
        CallError::NotSubscribed | CallError::Forbidden(_) => 403,
        CallError::UnknownAgent(_) => 404,
        CallError::UnknownCall => 501,
    };
    error(status, e.to_string())
}

/// `GET /version`'s body, on master and agent: `version` is the Mesos API
/// level Corral implements (clients gate on it), `corral_version` ours.
pub fn version_json() -> serde_json::Value {
    serde_json::json!({
        "version": crate::VERSION,
        "corral_version": env!("CARGO_PKG_VERSION"),
        "build_date": "",
        "build_time": 0,
        "build_user": "",
        "git_sha": "",
        "git_tag": "",
    })
}

/// The encoding of a v1 API request body from its `Content-Type`, or the
/// status and message to answer (400 without one, 415 for another type).
pub fn request_encoding(
    headers: &HeaderMap,
) -> Result<crate::wire::codec::Encoding, (u16, String)> {
    use crate::wire::codec::{CodecError, Encoding};
    Encoding::from_content_type(header_str(headers, "content-type")).map_err(|e| match e {
        CodecError::MissingContentType => (400, e.to_string()),
        other => (415, other.to_string()),
    })
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

/// Bytes of queued events (as charged by the queue: in-memory size plus
/// encoded length) taken at once and gathered into one chunk of an event
/// stream.
const CHUNK_BYTES: usize = 256 * 1024;

/// A RecordIO stream of `events`, with `heartbeat` (if any) sent whenever
/// `every` passes. The stream ends when the sender side is dropped (after
/// what was queued) or its queue overflows (at once); `on_close` runs when
/// the stream ends or the client leaves.
pub fn event_stream<E>(
    events: EventReceiver<E>,
    encoding: Encoding,
    heartbeat: Option<(E, Duration)>,
    on_close: OnDrop,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send
where
    E: Message + MesosJson + Clone + Send + 'static,
{
    stream_of(events, heartbeat, on_close, None, move |event, chunk| {
        chunk.extend_from_slice(&record(&encode(event, encoding)));
    })
}

/// A stream of records framed already (RecordIO), as [`event_stream`];
/// after a record comes, those that follow within `linger` go out in the
/// same write (fewer, larger writes to many streams at some latency).
pub fn record_stream(
    records: EventReceiver<Bytes>,
    heartbeat: Option<(Bytes, Duration)>,
    linger: Duration,
    on_close: OnDrop,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    stream_of(
        records,
        heartbeat,
        on_close,
        Some(linger),
        |framed: &Bytes, chunk| {
            chunk.extend_from_slice(framed);
        },
    )
}

/// Items of `events` (and `heartbeat` when it is due) written into chunks
/// by `render`; with `linger`, what is queued that long after the first
/// item joins its chunk.
fn stream_of<E: Send + 'static>(
    events: EventReceiver<E>,
    heartbeat: Option<(E, Duration)>,
    on_close: OnDrop,
    linger: Option<Duration>,
    render: impl Fn(&E, &mut Vec<u8>) + Copy + Send + 'static,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    let period = heartbeat
        .as_ref()
        .map_or(Duration::from_secs(3600), |(_, every)| *every);
    let ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    futures::stream::unfold(
        (events, ticker, heartbeat, on_close, Vec::new()),
        move |(mut events, mut ticker, heartbeat, guard, mut batch)| async move {
            // Events already queued go out in the same chunk: one write
            // for a burst (a reconciliation, a round of offers) instead of
            // one per event.
            let mut chunk = Vec::new();
            tokio::select! {
                biased;
                more = events.recv(CHUNK_BYTES, &mut batch) => {
                    if !more {
                        return None;
                    }
                    if let Some(linger) = linger {
                        tokio::time::sleep(linger).await;
                        events.take_ready(CHUNK_BYTES, &mut batch);
                    }
                    for event in batch.drain(..) {
                        render(&event, &mut chunk);
                    }
                }
                _ = ticker.tick(), if heartbeat.is_some() => {
                    render(&heartbeat.as_ref()?.0, &mut chunk);
                }
            };
            Some((
                Ok(Bytes::from(chunk)),
                (events, ticker, heartbeat, guard, batch),
            ))
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

/// The bodies of requests being read, over every connection of a daemon:
/// each byte is charged as it arrives and released when its request has
/// been answered, so that many large bodies at once cannot take the
/// daemon's memory.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: std::sync::Arc<tokio::sync::Semaphore>,
    total: usize,
    /// The largest body of one request.
    max_body: usize,
    read_timeout: Duration,
}

impl BodyBudget {
    pub fn new(limits: &crate::domain::limits::HttpLimits, max_body: usize) -> Self {
        let total = limits
            .body_budget_bytes
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        BodyBudget {
            bytes: std::sync::Arc::new(tokio::sync::Semaphore::new(total)),
            total,
            max_body: max_body.min(u32::MAX as usize),
            read_timeout: limits.body_read_timeout,
        }
    }
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
enum BodyRefusal {
    #[error("the request body is larger than the {0} bytes accepted")]
    TooLarge(usize),
    #[error(
        "too many request bodies are being read at once (their budget is {0} bytes); retry later"
    )]
    OverBudget(usize),
    #[error("the request body did not arrive within {0:?}")]
    Slow(Duration),
    #[error("cannot read the request body: {0}")]
    Broken(axum::Error),
}

impl BodyRefusal {
    fn into_response(self) -> Response {
        let status = match self {
            BodyRefusal::TooLarge(_) => 413,
            BodyRefusal::OverBudget(_) => 503,
            BodyRefusal::Slow(_) => 408,
            BodyRefusal::Broken(_) => 400,
        };
        let mut response = error(status, self.to_string());
        if status == 503 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status != 400 {
            // The rest of the body is not read: the connection cannot be
            // reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Middleware: reads the request's body within the daemon's [`BodyBudget`]
/// and `read_timeout`, then hands it on; its bytes stay charged until the
/// answer is ready (the handler decodes from them).
pub async fn bounded_body(
    axum::extract::State(budget): axum::extract::State<BodyBudget>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::body::HttpBody as _;
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > budget.max_body as u64) {
        return BodyRefusal::TooLarge(budget.max_body).into_response();
    }
    // A declared length that cannot fit now is refused before any of it
    // is read.
    if declared.is_some_and(|n| n as usize > budget.bytes.available_permits()) {
        tracing::warn!(path = %parts.uri.path(), budget = budget.total, "request body refused: the body budget is spent");
        return BodyRefusal::OverBudget(budget.total).into_response();
    }
    let read = read_body(&budget, body, declared.map_or(0, |n| n as usize));
    let (bytes, permit) = match tokio::time::timeout(budget.read_timeout, read).await {
        Err(_) => return BodyRefusal::Slow(budget.read_timeout).into_response(),
        Ok(Err(refusal)) => {
            if matches!(refusal, BodyRefusal::OverBudget(_)) {
                tracing::warn!(
                    path = %parts.uri.path(),
                    budget = budget.total,
                    "request body refused: the body budget is spent"
                );
            }
            return refusal.into_response();
        }
        Ok(Ok(read)) => read,
    };
    let response = next
        .run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await;
    drop(permit);
    response
}

async fn read_body(
    budget: &BodyBudget,
    body: Body,
    declared: usize,
) -> Result<(Bytes, Option<tokio::sync::OwnedSemaphorePermit>), BodyRefusal> {
    use futures::StreamExt;
    let mut held: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut buf = bytes::BytesMut::with_capacity(declared.min(budget.max_body));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyRefusal::Broken)?;
        if buf.len() + chunk.len() > budget.max_body {
            return Err(BodyRefusal::TooLarge(budget.max_body));
        }
        let more = budget
            .bytes
            .clone()
            .try_acquire_many_owned(chunk.len() as u32)
            .map_err(|_| BodyRefusal::OverBudget(budget.total))?;
        match &mut held {
            Some(p) => p.merge(more),
            None => held = Some(more),
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), held))
}
