//! The web UI's reads of agents, made by the master: an agent's `/state`,
//! `/monitor/statistics` and sandbox `/files/{browse,read,download}`. The
//! browser never needs to reach an agent (Mesos' UI does, and fails
//! behind NAT and firewalls).
//!
//! Only agents registered with this master are reached, at the endpoint
//! they registered with (never a host or port from the request), and only
//! those endpoints, with only their known parameters re-encoded. The
//! agent keeps every protection it has (sandbox confinement, ACLs: the
//! caller's `Authorization` is passed on, so the agent decides as if the
//! caller had asked it directly); the proxy also refuses `..` in a path
//! itself. Proxied reads are bounded in number and time.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderName, StatusCode},
    response::Response,
};
use futures::TryStreamExt;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::http::error;
use crate::master::{lock, SharedMaster};

/// Proxied reads in flight at once; more are answered 503.
const MAX_IN_FLIGHT: usize = 64;

/// How long connecting to an agent may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an agent may take to answer (headers and body; a download's
/// body is bounded by [`READ_TIMEOUT`] per read instead).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The client and the bound on reads in flight, shared by every request.
#[derive(Clone)]
pub struct AgentProxy {
    client: reqwest::Client,
    slots: Arc<Semaphore>,
}

impl AgentProxy {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("a plain HTTP client builds");
        AgentProxy {
            client,
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }
}

impl Default for AgentProxy {
    fn default() -> Self {
        Self::new()
    }
}

/// The parameters `/files/*` takes; nothing else is passed on.
#[derive(Debug, Default, Deserialize)]
pub struct FilesQuery {
    path: Option<String>,
    offset: Option<i64>,
    length: Option<i64>,
}

/// A proxied read refused before any agent is asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyRefusal {
    #[error("the path holds a NUL byte")]
    Nul,
    #[error("the path '{0}' climbs out of its directory ('..'); give a sandbox path")]
    Climbs(String),
    #[error("agent '{0}' is not registered with this master")]
    UnknownAgent(String),
}

impl ProxyRefusal {
    fn response(&self) -> Response {
        let status = match self {
            ProxyRefusal::Nul | ProxyRefusal::Climbs(_) => 400,
            ProxyRefusal::UnknownAgent(_) => 404,
        };
        error(status, self.to_string())
    }
}

/// Refuses a path that climbs (`..`) or holds a NUL (the agent would
/// refuse it too).
fn check_path(path: &str) -> Result<(), ProxyRefusal> {
    if path.contains('\0') {
        return Err(ProxyRefusal::Nul);
    }
    if path.split('/').any(|part| part == "..") {
        return Err(ProxyRefusal::Climbs(path.to_owned()));
    }
    Ok(())
}

/// The endpoint agent `id` registered with.
fn endpoint_of(master: &SharedMaster, id: &str) -> Result<String, ProxyRefusal> {
    lock(master)
        .agents()
        .get(id)
        .map(|a| a.endpoint.clone())
        .ok_or_else(|| ProxyRefusal::UnknownAgent(id.to_owned()))
}

/// Headers of the agent's answer that are passed back.
const PASSED_BACK: &[HeaderName] = &[
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_DISPOSITION,
];

async fn forward(
    proxy: &AgentProxy,
    master: &SharedMaster,
    agent_id: &str,
    agent_path: &str,
    query: &[(&str, String)],
    headers: &HeaderMap,
    streamed: bool,
) -> Response {
    let Ok(slot) = proxy.slots.clone().try_acquire_owned() else {
        return error(
            503,
            format!("the master is already reading {MAX_IN_FLIGHT} things from agents; try again"),
        );
    };
    let endpoint = match endpoint_of(master, agent_id) {
        Ok(e) => e,
        Err(refusal) => return refusal.response(),
    };
    let url = format!("http://{endpoint}{agent_path}");
    let mut request = proxy.client.get(&url).query(query);
    if !streamed {
        request = request.timeout(ANSWER_TIMEOUT);
    }
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, auth.clone());
    }
    let answer = match request.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(agent_id, %endpoint, error = %e, "the UI's read of an agent failed");
            return error(
                502,
                format!("agent '{agent_id}' at {endpoint} did not answer {agent_path}: {e}"),
            );
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::builder().status(status);
    for name in PASSED_BACK {
        if let Some(value) = answer.headers().get(name.as_str()) {
            response = response.header(name, value.as_bytes());
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        // The agent wants credentials: let the browser ask for them.
        response = response.header(header::WWW_AUTHENTICATE, "Basic realm=\"corral\"");
    }
    let body = answer.bytes_stream().map_ok(move |chunk| {
        // The slot is held until the body is done.
        let _held = &slot;
        chunk
    });
    response
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(body))
        .unwrap_or_else(|e| error(500, format!("cannot build the proxied answer: {e}")))
}

/// `GET /ui/api/agents/{id}/state`: the agent's `/state`.
pub async fn state(
    State(master): State<SharedMaster>,
    axum::Extension(proxy): axum::Extension<AgentProxy>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    forward(&proxy, &master, &id, "/state", &[], &headers, false).await
}

/// `GET /ui/api/agents/{id}/statistics`: the agent's `/monitor/statistics`.
pub async fn statistics(
    State(master): State<SharedMaster>,
    axum::Extension(proxy): axum::Extension<AgentProxy>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    forward(
        &proxy,
        &master,
        &id,
        "/monitor/statistics",
        &[],
        &headers,
        false,
    )
    .await
}

/// `GET /ui/api/agents/{id}/files/{browse,read,download}?path=&offset=&length=`.
pub async fn files(
    State(master): State<SharedMaster>,
    axum::Extension(proxy): axum::Extension<AgentProxy>,
    Path((id, op)): Path<(String, String)>,
    query: Result<Query<FilesQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let agent_path = match op.as_str() {
        "browse" => "/files/browse",
        "read" => "/files/read",
        "download" => "/files/download",
        other => {
            return error(
                404,
                format!("no '/files/{other}' is proxied: browse, read or download"),
            )
        }
    };
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(400, format!("bad query: {e}")),
    };
    let Some(path) = q.path.filter(|p| !p.is_empty()) else {
        return error(400, "Expecting 'path=value' in query.");
    };
    if let Err(refusal) = check_path(&path) {
        return refusal.response();
    }
    let mut params = vec![("path", path)];
    if let Some(offset) = q.offset {
        params.push(("offset", offset.to_string()));
    }
    if let Some(length) = q.length {
        params.push(("length", length.to_string()));
    }
    let streamed = op == "download";
    forward(
        &proxy, &master, &id, agent_path, &params, &headers, streamed,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn climbing_paths_are_refused_before_any_agent_is_asked() {
        for bad in ["../etc", "/sandbox/../../etc/passwd", "a/..", "x\0y"] {
            assert!(check_path(bad).is_err(), "{bad:?} passed");
        }
        for good in [
            "/var/lib/corral/slaves/a/frameworks/f/executors/e/runs/latest/stdout",
            "a..b/c",
            "./stdout",
        ] {
            assert!(check_path(good).is_ok(), "{good:?} refused");
        }
    }
}
