//! `POST /api/v1/executor` on the agent: the Mesos v1 executor API.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use super::auth::{bearer, forbidden, unauthorized};
use super::http::{error, event_stream, header_str, streaming_response, OnDrop};
use crate::{
    agent::Agent,
    domain::ids::{validate_id, IdKind},
    proto::v1::executor::{call, event, Call, Event},
    wire::codec::{decode, CodecError, Encoding},
};

pub async fn handle(State(agent): State<Arc<Agent>>, headers: HeaderMap, body: Bytes) -> Response {
    let encoding = match Encoding::from_content_type(header_str(&headers, "content-type")) {
        Ok(e) => e,
        Err(e @ CodecError::MissingContentType) => return error(400, e.to_string()),
        Err(e) => return error(415, e.to_string()),
    };
    let call: Call = match decode(&body, encoding) {
        Ok(c) => c,
        Err(e) => return error(400, e.to_string()),
    };
    let framework_id = call.framework_id.value.clone();
    let executor_id = call.executor_id.value.clone();
    if framework_id.is_empty() || executor_id.is_empty() {
        return error(
            400,
            "Expecting 'framework_id' and 'executor_id' to be present",
        );
    }
    let checked = validate_id(IdKind::Framework, &framework_id)
        .and_then(|()| validate_id(IdKind::Executor, &executor_id));
    if let Err(e) = checked {
        return error(400, e.to_string());
    }
    // An executor may act only for itself: its token is bound to its
    // framework and id.
    if agent.config.authenticate_executors {
        let Some(token) = bearer(&headers) else {
            return unauthorized("executor calls need the executor's token (Authorization: Bearer, from MESOS_EXECUTOR_AUTHENTICATION_TOKEN)");
        };
        if !agent.token_key.verify(token, &framework_id, &executor_id) {
            tracing::warn!(
                framework_id,
                executor_id,
                "refused an executor call with another executor's token"
            );
            return forbidden(format!(
                "the token is not executor {executor_id}'s of framework {framework_id}"
            ));
        }
    }
    match call.r#type.and_then(|t| call::Type::try_from(t).ok()) {
        Some(call::Type::Subscribe) => {
            let Some(accept) = Encoding::from_accept(header_str(&headers, "accept")) else {
                return error(
                    406,
                    "expecting 'Accept' to allow application/json or application/x-protobuf",
                );
            };
            match agent.executor_subscribe(&framework_id, &executor_id) {
                Ok((connection, events)) => {
                    let on_close = {
                        let agent = agent.clone();
                        OnDrop::new(move || {
                            agent.executor_disconnected(&framework_id, &executor_id, connection)
                        })
                    };
                    let heartbeat = Event {
                        r#type: Some(event::Type::Heartbeat as i32),
                        ..Default::default()
                    };
                    let every = agent.config.executor_heartbeat_interval;
                    streaming_response(
                        accept,
                        &[],
                        event_stream(events, accept, Some((heartbeat, every)), on_close),
                    )
                }
                Err((status, message)) => error(status, message),
            }
        }
        Some(call::Type::Update) => {
            let Some(update) = call.update else {
                return error(400, "Expecting 'update' to be present");
            };
            match agent.executor_update(&framework_id, &executor_id, update.status) {
                Ok(()) => StatusCode::ACCEPTED.into_response(),
                Err((status, message)) => error(status, message),
            }
        }
        Some(call::Type::Message) => {
            let Some(message) = call.message else {
                return error(400, "Expecting 'message' to be present");
            };
            agent.executor_message(&framework_id, &executor_id, message.data);
            StatusCode::ACCEPTED.into_response()
        }
        Some(call::Type::Heartbeat) => StatusCode::ACCEPTED.into_response(),
        Some(call::Type::Unknown) => error(501, "Received an unexpected 'UNKNOWN' call"),
        None => error(400, "Expecting 'type' to be present"),
    }
}
