//! How every operator read of the master runs: on a blocking thread, a
//! snapshot taken under the lock (`master::MasterSnapshot`, a cost in
//! frameworks and agents, not tasks), then the view built and serialized
//! with the lock released. Neither waiting for the lock nor writing a large
//! state ever runs on the async runtime, and no call, update or offer
//! waits while a `/master/state` of 100k tasks is written.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};

use super::http::error;
use crate::master::{lock, MasterSnapshot, SharedMaster};

/// The response `read` builds from a snapshot of the master.
pub async fn off_lock<F>(master: &SharedMaster, read: F) -> Response
where
    F: FnOnce(&MasterSnapshot) -> Response + Send + 'static,
{
    let master = master.clone();
    let answered = tokio::task::spawn_blocking(move || {
        let snapshot = lock(&master).snapshot();
        read(&snapshot)
    })
    .await;
    answered.unwrap_or_else(|e| error(500, format!("reading the master's state failed: {e}")))
}

/// A 200 with `view` as JSON.
pub fn json_response(view: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(view) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => error(500, format!("cannot serialize the view: {e}")),
    }
}
