//! `POST /api/v1` on the master: the v1 operator API (JSON or protobuf,
//! like the scheduler API). Calls Corral does not answer yet get a 501
//! naming them; unknown ones a 400.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Extension, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};

use futures::StreamExt;

use super::auth::{unauthorized, HttpAuth, Principal};
use super::{
    http::{error, header_str, record_stream, request_encoding, streaming_response, OnDrop},
    master_state::{self, Viewer},
    operator_state,
};

use crate::{
    master::{framed_event, heartbeat_event, lock, MasterSnapshot, SharedMaster},
    proto::v1::{
        master::{call, event, response, Call, Event, Response as OperatorResponse},
        Flag, Metric, VersionInfo,
    },
    wire::codec::{decode, encode, Encoding},
};

pub async fn handle(
    State(master): State<SharedMaster>,
    Extension(auth): Extension<Arc<HttpAuth>>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (call, kind, accept): (Call, call::Type, _) =
        match operator_request(&headers, &body, |c: &Call| {
            c.r#type.and_then(|t| call::Type::try_from(t).ok())
        }) {
            Ok(parts) => parts,
            Err((status, message)) => return error(status, message),
        };
    // Calls that change the cluster need credentials when
    // `authenticate_http_readwrite` is on (the route checks reads).
    let principal = principal.map(|Extension(p)| p.0);
    if kind == call::Type::Teardown && auth.http_readwrite && principal.is_none() {
        return unauthorized("TEARDOWN needs credentials (HTTP Basic)");
    }
    if let (call::Type::Teardown, Some(teardown)) = (kind, &call.teardown) {
        let checked =
            lock(&master).check_teardown(principal.as_deref(), &teardown.framework_id.value);
        if let Err(e) = checked {
            return super::http::call_error(&e);
        }
    }
    if kind == call::Type::Subscribe {
        return subscribe(master, accept, principal).await;
    }
    // A state of 100k tasks takes a while to gather and to encode (seconds
    // in JSON): off the async runtime, the lock held only for a snapshot.
    let answered = tokio::task::spawn_blocking(move || {
        // Reads answer from a snapshot, built and encoded off the lock.
        let snapshot = lock(&master).snapshot();
        let answer = answer(&snapshot, kind, &call, principal.as_deref());
        drop(snapshot);
        match answer {
            Answer::Response(r) => (
                [(header::CONTENT_TYPE, accept.content_type())],
                encode(r.as_ref(), accept),
            )
                .into_response(),
            Answer::Done(master_call) => match master_call {
                Some(work) => {
                    let mut master = lock(&master);
                    work(&mut master)
                }
                None => axum::http::StatusCode::OK.into_response(),
            },
            Answer::Error(status, message) => error(status, message),
        }
    })
    .await;
    answered.unwrap_or_else(|e| error(500, format!("the call failed: {e}")))
}

/// How long an operator's stream waits after an event for more to send
/// with it: with many subscribers, one write per event to each is what
/// costs the master most.
const EVENT_LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// SUBSCRIBE: `SUBSCRIBED` with the state, then every change, as a RecordIO
/// stream with heartbeats. The state is taken and the stream registered
/// under one lock, so no change falls between them; the state is encoded
/// after the lock is released.
async fn subscribe(master: SharedMaster, accept: Encoding, principal: Option<String>) -> Response {
    let opened = tokio::task::spawn_blocking(move || {
        let (snapshot, events, heartbeat) = {
            let mut m = lock(&master);
            (
                m.snapshot(),
                m.observe(accept, principal.as_deref()),
                m.settings().heartbeat_interval,
            )
        };
        // Built and encoded with the lock released (seconds for a large
        // state).
        let state = operator_state::state(&snapshot, Viewer::new(&snapshot, principal.as_deref()));
        drop(snapshot);
        let subscribed = Event {
            r#type: Some(event::Type::Subscribed as i32),
            subscribed: Some(event::Subscribed {
                get_state: Some(state),
                heartbeat_interval_seconds: Some(heartbeat.as_secs_f64()),
            }),
            ..Default::default()
        };
        (framed_event(&subscribed, accept), events, heartbeat)
    })
    .await;
    let Ok((subscribed, events, heartbeat)) = opened else {
        return error(500, "cannot take the master's state");
    };
    // Mesos sends a heartbeat at once, then one per interval. A stream
    // that ends is dropped from the master's list at its next change
    // (delivery to it fails).
    let beat = framed_event(&heartbeat_event(), accept);
    let first = futures::stream::iter([Ok(subscribed), Ok(beat.clone())]);
    let body = first.chain(record_stream(
        events,
        Some((beat, heartbeat)),
        EVENT_LINGER,
        OnDrop::new(|| {}),
    ));
    streaming_response(accept, &[], body)
}

type Work = Box<dyn FnOnce(&mut crate::master::Master) -> Response + Send>;

enum Answer {
    Response(Box<OperatorResponse>),
    /// A call with no response body, and the change it makes.
    Done(Option<Work>),
    Error(u16, String),
}

fn respond(kind: response::Type, fill: impl FnOnce(&mut OperatorResponse)) -> Answer {
    let mut r = OperatorResponse {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    fill(&mut r);
    Answer::Response(Box::new(r))
}

fn answer(
    master: &MasterSnapshot,
    kind: call::Type,
    call: &Call,
    principal: Option<&str>,
) -> Answer {
    let viewer = Viewer::new(master, principal);
    match kind {
        call::Type::GetHealth => respond(response::Type::GetHealth, |r| {
            r.get_health = Some(response::GetHealth { healthy: true });
        }),
        call::Type::GetFlags => {
            let flags = flag_list(&master_state::flags(master));
            respond(response::Type::GetFlags, |r| {
                r.get_flags = Some(response::GetFlags { flags });
            })
        }
        call::Type::GetVersion => respond(response::Type::GetVersion, |r| {
            r.get_version = Some(response::GetVersion {
                version_info: version_info(),
            });
        }),
        call::Type::GetMetrics => {
            let metrics = metric_list(master_state::metrics(master));
            respond(response::Type::GetMetrics, |r| {
                r.get_metrics = Some(response::GetMetrics { metrics });
            })
        }
        call::Type::GetLoggingLevel => respond(response::Type::GetLoggingLevel, |r| {
            r.get_logging_level = Some(response::GetLoggingLevel { level: 0 });
        }),
        call::Type::GetMaster => respond(response::Type::GetMaster, |r| {
            r.get_master = Some(response::GetMaster {
                master_info: Some(master.master_info()),
                start_time: Some(master.start_time()),
                elected_time: Some(master.start_time()),
            });
        }),
        call::Type::GetState => {
            let state = operator_state::state(master, viewer);
            respond(response::Type::GetState, |r| r.get_state = Some(state))
        }
        call::Type::GetAgents => {
            let agents = operator_state::agents(master);
            respond(response::Type::GetAgents, |r| r.get_agents = Some(agents))
        }
        call::Type::GetFrameworks => {
            let frameworks = operator_state::frameworks(master, viewer);
            respond(response::Type::GetFrameworks, |r| {
                r.get_frameworks = Some(frameworks);
            })
        }
        call::Type::GetExecutors => {
            let executors = operator_state::executors(master, viewer);
            respond(response::Type::GetExecutors, |r| {
                r.get_executors = Some(executors);
            })
        }
        call::Type::GetTasks => {
            let tasks = operator_state::tasks(master, viewer);
            respond(response::Type::GetTasks, |r| r.get_tasks = Some(tasks))
        }
        call::Type::GetRoles => {
            let roles = operator_state::roles(master);
            respond(response::Type::GetRoles, |r| r.get_roles = Some(roles))
        }
        call::Type::ListFiles => match &call.list_files {
            None => Answer::Error(400, "expecting 'list_files' to be present".into()),
            Some(list) => no_master_files(&list.path),
        },
        call::Type::ReadFile => match &call.read_file {
            None => Answer::Error(400, "expecting 'read_file' to be present".into()),
            Some(read) => no_master_files(&read.path),
        },
        call::Type::Teardown => {
            let Some(teardown) = &call.teardown else {
                return Answer::Error(400, "expecting 'teardown' to be present".into());
            };
            let id = teardown.framework_id.value.clone();
            if !master.frameworks().contains_key(&id) {
                return Answer::Error(400, format!("No framework found with specified ID '{id}'"));
            }
            Answer::Done(Some(Box::new(move |m: &mut crate::master::Master| {
                m.remove_framework(&id, "an operator tore it down (v1 operator API)");
                axum::http::StatusCode::OK.into_response()
            })))
        }
        call::Type::Unknown => {
            Answer::Error(400, "expecting 'type' to be a known call type".into())
        }
        other => Answer::Error(
            501,
            format!(
                "{} is not implemented by Corral's v1 operator API (see docs/operator-api.md)",
                other.as_str_name()
            ),
        ),
    }
}

/// LIST_FILES and READ_FILE on the master: it keeps no files of its own
/// (it logs to standard error), so no path is attached (Mesos' 404).
fn no_master_files(path: &str) -> Answer {
    Answer::Error(
        404,
        format!(
            "No file is attached at '{path}': the Corral master serves no files of its own \
             (it logs to standard error); read sandboxes through an agent's LIST_FILES/READ_FILE"
        ),
    )
}

/// `{"flags": {name: value}}` as the operator API's flag list.
pub(super) fn flag_list(flags: &serde_json::Value) -> Vec<Flag> {
    flags["flags"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| Flag {
            name: name.clone(),
            value: Some(
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned),
            ),
        })
        .collect()
}

/// Named figures as the operator API's metric list.
pub(super) fn metric_list(figures: impl IntoIterator<Item = (String, f64)>) -> Vec<Metric> {
    figures
        .into_iter()
        .map(|(name, value)| Metric {
            name,
            value: Some(value),
        })
        .collect()
}

pub(super) fn version_info() -> VersionInfo {
    VersionInfo {
        version: crate::VERSION.to_owned(),
        build_date: None,
        build_time: None,
        build_user: None,
        git_sha: None,
        git_branch: None,
        git_tag: None,
    }
}

/// The preamble of both daemons' `POST /api/v1`: the body's encoding from
/// `Content-Type`, the answer's from `Accept`, the call decoded, and its
/// type (`kind_of`); or the status and message to answer.
pub(super) fn operator_request<C, K>(
    headers: &HeaderMap,
    body: &[u8],
    kind_of: impl FnOnce(&C) -> Option<K>,
) -> Result<(C, K, Encoding), (u16, String)>
where
    C: prost::Message + prost_reflect::ReflectMessage + Default,
{
    let encoding = request_encoding(headers)?;
    let accept = Encoding::from_accept(header_str(headers, "accept")).ok_or((
        406,
        "expecting 'Accept' to allow application/json or application/x-protobuf".to_owned(),
    ))?;
    let call: C = decode(body, encoding).map_err(|e| (400, e.to_string()))?;
    let kind = kind_of(&call).ok_or((
        400,
        "expecting 'type' to be present and a known call type".to_owned(),
    ))?;
    Ok((call, kind, accept))
}
