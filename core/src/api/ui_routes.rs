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

use super::snapshot_read::off_lock;
use super::{
    auth::Principal,
    http::error,
    master_state::Viewer,
    ui_assets, ui_data,
    ui_data::{ListQuery, UiQueryError},
    ui_proxy,
};
use crate::master::{MasterSnapshot, SharedMaster};
use serde_json::Value;

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

/// A list read: the query checked, then `read` on a snapshot of the
/// master for the caller, off the lock; a bad query is a 400 naming what
/// was wrong.
async fn list(
    master: &SharedMaster,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
    read: fn(&MasterSnapshot, &ListQuery, Viewer<'_>) -> Result<Value, UiQueryError>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return error(400, format!("bad query: {e}")),
    };
    let principal = principal_of(caller);
    off_lock(master, move |m| {
        match read(m, &q, Viewer::new(m, principal.as_deref())) {
            Ok(v) => Json(v).into_response(),
            Err(e) => error(400, e.to_string()),
        }
    })
    .await
}

/// One item's read: a 404 naming it when it is unknown or not viewable.
async fn item(
    master: &SharedMaster,
    caller: Caller,
    what: &'static str,
    id: String,
    read: impl FnOnce(&MasterSnapshot, Viewer<'_>) -> Option<Value> + Send + 'static,
) -> Response {
    let principal = principal_of(caller);
    off_lock(master, move |m| {
        match read(m, Viewer::new(m, principal.as_deref())) {
            Some(v) => Json(v).into_response(),
            None => error(
                404,
                format!("no {what} '{id}' is known to this master (or you may not view it)"),
            ),
        }
    })
    .await
}

type ListParams = Result<Query<ListQuery>, QueryRejection>;

async fn overview(State(master): State<SharedMaster>, caller: Caller) -> Response {
    item(&master, caller, "overview", String::new(), |m, viewer| {
        Some(ui_data::overview(m, viewer))
    })
    .await
}

async fn frameworks(State(master): State<SharedMaster>, caller: Caller, q: ListParams) -> Response {
    list(&master, caller, q, ui_data::frameworks).await
}

async fn framework(
    State(master): State<SharedMaster>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let key = id.clone();
    item(&master, caller, "framework", id, move |m, viewer| {
        ui_data::framework(m, &key, viewer)
    })
    .await
}

async fn agents(State(master): State<SharedMaster>, caller: Caller, q: ListParams) -> Response {
    list(&master, caller, q, ui_data::agents).await
}

async fn agent(
    State(master): State<SharedMaster>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let key = id.clone();
    item(&master, caller, "agent", id, move |m, viewer| {
        ui_data::agent(m, &key, viewer)
    })
    .await
}

async fn tasks(State(master): State<SharedMaster>, caller: Caller, q: ListParams) -> Response {
    list(&master, caller, q, ui_data::tasks).await
}

async fn task(
    State(master): State<SharedMaster>,
    caller: Caller,
    Path((framework_id, task_id)): Path<(String, String)>,
) -> Response {
    let id = format!("{framework_id}/{task_id}");
    item(&master, caller, "task", id, move |m, viewer| {
        ui_data::task(m, &framework_id, &task_id, viewer)
    })
    .await
}

async fn offers(State(master): State<SharedMaster>, caller: Caller, q: ListParams) -> Response {
    list(&master, caller, q, |m, q, viewer| {
        Ok(ui_data::offers(m, q, viewer))
    })
    .await
}

async fn roles(State(master): State<SharedMaster>) -> Response {
    off_lock(&master, |m| Json(ui_data::roles(m)).into_response()).await
}
