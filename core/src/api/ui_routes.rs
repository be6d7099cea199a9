//! The web UI's routes on the master: its embedded assets at `/` and
//! `/ui/*` ([`super::ui_assets`]), its paged reads at `/ui/api/*`
//! ([`super::ui_data`]) and its reads of agents through the master
//! ([`super::ui_proxy`]).

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};

use super::{
    auth::Principal,
    http::error,
    master_state::Viewer,
    ui_assets, ui_data,
    ui_data::{ListQuery, UiQueryError},
    ui_proxy,
};
use crate::master::{lock, SharedMaster};

pub fn routes() -> Router<SharedMaster> {
    Router::new()
        .route("/", get(ui_assets::index))
        .route("/ui", get(ui_assets::index))
        .route("/ui/", get(ui_assets::index))
        .route("/ui/{file}", get(ui_assets::asset))
        .route("/ui/api/overview", get(overview))
        .route("/ui/api/frameworks", get(frameworks))
        .route("/ui/api/frameworks/{id}", get(framework))
        .route("/ui/api/agents", get(agents))
        .route("/ui/api/agents/{id}", get(agent))
        .route("/ui/api/agents/{id}/state", get(ui_proxy::state))
        .route("/ui/api/agents/{id}/statistics", get(ui_proxy::statistics))
        .route("/ui/api/agents/{id}/files/{op}", get(ui_proxy::files))
        .route("/ui/api/tasks", get(tasks))
        .route("/ui/api/tasks/{framework_id}/{task_id}", get(task))
        .route("/ui/api/offers", get(offers))
        .route("/ui/api/roles", get(roles))
        .layer(axum::Extension(ui_proxy::AgentProxy::new()))
}

type Caller = Option<axum::Extension<Principal>>;

fn principal_of(caller: Caller) -> Option<String> {
    caller.map(|axum::Extension(p)| p.0)
}

/// The query, or the 400 naming what was wrong with it.
fn query(q: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, String> {
    q.map(|Query(q)| q).map_err(|e| format!("bad query: {e}"))
}

fn answer(result: Result<serde_json::Value, UiQueryError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(400, e.to_string()),
    }
}

fn found(what: &str, id: &str, view: Option<serde_json::Value>) -> Response {
    match view {
        Some(v) => Json(v).into_response(),
        None => error(
            404,
            format!("no {what} '{id}' is known to this master (or you may not view it)"),
        ),
    }
}

async fn overview(State(master): State<SharedMaster>, caller: Caller) -> Response {
    let principal = principal_of(caller);
    let m = lock(&master);
    Json(ui_data::overview(&m, Viewer::new(&m, principal.as_deref()))).into_response()
}

async fn frameworks(
    State(master): State<SharedMaster>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(message) => return error(400, message),
    };
    let principal = principal_of(caller);
    let m = lock(&master);
    answer(ui_data::frameworks(
        &m,
        &q,
        Viewer::new(&m, principal.as_deref()),
    ))
}

async fn framework(
    State(master): State<SharedMaster>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let principal = principal_of(caller);
    let m = lock(&master);
    let view = ui_data::framework(&m, &id, Viewer::new(&m, principal.as_deref()));
    found("framework", &id, view)
}

async fn agents(
    State(master): State<SharedMaster>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(message) => return error(400, message),
    };
    let principal = principal_of(caller);
    let m = lock(&master);
    answer(ui_data::agents(
        &m,
        &q,
        Viewer::new(&m, principal.as_deref()),
    ))
}

async fn agent(
    State(master): State<SharedMaster>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let principal = principal_of(caller);
    let m = lock(&master);
    let view = ui_data::agent(&m, &id, Viewer::new(&m, principal.as_deref()));
    found("agent", &id, view)
}

async fn tasks(
    State(master): State<SharedMaster>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(message) => return error(400, message),
    };
    let principal = principal_of(caller);
    let m = lock(&master);
    answer(ui_data::tasks(
        &m,
        &q,
        Viewer::new(&m, principal.as_deref()),
    ))
}

async fn task(
    State(master): State<SharedMaster>,
    caller: Caller,
    Path((framework_id, task_id)): Path<(String, String)>,
) -> Response {
    let principal = principal_of(caller);
    let m = lock(&master);
    let view = ui_data::task(
        &m,
        &framework_id,
        &task_id,
        Viewer::new(&m, principal.as_deref()),
    );
    found("task", &format!("{framework_id}/{task_id}"), view)
}

async fn offers(
    State(master): State<SharedMaster>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(message) => return error(400, message),
    };
    let principal = principal_of(caller);
    let m = lock(&master);
    Json(ui_data::offers(
        &m,
        &q,
        Viewer::new(&m, principal.as_deref()),
    ))
    .into_response()
}

async fn roles(State(master): State<SharedMaster>) -> Response {
    Json(ui_data::roles(&lock(&master))).into_response()
}
