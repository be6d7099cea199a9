//! The agent's HTTP surface: the executor API, `/state`, container usage
//! (`/monitor/statistics`), and sandbox files.

use std::{
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{executor, http::error};
use crate::agent::Agent;

/// Most bytes one `/files/read` returns.
const MAX_READ: u64 = 4 * 1024 * 1024;

pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/api/v1/executor", post(executor::handle))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/state", get(state))
        .route("/state.json", get(state))
        .route("/slave(1)/state", get(state))
        .route("/flags", get(flags))
        .route("/metrics/snapshot", get(metrics))
        .route("/files/browse", get(browse))
        .route("/files/browse.json", get(browse))
        .route("/monitor/statistics", get(statistics))
        .route("/monitor/statistics.json", get(statistics))
        .route("/files/read", get(read))
        .route("/files/read.json", get(read))
        .with_state(agent)
}

/// `GET /state`: the agent and its executors, in Mesos' JSON shape (the
/// fields tools such as mesos-tail read).
async fn state(State(agent): State<Arc<Agent>>) -> Json<Value> {
    let id = agent.lock().agent_id.clone().unwrap_or_default();
    let mut frameworks: std::collections::BTreeMap<String, Value> = Default::default();
    for e in agent.executors() {
        let framework = frameworks.entry(e.framework_id.clone()).or_insert_with(|| {
            json!({"id": e.framework_id, "name": e.framework_name, "executors": [], "completed_executors": []})
        });
        let tasks: Vec<Value> = e
            .tasks
            .iter()
            .map(|(task_id, s)| json!({"id": task_id, "state": s.as_str_name(), "executor_id": e.executor_id}))
            .collect();
        let executor = json!({
            "id": e.executor_id,
            "name": e.name,
            "container": e.container_id,
            "directory": e.sandbox.display().to_string(),
            "tasks": if e.completed { Value::Array(vec![]) } else { Value::Array(tasks.clone()) },
            "completed_tasks": if e.completed { Value::Array(tasks) } else { Value::Array(vec![]) },
        });
        let list = if e.completed {
            "completed_executors"
        } else {
            "executors"
        };
        if let Some(array) = framework[list].as_array_mut() {
            array.push(executor);
        }
    }
    Json(json!({
        "id": id,
        "hostname": agent.config.hostname,
        "pid": format!("slave(1)@{}", agent.endpoint),
        "version": crate::VERSION,
        "frameworks": frameworks.into_values().collect::<Vec<_>>(),
        "completed_frameworks": [],
    }))
}

/// `GET /monitor/statistics`: usage of every running executor's container
/// from the isolators, in Mesos' shape (`ResourceStatistics` field names).
async fn statistics(State(agent): State<Arc<Agent>>) -> Response {
    // Isolator calls are synchronous module calls: keep them off the runtime.
    let result = tokio::task::spawn_blocking(move || {
        let running = agent.executors().into_iter().filter(|e| !e.completed);
        running
            .map(|e| {
                let mut statistics = serde_json::Map::new();
                statistics.insert(
                    "timestamp".into(),
                    json!(crate::domain::status::now_seconds()),
                );
                for (name, value) in agent.containerizer.usage(&e.container_id) {
                    statistics.insert(name, json!(value));
                }
                json!({
                    "framework_id": e.framework_id,
                    "executor_id": e.executor_id,
                    "executor_name": e.name,
                    "source": e.source,
                    "statistics": statistics,
                })
            })
            .collect::<Vec<Value>>()
    })
    .await;
    match result {
        Ok(list) => Json(Value::Array(list)).into_response(),
        Err(e) => error(500, format!("cannot collect statistics: {e}")),
    }
}

/// `GET /flags`: the agent's settings, as strings.
async fn flags(State(agent): State<Arc<Agent>>) -> Json<Value> {
    let c = &agent.config;
    let secs = |d: std::time::Duration| format!("{}secs", d.as_secs_f64());
    Json(json!({"flags": {
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
    }}))
}

/// `GET /metrics/snapshot`: Mesos' `slave/...` keys, flat.
async fn metrics(State(agent): State<Arc<Agent>>) -> Json<Value> {
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
            .filter(|(_, s)| *s == state)
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
    Json(Value::Object(m))
}

#[derive(Debug, Deserialize)]
struct BrowseQuery {
    path: String,
}

/// `GET /files/browse?path=`: the entries of a sandbox directory, as Mesos
/// lists them (`path`, `nlink`, `size`, `mtime`, `mode`, `uid`, `gid`).
async fn browse(
    State(agent): State<Arc<Agent>>,
    query: Result<Query<BrowseQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    use std::os::unix::fs::MetadataExt;
    let q = match query {
        Ok(Query(q)) => q,
        Err(_) => return error(400, "expecting 'path' in the query"),
    };
    let dir = match confine(&agent.config.work_dir, &q.path) {
        Ok(p) => p,
        Err((status, message)) => return error(status, message),
    };
    if !dir.is_dir() {
        return error(400, format!("'{}' is not a directory", q.path));
    }
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return error(500, format!("cannot list '{}'", q.path));
    };
    let mut list: Vec<Value> = entries
        .flatten()
        .filter_map(|e| {
            let meta = std::fs::symlink_metadata(e.path()).ok()?;
            Some(json!({
                "path": Path::new(&q.path).join(e.file_name()).display().to_string(),
                "nlink": meta.nlink(),
                "size": meta.size(),
                "mtime": meta.mtime(),
                "mode": mode_string(&meta),
                "uid": user_name(meta.uid()),
                "gid": group_name(meta.gid()),
            }))
        })
        .collect();
    list.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Json(Value::Array(list)).into_response()
}

/// `drwxr-xr-x` for a directory with mode 755.
fn mode_string(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::PermissionsExt;
    let kind = if meta.is_dir() {
        'd'
    } else if meta.file_type().is_symlink() {
        'l'
    } else {
        '-'
    };
    let mode = meta.permissions().mode();
    let mut s = String::from(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

#[derive(Debug, Deserialize)]
struct ReadQuery {
    path: String,
    offset: Option<i64>,
    length: Option<i64>,
}

/// The canonical form of `path` if it lies inside the work directory.
fn confine(work_dir: &Path, path: &str) -> Result<PathBuf, (u16, String)> {
    let root = work_dir
        .canonicalize()
        .map_err(|e| (500, format!("work directory unavailable: {e}")))?;
    let requested = Path::new(path);
    if !requested.is_absolute() {
        return Err((
            400,
            format!("path '{path}' must be absolute (as /state reports sandboxes)"),
        ));
    }
    // Refused before touching the filesystem, so nothing outside the
    // sandboxes can even be probed for existence.
    if requested
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err((403, format!("path '{path}' may not contain '..'")));
    }
    if !requested.starts_with(work_dir) && !requested.starts_with(&root) {
        return Err((
            403,
            format!("path '{path}' is outside the agent's sandboxes"),
        ));
    }
    let real = requested
        .canonicalize()
        .map_err(|_| (404, format!("no such file: '{path}'")))?;
    if !real.starts_with(&root) {
        return Err((
            403,
            format!("path '{path}' is outside the agent's sandboxes"),
        ));
    }
    Ok(real)
}

/// `GET /files/read?path=&offset=&length=`: part of a sandbox file, as
/// `{"data": ..., "offset": ...}`; `offset=-1` asks for the file's size.
async fn read(State(agent): State<Arc<Agent>>, Query(q): Query<ReadQuery>) -> Response {
    let path = match confine(&agent.config.work_dir, &q.path) {
        Ok(p) => p,
        Err((status, message)) => return error(status, message),
    };
    if !path.is_file() {
        return error(400, format!("'{}' is not a file", q.path));
    }
    let result = (|| -> std::io::Result<Value> {
        let mut file = std::fs::File::open(&path)?;
        let size = file.metadata()?.len();
        let offset = q.offset.unwrap_or(0);
        if offset < 0 {
            return Ok(json!({"data": "", "offset": size}));
        }
        let offset = (offset as u64).min(size);
        let length = q
            .length
            .filter(|l| *l >= 0)
            .map_or(MAX_READ, |l| (l as u64).min(MAX_READ));
        file.seek(SeekFrom::Start(offset))?;
        let mut data = Vec::new();
        file.take(length).read_to_end(&mut data)?;
        Ok(json!({"data": String::from_utf8_lossy(&data), "offset": offset}))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(500, format!("cannot read '{}': {e}", q.path)),
    }
}
