//! The master's HTTP surface.

use crate::domain::metrics::prometheus;

use axum::{
    extract::{DefaultBodyLimit, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};

use std::sync::Arc;

use super::{
    agent_protocol,
    auth::{authenticate, Guard, HttpAuth, Principal, Surface},
    http::{bounded_body, error, BodyBudget},
    master_state::{self, TasksQuery, Viewer},
    operator, scheduler,
    snapshot_read::{json_response, off_lock},
};
use crate::{
    domain::limits::HttpLimits,
    master::{lock, SharedMaster},
};

/// The largest scheduler call accepted.
const MAX_CALL_BYTES: usize = 64 * 1024 * 1024;

/// What the connections kept in reserve serve (see `server::serve`): the
/// health checks and the agent protocol.
pub fn reserved(request: &axum::extract::Request) -> bool {
    let path = request.uri().path();
    matches!(path, "/health" | "/master/health") || path.starts_with("/agent/v1/")
}

pub fn router(master: SharedMaster, limits: &HttpLimits, auth: &HttpAuth) -> Router {
    let budget = BodyBudget::new(limits, MAX_CALL_BYTES);
    let auth = Arc::new(auth.clone());
    let acls = lock(&master).settings().acls.clone();
    let guard = |surface: Surface| {
        let guard = Guard {
            auth: auth.clone(),
            surface,
            acls: acls.clone(),
        };
        axum::middleware::from_fn_with_state(guard, authenticate)
    };
    let scheduler_api = Router::new()
        .route(
            "/api/v1/scheduler",
            // A RECONCILE or ACCEPT of many tasks is larger than axum's
            // default 2 MiB limit (100k task ids are ~3 MiB of JSON).
            post(scheduler::handle).layer(DefaultBodyLimit::max(MAX_CALL_BYTES)),
        )
        .route_layer(guard(Surface::Frameworks));
    let agent_api = Router::new()
        .route("/agent/v1/subscribe", post(agent_protocol::subscribe))
        .route("/agent/v1/call", post(agent_protocol::call))
        .route_layer(guard(Surface::Agents));
    let open = Router::new()
        .route("/version", get(version))
        .route("/master/redirect", get(redirect))
        .route("/redirect", get(redirect))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/master/health", get(|| async { StatusCode::OK }))
        .route_layer(guard(Surface::Open));
    let writes = Router::new()
        .route("/master/teardown", post(teardown))
        .route("/teardown", post(teardown))
        .route(
            "/master/maintenance/schedule",
            get(not_implemented).post(not_implemented),
        )
        .route("/master/machine/down", post(not_implemented))
        .route("/master/machine/up", post(not_implemented))
        .route_layer(guard(Surface::ReadWrite));
    // `/api/v1` is read-only except for its writes (TEARDOWN), which the
    // handler checks against `authenticate_http_readwrite`.
    let reads = Router::new()
        .route("/api/v1", post(operator::handle))
        .route("/master/slaves", get(slaves))
        .route("/slaves", get(slaves))
        .route("/master/state", get(state))
        .route("/master/state.json", get(state))
        .route("/state", get(state))
        .route("/state.json", get(state))
        .route("/master/frameworks", get(frameworks))
        .route("/frameworks", get(frameworks))
        .route("/master/tasks", get(tasks))
        .route("/master/tasks.json", get(tasks))
        .route("/tasks", get(tasks))
        .route("/master/state-summary", get(state_summary))
        .route("/state-summary", get(state_summary))
        .route("/master/roles", get(roles))
        .route("/master/roles.json", get(roles))
        .route("/roles", get(roles))
        .route("/master/maintenance/status", get(not_implemented))
        .route("/files/browse", get(master_files))
        .route("/files/browse.json", get(master_files))
        .route("/files/read", get(master_files))
        .route("/files/read.json", get(master_files))
        .route("/files/download", get(master_files))
        .route("/files/download.json", get(master_files))
        .route(
            "/files/debug",
            get(|| async { Json(serde_json::json!({})) }),
        )
        .route(
            "/files/debug.json",
            get(|| async { Json(serde_json::json!({})) }),
        )
        .route("/master/flags", get(flags))
        .route("/flags", get(flags))
        .route("/metrics/snapshot", get(metrics_snapshot))
        .route("/metrics", get(metrics_prometheus))
        .merge(super::ui_routes::routes())
        .route_layer(guard(Surface::ReadOnly));
    Router::new()
        .merge(scheduler_api)
        .merge(agent_api)
        .merge(open)
        .merge(writes)
        .merge(reads)
        .layer(axum::Extension(auth.clone()))
        .with_state(master)
        .layer(axum::middleware::from_fn_with_state(budget, bounded_body))
}

#[derive(Debug, serde::Deserialize)]
struct FilesQuery {
    path: Option<String>,
}

/// `/files/*` on the master: it keeps no files of its own (it logs to
/// standard error), so no path is attached (Mesos answers 404 then).
async fn master_files(Query(q): Query<FilesQuery>) -> Response {
    match q.path.filter(|p| !p.is_empty()) {
        None => error(400, "Expecting 'path=value' in query."),
        Some(path) => error(
            404,
            format!(
                "No file is attached at '{path}': the Corral master serves no files of its own \
                 (it logs to standard error); sandboxes are served by their agents' /files/*"
            ),
        ),
    }
}

/// `GET /version`, in Mesos' shape. `version` is the Mesos API level Corral
/// implements, so clients that gate on it work; `corral_version` is ours.
async fn version() -> Json<serde_json::Value> {
    Json(super::http::version_json())
}

/// `GET /master/redirect`: 307 to the leading master (this one, as Corral
/// runs a single master), protocol-relative as Mesos writes it.
async fn redirect(State(master): State<SharedMaster>) -> Response {
    let location = {
        let m = lock(&master);
        format!("//{}:{}", m.settings().hostname, m.settings().port)
    };
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
struct AgentFilter {
    slave_id: Option<String>,
}

/// `GET /master/slaves`: the registered agents, in Mesos' JSON shape.
async fn slaves(State(master): State<SharedMaster>, Query(q): Query<AgentFilter>) -> Response {
    off_lock(&master, move |m| {
        json_response(&master_state::slaves(m, q.slave_id.as_deref()))
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
struct FrameworkFilter {
    framework_id: Option<String>,
}

/// `GET /master/frameworks`.
async fn frameworks(
    State(master): State<SharedMaster>,
    principal: Option<axum::Extension<Principal>>,
    Query(q): Query<FrameworkFilter>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    off_lock(&master, move |m| {
        let viewer = Viewer::new(m, principal.as_deref());
        json_response(&master_state::frameworks(
            m,
            q.framework_id.as_deref(),
            viewer,
        ))
    })
    .await
}

/// `GET /master/state-summary`.
async fn state_summary(State(master): State<SharedMaster>) -> Response {
    off_lock(&master, |m| json_response(&master_state::state_summary(m))).await
}

/// `GET /master/roles`.
async fn roles(State(master): State<SharedMaster>) -> Response {
    off_lock(&master, |m| json_response(&master_state::roles(m))).await
}

#[derive(Debug, serde::Deserialize)]
struct TeardownForm {
    #[serde(rename = "frameworkId")]
    framework_id: String,
}

/// `POST /master/teardown` with the form field `frameworkId`: the
/// framework is removed and its tasks killed, as Mesos does.
async fn teardown(
    State(master): State<SharedMaster>,
    principal: Option<axum::Extension<Principal>>,
    form: Result<axum::Form<TeardownForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    let Ok(axum::Form(form)) = form else {
        return (
            StatusCode::BAD_REQUEST,
            "expected a form with the field 'frameworkId'",
        )
            .into_response();
    };
    let mut m = lock(&master);
    if !m.frameworks().contains_key(&form.framework_id) {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "No framework found with specified ID '{}'",
                form.framework_id
            ),
        )
            .into_response();
    }
    if let Err(e) = m.check_teardown(principal.as_deref(), &form.framework_id) {
        return super::http::call_error(&e);
    }
    m.remove_framework(&form.framework_id, "an operator tore it down");
    StatusCode::OK.into_response()
}

/// Mesos' maintenance endpoints: not served by Corral.
async fn not_implemented(request: axum::extract::Request) -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "{} is not implemented by Corral (maintenance primitives)",
            request.uri().path()
        ),
    )
        .into_response()
}

/// `GET /master/state` (alias `/state.json`).
async fn state(
    State(master): State<SharedMaster>,
    principal: Option<axum::Extension<Principal>>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    off_lock(&master, move |m| {
        json_response(&master_state::state(
            m,
            Viewer::new(m, principal.as_deref()),
        ))
    })
    .await
}

/// `GET /master/tasks?framework_id=&task_id=&limit=&offset=&order=`.
async fn tasks(
    State(master): State<SharedMaster>,
    principal: Option<axum::Extension<Principal>>,
    query: Result<Query<TasksQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(400, format!("bad query: {e}")),
    };
    off_lock(&master, move |m| {
        match master_state::tasks(m, &q, Viewer::new(m, principal.as_deref())) {
            Ok(v) => json_response(&v),
            Err(e) => error(400, e.to_string()),
        }
    })
    .await
}

/// `GET /master/flags`.
async fn flags(State(master): State<SharedMaster>) -> Response {
    off_lock(&master, |m| json_response(&master_state::flags(m))).await
}

/// `GET /metrics/snapshot`: flat JSON, Mesos' key names.
async fn metrics_snapshot(State(master): State<SharedMaster>) -> Response {
    off_lock(&master, |m| json_response(&master_state::metrics(m))).await
}

/// `GET /metrics`: the same figures in the Prometheus text format.
async fn metrics_prometheus(State(master): State<SharedMaster>) -> Response {
    off_lock(&master, |m| {
        let text = prometheus(&master_state::metrics(m));
        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
    })
    .await
}
