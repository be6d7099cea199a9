//! `POST /api/v1` on the agent: the v1 operator API (JSON or protobuf).
//! Calls Corral does not answer yet get a 501 naming them; unknown ones a
//! 400.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};

use super::{
    agent_routes::{flags_json, metrics_json},
    http::error,
    operator::{flag_list, metric_list, operator_request, version_info},
};
use crate::{
    agent::Agent,
    proto::v1::agent::{call, response, Call, Response as AgentResponse},
    wire::codec::encode,
};

pub async fn handle(State(agent): State<Arc<Agent>>, headers: HeaderMap, body: Bytes) -> Response {
    let (_call, kind, accept): (Call, call::Type, _) =
        match operator_request(&headers, &body, |c: &Call| {
            c.r#type.and_then(|t| call::Type::try_from(t).ok())
        }) {
            Ok(parts) => parts,
            Err((status, message)) => return error(status, message),
        };
    let mut r = AgentResponse::default();
    let answered = match kind {
        call::Type::GetHealth => {
            r.get_health = Some(response::GetHealth { healthy: true });
            response::Type::GetHealth
        }
        call::Type::GetFlags => {
            r.get_flags = Some(response::GetFlags {
                flags: flag_list(&flags_json(&agent)),
            });
            response::Type::GetFlags
        }
        call::Type::GetVersion => {
            r.get_version = Some(response::GetVersion {
                version_info: version_info(),
            });
            response::Type::GetVersion
        }
        call::Type::GetMetrics => {
            let figures = metrics_json(&agent)
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
                .collect::<Vec<_>>();
            r.get_metrics = Some(response::GetMetrics {
                metrics: metric_list(figures),
            });
            response::Type::GetMetrics
        }
        call::Type::GetLoggingLevel => {
            r.get_logging_level = Some(response::GetLoggingLevel { level: 0 });
            response::Type::GetLoggingLevel
        }
        call::Type::GetContainers => {
            r.get_containers = Some(containers(&agent));
            response::Type::GetContainers
        }
        call::Type::GetFrameworks => {
            r.get_frameworks = Some(frameworks(&agent));
            response::Type::GetFrameworks
        }
        call::Type::Unknown => return error(400, "expecting 'type' to be a known call type"),
        other => {
            return error(
                501,
                format!(
                    "{} is not implemented by Corral's v1 agent operator API (see docs/operator-api.md)",
                    other.as_str_name()
                ),
            )
        }
    };
    r.r#type = Some(answered as i32);
    (
        [(header::CONTENT_TYPE, accept.content_type())],
        encode(&r, accept),
    )
        .into_response()
}

/// The frameworks with executors on this agent: those with a running one,
/// and those whose executors have all ended (as `/state` lists them).
fn frameworks(agent: &Agent) -> response::GetFrameworks {
    let mut by_id: BTreeMap<String, (bool, crate::proto::v1::FrameworkInfo)> = BTreeMap::new();
    for e in agent.executors() {
        let entry = by_id
            .entry(e.framework_id.clone())
            .or_insert_with(|| (false, e.framework_info.clone()));
        entry.0 |= !e.completed;
    }
    let mut out = response::GetFrameworks::default();
    for (_, (live, info)) in by_id {
        let framework = response::get_frameworks::Framework {
            framework_info: info,
        };
        if live {
            out.frameworks.push(framework);
        } else {
            out.completed_frameworks.push(framework);
        }
    }
    out
}

/// The running containers, with their executors.
fn containers(agent: &Agent) -> response::GetContainers {
    use crate::proto::v1::{ContainerId, ExecutorId, FrameworkId};
    response::GetContainers {
        containers: agent
            .executors()
            .into_iter()
            .filter(|e| !e.completed)
            .map(|e| response::get_containers::Container {
                framework_id: Some(FrameworkId {
                    value: e.framework_id,
                }),
                executor_id: Some(ExecutorId {
                    value: e.executor_id,
                }),
                executor_name: Some(e.name),
                container_id: ContainerId {
                    value: e.container_id,
                    parent: None,
                },
            })
            .collect(),
    }
}
