//! `POST /api/v1` on the master: the v1 operator API (JSON or protobuf,
//! like the scheduler API). Calls Corral does not answer yet get a 501
//! naming them; unknown ones a 400.

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};

use super::{
    http::{error, header_str, request_encoding},
    master_state,
};
use crate::{
    master::{lock, SharedMaster},
    proto::v1::{
        master::{call, response, Call, Response as OperatorResponse},
        Flag, Metric, VersionInfo,
    },
    wire::codec::{decode, encode, Encoding},
};

pub async fn handle(
    State(master): State<SharedMaster>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let encoding = match request_encoding(&headers) {
        Ok(e) => e,
        Err((status, message)) => return error(status, message),
    };
    let Some(accept) = Encoding::from_accept(header_str(&headers, "accept")) else {
        return error(
            406,
            "expecting 'Accept' to allow application/json or application/x-protobuf",
        );
    };
    let call: Call = match decode(&body, encoding) {
        Ok(call) => call,
        Err(e) => return error(400, e.to_string()),
    };
    let Some(kind) = call.r#type.and_then(|t| call::Type::try_from(t).ok()) else {
        return error(400, "expecting 'type' to be present and a known call type");
    };
    let answer = {
        let master = lock(&master);
        answer(&master, kind, &call)
    };
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

fn answer(master: &crate::master::Master, kind: call::Type, call: &Call) -> Answer {
    match kind {
        call::Type::GetHealth => respond(response::Type::GetHealth, |r| {
            r.get_health = Some(response::GetHealth { healthy: true });
        }),
        call::Type::GetFlags => {
            let flags = master_state::flags(master);
            let list = flags["flags"]
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
                .collect();
            respond(response::Type::GetFlags, |r| {
                r.get_flags = Some(response::GetFlags { flags: list });
            })
        }
        call::Type::GetVersion => respond(response::Type::GetVersion, |r| {
            r.get_version = Some(response::GetVersion {
                version_info: VersionInfo {
                    version: crate::VERSION.to_owned(),
                    build_date: None,
                    build_time: None,
                    build_user: None,
                    git_sha: None,
                    git_branch: None,
                    git_tag: None,
                },
            });
        }),
        call::Type::GetMetrics => {
            let metrics = master_state::metrics(master)
                .into_iter()
                .map(|(name, value)| Metric {
                    name,
                    value: Some(value),
                })
                .collect();
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
            });
        }),
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
