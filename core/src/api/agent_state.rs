//! The agent's `/state` (`/slave(1)/state`) in Mesos' JSON shape: the keys
//! Mesos' agent always writes, for the agent, its frameworks, executors
//! and tasks (what `mesos-ps`, `mesos-tail` and monitoring read).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{agent_routes::flags_json, master_state::resources_object};
use crate::{
    agent::{Agent, ExecutorSummary, TaskRecord},
    domain::{
        convert::{labels_from_proto, resources_from_proto},
        status::now_seconds,
        Resource,
    },
    proto::v1,
    wire::codec::{encode, Encoding},
};

/// A protobuf message as the v1 API's JSON.
fn proto_json(message: &(impl prost::Message + crate::wire::json_out::MesosJson)) -> Value {
    serde_json::from_slice(&encode(message, Encoding::Json)).unwrap_or(Value::Null)
}

/// A framework's role as Mesos' agent writes it.
fn role_of(info: &v1::FrameworkInfo) -> String {
    info.roles
        .first()
        .cloned()
        .or_else(|| info.role.clone())
        .unwrap_or_else(|| "*".to_owned())
}

/// What an executor's container holds: the executor's resources and its
/// live tasks'.
fn executor_resources(e: &ExecutorSummary) -> Vec<Resource> {
    let mut all = resources_from_proto(&e.info.resources);
    for t in e.tasks.iter().filter(|t| !e.completed && !is_ended(t)) {
        all.extend(resources_from_proto(&t.info.resources));
    }
    all
}

fn is_ended(t: &TaskRecord) -> bool {
    crate::domain::status::is_terminal(t.state)
}

/// A task in Mesos' `Task` JSON: its latest state is its one status.
fn task_json(e: &ExecutorSummary, t: &TaskRecord, agent_id: &str, role: &str) -> Value {
    let mut task = json!({
        "id": t.info.task_id.value,
        "name": t.info.name,
        "framework_id": e.framework_id,
        "executor_id": e.executor_id,
        "slave_id": agent_id,
        "state": t.state.as_str_name(),
        "resources": resources_object(&resources_from_proto(&t.info.resources)),
        "role": role,
        "statuses": [{
            "state": t.state.as_str_name(),
            "timestamp": t.since,
            "container_status": {"container_id": {"value": e.container_id}},
        }],
    });
    if t.info.labels.is_some() {
        task["labels"] = labels_json(t.info.labels.as_ref());
    }
    task
}

fn labels_json(labels: Option<&v1::Labels>) -> Value {
    labels_from_proto(labels)
        .into_iter()
        .map(|kv| json!({"key": kv.key, "value": kv.value}))
        .collect()
}

/// A task queued for an executor that has not subscribed, in Mesos'
/// `TaskInfo` JSON (no state yet).
fn queued_json(e: &ExecutorSummary, info: &v1::TaskInfo, agent_id: &str, role: &str) -> Value {
    json!({
        "id": info.task_id.value,
        "name": info.name,
        "executor_id": e.executor_id,
        "framework_id": e.framework_id,
        "slave_id": agent_id,
        "resources": resources_object(&resources_from_proto(&info.resources)),
        "role": role,
    })
}

fn executor_json(e: &ExecutorSummary, agent_id: &str) -> Value {
    let role = role_of(&e.framework_info);
    let task = |t: &TaskRecord| task_json(e, t, agent_id, &role);
    // A finished executor's tasks have all ended, acknowledged or not.
    let (tasks, queued, completed): (Vec<Value>, Vec<Value>, Vec<Value>) = if e.completed {
        (
            vec![],
            vec![],
            e.tasks.iter().chain(&e.finished).map(task).collect(),
        )
    } else {
        (
            e.tasks.iter().map(task).collect(),
            e.queued
                .iter()
                .map(|t| queued_json(e, t, agent_id, &role))
                .collect(),
            e.finished.iter().map(task).collect(),
        )
    };
    let resources = executor_resources(e);
    let mut executor = json!({
        "id": e.executor_id,
        "name": e.name,
        "source": e.source,
        "container": e.container_id,
        "directory": e.sandbox.display().to_string(),
        "resources": resources_object(&resources),
        "tasks": tasks,
        "queued_tasks": queued,
        "completed_tasks": completed,
    });
    if !resources.is_empty() {
        executor["role"] = json!(role);
    }
    if let Some(kind) = e.info.r#type {
        if let Ok(kind) = v1::executor_info::Type::try_from(kind) {
            executor["type"] = json!(kind.as_str_name());
        }
    }
    if e.info.labels.is_some() {
        executor["labels"] = labels_json(e.info.labels.as_ref());
    }
    executor
}

fn framework_json(info: &v1::FrameworkInfo, id: &str) -> Value {
    let mut framework = json!({
        "id": id,
        "name": info.name,
        "user": info.user,
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "checkpoint": info.checkpoint.unwrap_or(false),
        "hostname": info.hostname.clone().unwrap_or_default(),
        "role": role_of(info),
        "executors": [],
        "completed_executors": [],
    });
    if !info.roles.is_empty() {
        framework["roles"] = json!(info.roles);
    }
    if let Some(principal) = &info.principal {
        framework["principal"] = json!(principal);
    }
    framework
}

/// `GET /state`: the agent, its resources and what runs on it.
pub fn state(agent: &Agent) -> Value {
    let agent_id = agent.lock().agent_id.clone().unwrap_or_default();
    let executors = agent.executors();
    let mut frameworks: BTreeMap<&str, (bool, Value)> = BTreeMap::new();
    let mut allocated: Vec<Resource> = Vec::new();
    for e in &executors {
        let (live, framework) = frameworks
            .entry(&e.framework_id)
            .or_insert_with(|| (false, framework_json(&e.framework_info, &e.framework_id)));
        *live |= !e.completed;
        let list = if e.completed {
            "completed_executors"
        } else {
            allocated.extend(executor_resources(e));
            "executors"
        };
        if let Some(array) = framework[list].as_array_mut() {
            array.push(executor_json(e, &agent_id));
        }
    }
    // A framework with no running executor has left the agent (Mesos
    // removes it then): it is listed as completed.
    let (live, completed): (Vec<_>, Vec<_>) = frameworks.into_values().partition(|(live, _)| *live);
    let total = &agent.config.resources_detected;
    let total_full: Vec<Value> = crate::domain::convert::resources_to_proto(total)
        .iter()
        .map(proto_json)
        .collect();
    let master_hostname = agent
        .config
        .master
        .rsplit_once(':')
        .map_or(agent.config.master.as_str(), |(host, _)| host);
    json!({
        "version": crate::VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "",
        "start_time": now_seconds() - agent.started.elapsed().as_secs_f64(),
        "id": agent_id,
        "pid": format!("slave(1)@{}", agent.endpoint),
        "hostname": agent.config.hostname,
        "capabilities": [],
        "resources": resources_object(total),
        "reserved_resources": {},
        "unreserved_resources": resources_object(total),
        "reserved_resources_full": {},
        "unreserved_resources_full": total_full,
        "reserved_resources_allocated": {},
        "unreserved_resources_allocated": resources_object(&allocated),
        "resource_providers": [],
        "attributes": {},
        "master_hostname": master_hostname,
        "flags": flags_json(agent)["flags"],
        "frameworks": live.into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
        "completed_frameworks": completed.into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
    })
}
