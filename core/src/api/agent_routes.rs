//! The agent's HTTP surface: the executor API, `/state`, container usage
//! (`/monitor/statistics`), and sandbox files (`files.rs`).

use std::sync::Arc;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};

use super::auth::{authenticate, Guard, Surface};
use super::{
    executor, files,
    http::{bounded_body, error, BodyBudget},
};
use crate::agent::Agent;

/// The largest request body the agent reads (axum's own 2 MiB limit
/// still applies to each route).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub fn router(agent: Arc<Agent>) -> Router {
    let budget = BodyBudget::new(&agent.config.http, MAX_BODY);
    let auth = Arc::new(agent.config.http_auth.clone());
    let acls = agent.config.acls.clone();
    let guard = |surface: Surface| {
        let guard = Guard {
            auth: auth.clone(),
            surface,
            acls: acls.clone(),
        };
        axum::middleware::from_fn_with_state(guard, authenticate)
    };
    // Executors prove themselves with their token (`executor.rs`).
    let open = Router::new()
        .route("/api/v1/executor", post(executor::handle))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/slave(1)/health", get(|| async { StatusCode::OK }))
        .route("/version", get(version))
        .route_layer(guard(Surface::Open));
    let reads = Router::new()
        .route("/api/v1", post(super::agent_operator::handle))
        .route("/state", get(state))
        .route("/state.json", get(state))
        .route("/slave(1)/state", get(state))
        .route("/slave(1)/state.json", get(state))
        .route("/slave(1)/flags", get(flags))
        .route("/containers", get(containers))
        .route("/containers.json", get(containers))
        .route("/files/debug", get(files_debug))
        .route("/files/debug.json", get(files_debug))
        .route("/flags", get(flags))
        .route("/metrics/snapshot", get(metrics))
        .route("/monitor/statistics", get(statistics))
        .route("/monitor/statistics.json", get(statistics))
        .merge(files::routes())
        .route_layer(guard(Surface::ReadOnly));
    Router::new()
        .merge(open)
        .merge(reads)
        .with_state(agent)
        .layer(axum::middleware::from_fn_with_state(budget, bounded_body))
}

/// `GET /state`: the agent and its executors, in Mesos' JSON shape.
async fn state(State(agent): State<Arc<Agent>>) -> Json<Value> {
    Json(super::agent_state::state(&agent))
}

/// `GET /version`, as the master's.
async fn version() -> Json<Value> {
    Json(super::http::version_json())
}

/// `GET /files/debug`: the sandbox folders `/files/*` serves, as Mesos'
/// map of attached paths to the folders behind them.
async fn files_debug(State(agent): State<Arc<Agent>>) -> Json<Value> {
    let map: serde_json::Map<String, Value> = agent
        .executors()
        .into_iter()
        .map(|e| {
            let dir = e.sandbox.display().to_string();
            (dir.clone(), json!(dir))
        })
        .collect();
    Json(Value::Object(map))
}

/// `GET /containers`: every running container with its executor and
/// usage, in Mesos' shape.
async fn containers(State(agent): State<Arc<Agent>>) -> Response {
    usage_list(agent, |e, entry| {
        entry.insert("container_id".into(), json!(e.container_id));
        entry.insert(
            "status".into(),
            json!({"container_id": {"value": e.container_id}}),
        );
    })
    .await
}

/// One entry per running executor: its ids and its container's usage from
/// the isolators (`ResourceStatistics` field names), plus what `extra`
/// adds. Isolator calls are synchronous module calls: they run off the
/// runtime.
async fn usage_list(
    agent: Arc<Agent>,
    extra: fn(&crate::agent::ExecutorSummary, &mut serde_json::Map<String, Value>),
) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        agent
            .executors()
            .into_iter()
            .filter(|e| !e.completed)
            .map(|e| {
                let mut statistics = serde_json::Map::new();
                statistics.insert(
                    "timestamp".into(),
                    json!(crate::domain::status::now_seconds()),
                );
                for (name, value) in agent.containerizer.usage(&e.container_id) {
                    statistics.insert(name, json!(value));
                }
                let mut entry = serde_json::Map::new();
                entry.insert("framework_id".into(), json!(e.framework_id));
                entry.insert("executor_id".into(), json!(e.executor_id));
                entry.insert("executor_name".into(), json!(e.name));
                entry.insert("source".into(), json!(e.source));
                entry.insert("statistics".into(), Value::Object(statistics));
                extra(&e, &mut entry);
                Value::Object(entry)
            })
            .collect::<Vec<Value>>()
    })
    .await;
    match result {
        Ok(list) => Json(Value::Array(list)).into_response(),
        Err(e) => error(500, format!("cannot collect usage: {e}")),
    }
}

/// `GET /monitor/statistics`: usage of every running executor's container
/// from the isolators, in Mesos' shape.
async fn statistics(State(agent): State<Arc<Agent>>) -> Response {
    usage_list(agent, |_, _| {}).await
}

/// `GET /flags`: the agent's settings, as strings.
async fn flags(State(agent): State<Arc<Agent>>) -> Json<Value> {
    Json(flags_json(&agent))
}

/// `{"flags": {...}}`: the agent's settings, as strings.
pub(crate) fn flags_json(agent: &Agent) -> Value {
    let c = &agent.config;
    let secs = |d: std::time::Duration| format!("{}secs", d.as_secs_f64());
    json!({"flags": {
        "master": c.master,
        "hostname": c.hostname,
        "work_dir": c.work_dir.display().to_string(),
        "resources": crate::domain::format_resources(&c.resources_detected),
        "isolation": agent.containerizer.isolator_names().join(","),
        "cgroups_root": c.cgroups_root,
        "executor_registration_timeout": secs(c.executor_registration_timeout),
        "executor_shutdown_grace_period": secs(c.executor_shutdown_grace),
        "status_update_retry": secs(c.status_update_retry),
        "master_timeout": secs(c.master_timeout),
        "version": crate::VERSION,
    }})
}

/// What the connections kept in reserve serve (see `server::serve`): the
/// health check and executors.
pub fn reserved(request: &axum::extract::Request) -> bool {
    matches!(request.uri().path(), "/health" | "/api/v1/executor")
}

/// `GET /metrics/snapshot`: Mesos' `slave/...` keys, flat.
async fn metrics(State(agent): State<Arc<Agent>>) -> Json<Value> {
    Json(metrics_json(&agent))
}

/// The agent's metrics, flat: Mesos' `slave/...` keys and module counters.
pub(crate) fn metrics_json(agent: &Agent) -> Value {
    use crate::{
        domain::metrics::{live_metric, usage_figures},
        proto::v1::TaskState,
    };
    let executors = agent.executors();
    let (registered, pending_updates, counters) = {
        let state = agent.lock();
        (
            state.agent_id.is_some() && state.to_master.is_some(),
            state.pending_updates(),
            state
                .counters
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect::<Vec<_>>(),
        )
    };
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: f64| {
        m.insert(format!("slave/{k}"), json!(v));
    };
    put("uptime_secs", agent.started.elapsed().as_secs_f64());
    put("registered", if registered { 1.0 } else { 0.0 });
    put("event_queue_bytes", agent.queue_stats.queued_bytes() as f64);
    put(
        "event_queue_overflows",
        agent.queue_stats.overflows() as f64,
    );
    // Corral's own: updates resent until acknowledged.
    put("status_updates_pending", pending_updates as f64);
    let running: Vec<_> = executors.iter().filter(|e| !e.completed).collect();
    let frameworks: std::collections::BTreeSet<_> =
        running.iter().map(|e| e.framework_id.as_str()).collect();
    put("frameworks_active", frameworks.len() as f64);
    put("executors_running", running.len() as f64);
    put(
        "executors_terminated",
        executors.iter().filter(|e| e.completed).count() as f64,
    );
    for state in [
        TaskState::TaskStaging,
        TaskState::TaskStarting,
        TaskState::TaskRunning,
        TaskState::TaskKilling,
    ] {
        let name = live_metric(state).unwrap_or_default();
        let count = running
            .iter()
            .flat_map(|e| &e.tasks)
            .filter(|t| t.state == state)
            .count();
        put(&format!("tasks_{name}"), count as f64);
    }
    for name in ["finished", "failed", "killed", "lost", "error"] {
        put(&format!("tasks_{name}"), 0.0);
    }
    put("container_launch_errors", 0.0);
    put("valid_status_updates", 0.0);
    for (key, count) in counters {
        put(&key, count as f64);
    }
    let figures = usage_figures(
        &agent.config.resources_detected,
        &agent.used_resources(),
        &["cpus", "mem", "disk"],
    );
    for (key, value) in figures {
        put(&key, value);
    }
    // The process's module counters (`modules/<module>/<name>`).
    for (name, value) in crate::module_host::module_counters() {
        m.insert(name, json!(value as f64));
    }
    Value::Object(m)
}
