//! `POST /api/v1` on the agent: the v1 operator API (JSON or protobuf).
//! Calls Corral does not answer get a 501 naming them; unknown ones a 400.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use prost_reflect::{DynamicMessage, Kind, ReflectMessage, Value};

use super::{
    agent_routes::{flags_json, metrics_json},
    files::{group_name, may_access, refusal, user_name, MAX_READ},
    http::error,
    operator::{flag_list, metric_list, operator_request, version_info},
};
use crate::{
    agent::{
        sandbox_files::{self, off_runtime, IO_TIMEOUT},
        Agent, ExecutorSummary,
    },
    domain::status::is_terminal,
    proto::v1::{
        self,
        agent::{call, response, Call, Response as AgentResponse},
        TaskState,
    },
    wire::codec::encode,
};

pub async fn handle(
    State(agent): State<Arc<Agent>>,
    principal: Option<axum::Extension<super::auth::Principal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    let (call, kind, accept): (Call, call::Type, _) =
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
        call::Type::GetState => {
            let executors = agent.executors();
            let agent_id = agent.lock().agent_id.clone().unwrap_or_default();
            r.get_state = Some(response::GetState {
                get_tasks: Some(tasks(&executors, &agent_id)),
                get_executors: Some(executor_list(&executors)),
                get_frameworks: Some(frameworks(&executors)),
            });
            response::Type::GetState
        }
        call::Type::GetContainers => {
            match tokio::task::spawn_blocking(move || containers(&agent)).await {
                Ok(containers) => r.get_containers = Some(containers),
                Err(e) => return error(500, format!("cannot collect usage: {e}")),
            }
            response::Type::GetContainers
        }
        call::Type::GetFrameworks => {
            r.get_frameworks = Some(frameworks(&agent.executors()));
            response::Type::GetFrameworks
        }
        call::Type::GetExecutors => {
            r.get_executors = Some(executor_list(&agent.executors()));
            response::Type::GetExecutors
        }
        call::Type::GetTasks => {
            let agent_id = agent.lock().agent_id.clone().unwrap_or_default();
            r.get_tasks = Some(tasks(&agent.executors(), &agent_id));
            response::Type::GetTasks
        }
        call::Type::ListFiles => {
            let Some(list) = call.list_files else {
                return error(400, "expecting 'list_files' to be present");
            };
            if let Some(refused) = may_access(&agent, principal.as_deref(), &list.path) {
                return refused;
            }
            match list_files(&agent, list.path).await {
                Ok(listed) => r.list_files = Some(listed),
                Err(refused) => return refused,
            }
            response::Type::ListFiles
        }
        call::Type::ReadFile => {
            let Some(read) = call.read_file else {
                return error(400, "expecting 'read_file' to be present");
            };
            if let Some(refused) = may_access(&agent, principal.as_deref(), &read.path) {
                return refused;
            }
            match read_file(&agent, read).await {
                Ok(data) => r.read_file = Some(data),
                Err(refused) => return refused,
            }
            response::Type::ReadFile
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
fn frameworks(executors: &[ExecutorSummary]) -> response::GetFrameworks {
    let mut by_id: BTreeMap<&str, (bool, &v1::FrameworkInfo)> = BTreeMap::new();
    for e in executors {
        let entry = by_id
            .entry(&e.framework_id)
            .or_insert((false, &e.framework_info));
        entry.0 |= !e.completed;
    }
    let mut out = response::GetFrameworks::default();
    for (live, info) in by_id.into_values() {
        let framework = response::get_frameworks::Framework {
            framework_info: info.clone(),
        };
        if live {
            out.frameworks.push(framework);
        } else {
            out.completed_frameworks.push(framework);
        }
    }
    out
}

/// Running executors, and those that ended (the most recent ones).
fn executor_list(executors: &[ExecutorSummary]) -> response::GetExecutors {
    let mut out = response::GetExecutors::default();
    for e in executors {
        let mut info = e.info.clone();
        info.framework_id.get_or_insert_with(|| v1::FrameworkId {
            value: e.framework_id.clone(),
        });
        let entry = response::get_executors::Executor {
            executor_info: info,
        };
        if e.completed {
            out.completed_executors.push(entry);
        } else {
            out.executors.push(entry);
        }
    }
    out
}

/// A task of `e` as `mesos.v1.Task`.
fn task(
    e: &ExecutorSummary,
    info: &v1::TaskInfo,
    state: TaskState,
    since: f64,
    agent_id: &str,
) -> v1::Task {
    v1::Task {
        name: info.name.clone(),
        task_id: info.task_id.clone(),
        framework_id: v1::FrameworkId {
            value: e.framework_id.clone(),
        },
        executor_id: info.executor.as_ref().map(|x| x.executor_id.clone()),
        agent_id: v1::AgentId {
            value: if e.agent_id.is_empty() {
                agent_id.to_owned()
            } else {
                e.agent_id.clone()
            },
        },
        state: state as i32,
        resources: info.resources.clone(),
        statuses: vec![v1::TaskStatus {
            task_id: info.task_id.clone(),
            state: state as i32,
            timestamp: Some(since),
            agent_id: Some(v1::AgentId {
                value: if e.agent_id.is_empty() {
                    agent_id.to_owned()
                } else {
                    e.agent_id.clone()
                },
            }),
            container_status: Some(v1::ContainerStatus {
                container_id: Some(v1::ContainerId {
                    value: e.container_id.clone(),
                    parent: None,
                }),
                executor_pid: None,
            }),
            ..Default::default()
        }],
        status_update_state: None,
        status_update_uuid: None,
        labels: info.labels.clone(),
        container: info.container.clone(),
        user: info.command.as_ref().and_then(|c| c.user.clone()),
        kill_policy: info.kill_policy,
    }
}

/// Tasks by where they are: queued for an executor that has not
/// subscribed, launched, ended but not acknowledged, and completed.
fn tasks(executors: &[ExecutorSummary], agent_id: &str) -> response::GetTasks {
    let mut out = response::GetTasks::default();
    for e in executors {
        for record in &e.tasks {
            let t = task(e, &record.info, record.state, record.since, agent_id);
            if e.completed {
                out.completed_tasks.push(t);
            } else if is_terminal(record.state) {
                out.terminated_tasks.push(t);
            } else {
                out.launched_tasks.push(t);
            }
        }
        if !e.completed {
            out.queued_tasks.extend(
                e.queued
                    .iter()
                    .map(|info| task(e, info, TaskState::TaskStaging, 0.0, agent_id)),
            );
        }
        out.completed_tasks.extend(
            e.finished
                .iter()
                .map(|t| task(e, &t.info, t.state, t.since, agent_id)),
        );
    }
    out
}

/// The running containers, with their executors and usage (isolator calls:
/// run off the runtime).
fn containers(agent: &Agent) -> response::GetContainers {
    response::GetContainers {
        containers: agent
            .executors()
            .into_iter()
            .filter(|e| !e.completed)
            .map(|e| {
                let usage = agent.containerizer.usage(&e.container_id);
                let container_id = v1::ContainerId {
                    value: e.container_id,
                    parent: None,
                };
                response::get_containers::Container {
                    framework_id: Some(v1::FrameworkId {
                        value: e.framework_id,
                    }),
                    executor_id: Some(v1::ExecutorId {
                        value: e.executor_id,
                    }),
                    executor_name: Some(e.name),
                    container_status: Some(v1::ContainerStatus {
                        container_id: Some(container_id.clone()),
                        executor_pid: None,
                    }),
                    container_id,
                    resource_statistics: Some(resource_statistics(usage)),
                }
            })
            .collect(),
    }
}

/// Isolators' usage figures as `ResourceStatistics`: each fills the field
/// of its name (a figure with no such field is left out).
fn resource_statistics(figures: Vec<(String, f64)>) -> v1::ResourceStatistics {
    let mut stats = v1::ResourceStatistics {
        timestamp: crate::domain::status::now_seconds(),
        ..Default::default()
    };
    let descriptor = stats.descriptor();
    let mut message = DynamicMessage::new(descriptor.clone());
    for (name, figure) in figures {
        let Some(field) = descriptor.get_field_by_name(&name) else {
            continue;
        };
        let value = match field.kind() {
            Kind::Double => Value::F64(figure),
            Kind::Uint32 => Value::U32(figure.max(0.0) as u32),
            Kind::Uint64 => Value::U64(figure.max(0.0) as u64),
            _ => continue,
        };
        message.set_field(&field, value);
    }
    if let Ok(filled) = message.transcode_to::<v1::ResourceStatistics>() {
        let timestamp = stats.timestamp;
        stats = filled;
        stats.timestamp = timestamp;
    }
    stats
}

/// LIST_FILES: a sandbox directory's entries, with every protection
/// `/files/browse` has.
async fn list_files(agent: &Agent, path: String) -> Result<response::ListFiles, Response> {
    let work_dir = agent.config.work_dir.clone();
    let listed = off_runtime(&path.clone(), IO_TIMEOUT, move || {
        let entries = sandbox_files::list_dir(&work_dir, &path)?;
        Ok(entries
            .into_iter()
            .map(|e| v1::FileInfo {
                path: Path::new(&path).join(&e.name).display().to_string(),
                nlink: i32::try_from(e.nlink).ok(),
                size: Some(e.size),
                mtime: Some(v1::TimeInfo {
                    nanoseconds: e.mtime.saturating_mul(1_000_000_000),
                }),
                mode: Some(e.mode),
                uid: Some(user_name(e.uid)),
                gid: Some(group_name(e.gid)),
            })
            .collect())
    })
    .await;
    match listed {
        Ok(file_infos) => Ok(response::ListFiles { file_infos }),
        Err(e) => Err(refusal(&e)),
    }
}

/// READ_FILE: up to `length` bytes (capped) of a sandbox file from
/// `offset`, and the file's size.
async fn read_file(agent: &Agent, read: call::ReadFile) -> Result<response::ReadFile, Response> {
    let work_dir = agent.config.work_dir.clone();
    let path = read.path.clone();
    let result = off_runtime(&read.path, IO_TIMEOUT, move || {
        let file = sandbox_files::open_file(&work_dir, &path)?;
        let offset = read.offset.min(file.size);
        let length = read.length.map_or(MAX_READ, |l| l.min(MAX_READ));
        let data = file.read_at(offset, length)?;
        Ok(response::ReadFile {
            size: file.size,
            data,
        })
    })
    .await;
    result.map_err(|e| refusal(&e))
}
