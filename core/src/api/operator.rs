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
    domain::{convert::resources_to_proto, Resource},
    master::{lock, Master, SharedMaster},
    proto::v1::{
        self,
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
    let (call, kind, accept): (Call, call::Type, _) =
        match operator_request(&headers, &body, |c: &Call| {
            c.r#type.and_then(|t| call::Type::try_from(t).ok())
        }) {
            Ok(parts) => parts,
            Err((status, message)) => return error(status, message),
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

fn answer(master: &Master, kind: call::Type, call: &Call) -> Answer {
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
            });
        }),
        call::Type::GetAgents => {
            let agents = agents(master);
            respond(response::Type::GetAgents, |r| r.get_agents = Some(agents))
        }
        call::Type::GetFrameworks => {
            let frameworks = frameworks(master);
            respond(response::Type::GetFrameworks, |r| {
                r.get_frameworks = Some(frameworks);
            })
        }
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

fn agents(master: &Master) -> response::GetAgents {
    let h = master_state::Index::new(master);
    let agents = master
        .agents()
        .values()
        .map(|a| {
            let mut info = a.info.clone();
            info.id = Some(v1::AgentId {
                value: a.id.clone(),
            });
            response::get_agents::Agent {
                total_resources: info.resources.clone(),
                agent_info: info,
                active: a.connected(),
                deactivated: Some(!a.connected()),
                version: crate::VERSION.to_owned(),
                pid: Some(format!("slave(1)@{}", a.endpoint)),
                registered_time: None,
                reregistered_time: None,
                allocated_resources: resources_to_proto(
                    h.used_by_agent
                        .get(&a.id)
                        .map(Vec::as_slice)
                        .unwrap_or_default(),
                ),
                offered_resources: resources_to_proto(
                    h.offered_by_agent
                        .get(&a.id)
                        .map(Vec::as_slice)
                        .unwrap_or_default(),
                ),
            }
        })
        .collect();
    response::GetAgents { agents }
}

fn frameworks(master: &Master) -> response::GetFrameworks {
    let h = master_state::Index::new(master);
    let view = |f: &crate::master::FrameworkState, active: bool| {
        let offers = h
            .offers_by_framework
            .get(&f.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let offered: Vec<Resource> = offers
            .iter()
            .flat_map(|o| o.resources.iter().cloned())
            .collect();
        let used = master_state::live_resources(f.tasks.values());
        let mut info = f.info.clone();
        info.id = Some(v1::FrameworkId {
            value: f.id.clone(),
        });
        response::get_frameworks::Framework {
            framework_info: info,
            active,
            connected: active,
            recovered: false,
            registered_time: None,
            reregistered_time: None,
            unregistered_time: None,
            offers: offers
                .iter()
                .map(|o| v1::Offer {
                    id: v1::OfferId {
                        value: o.id.clone(),
                    },
                    framework_id: v1::FrameworkId {
                        value: o.framework_id.clone(),
                    },
                    agent_id: v1::AgentId {
                        value: o.agent_id.clone(),
                    },
                    hostname: master
                        .agents()
                        .get(&o.agent_id)
                        .map(|a| a.info.hostname.clone())
                        .unwrap_or_default(),
                    resources: resources_to_proto(&o.resources),
                    ..Default::default()
                })
                .collect(),
            allocated_resources: resources_to_proto(&used),
            offered_resources: resources_to_proto(&offered),
        }
    };
    response::GetFrameworks {
        frameworks: master
            .frameworks()
            .values()
            .map(|f| view(f, f.connected()))
            .collect(),
        completed_frameworks: master
            .completed_frameworks()
            .iter()
            .map(|f| view(f, false))
            .collect(),
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
