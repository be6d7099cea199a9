//! `POST /api/v1/scheduler`: the Mesos v1 scheduler API.

use axum::{
    body::Bytes,
    extract::{Extension, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use super::auth::Principal;
use super::http::{
    call_error, error, event_stream, header_str, request_encoding, streaming_response, OnDrop,
};
use crate::{
    master::{lock, SharedMaster},
    proto::v1::scheduler::{call, event, Call, Event},
    wire::codec::{decode, Encoding},
};

pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";

pub async fn handle(
    State(master): State<SharedMaster>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = principal.map(|Extension(p)| p.0);
    let encoding = match request_encoding(&headers) {
        Ok(e) => e,
        Err((status, message)) => return error(status, message),
    };
    let call: Call = match decode(&body, encoding) {
        Ok(call) => call,
        Err(e) => return error(400, e.to_string()),
    };
    let stream_id = header_str(&headers, STREAM_ID_HEADER).map(str::to_owned);
    if call.r#type == Some(call::Type::Subscribe as i32) {
        if stream_id.is_some() {
            return error(
                400,
                "Expecting 'Mesos-Stream-Id' header to be absent for a SUBSCRIBE call",
            );
        }
        let Some(accept) = Encoding::from_accept(header_str(&headers, "accept")) else {
            return error(
                406,
                "expecting 'Accept' to allow application/json or application/x-protobuf",
            );
        };
        return subscribe(master, call, accept, principal.as_deref());
    }
    let Some(stream_id) = stream_id else {
        return error(
            400,
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        );
    };
    // Calls may run hook modules: keep them off the async runtime.
    let result = tokio::task::spawn_blocking(move || {
        let mut m = lock(&master);
        let framework_id = call.framework_id.as_ref().map(|f| f.value.clone());
        m.check_caller(framework_id.as_deref(), principal.as_deref())?;
        m.handle_call(&stream_id, call)
    })
    .await;
    match result {
        Ok(Ok(())) => StatusCode::ACCEPTED.into_response(),
        Ok(Err(e)) => call_error(&e),
        Err(e) => error(500, format!("the call failed: {e}")),
    }
}

fn subscribe(
    master: SharedMaster,
    call: Call,
    accept: Encoding,
    principal: Option<&str>,
) -> Response {
    let Some(subscribe) = call.subscribe else {
        return error(400, "Expecting 'subscribe' to be present");
    };
    let call_framework_id = call.framework_id.as_ref().map(|f| f.value.as_str());
    let (framework_id, stream_id, events, heartbeat) = {
        let mut m = lock(&master);
        match m.subscribe(call_framework_id, subscribe, principal) {
            Ok((f, s, rx)) => (f, s, rx, m.settings().heartbeat_interval),
            Err(e) => return call_error(&e),
        }
    };
    let on_close = {
        let (master, framework_id, stream_id) =
            (master.clone(), framework_id.clone(), stream_id.clone());
        OnDrop::new(move || lock(&master).framework_disconnected(&framework_id, &stream_id))
    };
    let heartbeat_event = Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    };
    let body = event_stream(events, accept, Some((heartbeat_event, heartbeat)), on_close);
    streaming_response(accept, &[(STREAM_ID_HEADER, stream_id)], body)
}
