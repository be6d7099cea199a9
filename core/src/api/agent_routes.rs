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
                statistics.insert("timestamp".into(), json!(crate::status::now_seconds()));
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
