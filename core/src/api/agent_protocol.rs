//! The master's side of Corral's agent protocol (`/agent/v1/*`), protobuf
//! over HTTP: agents subscribe to a stream of master events and post calls.

use axum::{
    body::Bytes,
    extract::{Extension, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use super::auth::Principal;
use super::http::{call_error, error, event_stream, header_str, streaming_response, OnDrop};
use crate::{
    domain::ids::{validate_id, IdKind},
    master::{lock, SharedMaster},
    proto::agent::{AgentCall, Subscribe},
    wire::{
        agent_protocol::{PROTOCOL_HEADER, PROTOCOL_VERSION},
        codec::{decode, Encoding},
    },
};

/// An agent this master cannot talk to (a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ProtocolMismatch {
    #[error(
        "agent speaks agent protocol version {0}; this master speaks version {PROTOCOL_VERSION}"
    )]
    Version(String),
    #[error("missing '{PROTOCOL_HEADER}' header")]
    MissingHeader,
}

fn check_version(headers: &HeaderMap) -> Result<(), ProtocolMismatch> {
    match header_str(headers, PROTOCOL_HEADER) {
        Some(v) if v.trim() == PROTOCOL_VERSION.to_string() => Ok(()),
        Some(v) => Err(ProtocolMismatch::Version(v.to_owned())),
        None => Err(ProtocolMismatch::MissingHeader),
    }
}

pub async fn subscribe(
    State(master): State<SharedMaster>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = principal.map(|Extension(p)| p.0);
    if let Err(mismatch) = check_version(&headers) {
        return error(400, mismatch.to_string());
    }
    let subscribe: Subscribe = match decode(&body, Encoding::Protobuf) {
        Ok(s) => s,
        Err(e) => return error(400, e.to_string()),
    };
    if subscribe.protocol_version != PROTOCOL_VERSION {
        let mismatch = ProtocolMismatch::Version(subscribe.protocol_version.to_string());
        return error(400, mismatch.to_string());
    }
    // The agent's own id (when it re-registers) names its sandboxes'
    // directory; a master must not record one that is not a plain name.
    if let Some(id) = &subscribe.agent_info.id {
        if let Err(e) = validate_id(IdKind::Agent, &id.value) {
            return error(400, e.to_string());
        }
    }
    let (agent_id, connection, events) = {
        let mut m = lock(&master);
        if let Err(e) = m.check_agent_registration(principal.as_deref()) {
            return call_error(&e);
        }
        if let Some(id) = &subscribe.agent_info.id {
            if let Err(e) = m.check_agent(&id.value, principal.as_deref()) {
                return call_error(&e);
            }
        }
        m.agent_subscribe(subscribe, principal.as_deref())
    };
    let on_close = OnDrop::new(move || lock(&master).agent_disconnected(&agent_id, connection));
    streaming_response(
        Encoding::Protobuf,
        &[],
        event_stream(events, Encoding::Protobuf, None, on_close),
    )
}

pub async fn call(
    State(master): State<SharedMaster>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = principal.map(|Extension(p)| p.0);
    if let Err(mismatch) = check_version(&headers) {
        return error(400, mismatch.to_string());
    }
    let call: AgentCall = match decode(&body, Encoding::Protobuf) {
        Ok(c) => c,
        Err(e) => return error(400, e.to_string()),
    };
    if let Err(e) = validate_id(IdKind::Agent, &call.agent_id.value) {
        return error(400, e.to_string());
    }
    let mut m = lock(&master);
    if let Err(e) = m.check_agent(&call.agent_id.value, principal.as_deref()) {
        return call_error(&e);
    }
    match m.agent_call(call) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => call_error(&e),
    }
}
