//! The master's HTTP surface.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};

use super::{
    agent_protocol,
    scheduler::{self, lock, SharedMaster},
};

pub fn router(master: SharedMaster) -> Router {
    Router::new()
        .route("/api/v1/scheduler", post(scheduler::handle))
        .route("/agent/v1/subscribe", post(agent_protocol::subscribe))
        .route("/agent/v1/call", post(agent_protocol::call))
        .route("/version", get(version))
        .route("/master/redirect", get(redirect))
        .route("/redirect", get(redirect))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/master/health", get(|| async { StatusCode::OK }))
        .route("/master/slaves", get(slaves))
        .route("/slaves", get(slaves))
        .with_state(master)
}

/// `GET /version`, in Mesos' shape. `version` is the Mesos API level Corral
/// implements, so clients that gate on it work; `corral_version` is ours.
async fn version() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "version": crate::VERSION,
        "corral_version": env!("CARGO_PKG_VERSION"),
        "build_date": "",
        "build_time": 0,
        "build_user": "",
        "git_sha": "",
        "git_tag": "",
    }))
}

/// `GET /master/redirect`: 307 to the leading master (this one, as Corral
/// runs a single master), protocol-relative as Mesos writes it.
async fn redirect(State(master): State<SharedMaster>) -> Response {
    let location = {
        let m = lock(&master);
        format!("//{}:{}", m.settings.hostname, m.settings.port)
    };
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

/// `GET /master/slaves`: the registered agents, in Mesos' JSON shape.
async fn slaves(State(master): State<SharedMaster>) -> Json<serde_json::Value> {
    let m = lock(&master);
    let slaves: Vec<serde_json::Value> = m
        .agents
        .values()
        .map(|a| {
            serde_json::json!({
                "id": a.id,
                "hostname": a.info.hostname,
                "port": a.info.port.unwrap_or(5051),
                "pid": format!("slave(1)@{}", a.endpoint),
                "active": a.connected(),
                "resources": crate::master::resources_json(&a.info.resources),
            })
        })
        .collect();
    Json(serde_json::json!({ "slaves": slaves }))
}
