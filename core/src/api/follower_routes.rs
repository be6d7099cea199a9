//! What a master that does not lead answers: who leads (`/master/state`,
//! `/master/redirect`), its health, and a redirect to the leader for
//! everything else — `307` with `Location: //host:port<path>` as Mesos
//! writes it, or `503` while no leader is known. Its own reads
//! (`/master/state`, `/master/flags`) ask for the same credentials as the
//! leader's read-only endpoints.

use std::sync::{Arc, RwLock};

use axum::{
    extract::{Request, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use super::auth::{authenticate, Guard, HttpAuth, Surface};
use crate::domain::master_detection::MasterInfo;

/// What a follower knows: itself and the leader, if any.
#[derive(Debug)]
pub struct FollowerView {
    pub me: MasterInfo,
    pub leader: RwLock<Option<MasterInfo>>,
    /// `/master/flags` of this master.
    pub flags: serde_json::Value,
}

impl FollowerView {
    fn leader(&self) -> Option<MasterInfo> {
        self.leader
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

pub fn router(view: Arc<FollowerView>, auth: &HttpAuth) -> Router {
    let guard = Guard {
        auth: Arc::new(auth.clone()),
        surface: Surface::ReadOnly,
        acls: None,
    };
    let reads = Router::new()
        .route("/master/state", get(state))
        .route("/master/state.json", get(state))
        .route("/state", get(state))
        .route("/state.json", get(state))
        .route("/master/flags", get(flags))
        .route("/flags", get(flags))
        .route_layer(axum::middleware::from_fn_with_state(guard, authenticate));
    Router::new()
        .merge(reads)
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/master/health", get(|| async { StatusCode::OK }))
        .route("/version", get(version))
        .route("/master/redirect", get(redirect_base))
        .route("/redirect", get(redirect_base))
        .fallback(redirect_same)
        .with_state(view)
}

async fn version() -> Json<serde_json::Value> {
    Json(json!({"version": crate::VERSION, "git_sha": "", "build_date": "", "build_user": ""}))
}

async fn flags(State(view): State<Arc<FollowerView>>) -> Json<serde_json::Value> {
    Json(view.flags.clone())
}

/// Mesos' `/master/state` of a master that does not lead: itself, the
/// leader, and no agents or frameworks (it tracks none).
async fn state(State(view): State<Arc<FollowerView>>) -> Json<serde_json::Value> {
    let leader = view.leader();
    let mut body = json!({
        "version": crate::VERSION,
        "corral_version": env!("CARGO_PKG_VERSION"),
        "id": view.me.id,
        "pid": view.me.pid,
        "hostname": view.me.hostname,
        "activated_slaves": 0,
        "deactivated_slaves": 0,
        "unreachable_slaves": 0,
        "slaves": [],
        "frameworks": [],
        "completed_frameworks": [],
        "unregistered_frameworks": [],
        "orphan_tasks": [],
        "recovered_slaves": [],
        "capabilities": [],
        "flags": view.flags["flags"],
    });
    if let Some(l) = leader {
        body["leader"] = json!(l.pid);
        body["leader_info"] = serde_json::to_value(&l).unwrap_or_default();
    }
    Json(body)
}

fn no_leader() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        "No leader elected\n",
    )
        .into_response()
}

fn to_leader(view: &FollowerView, path_and_query: &str) -> Response {
    match view.leader() {
        None => no_leader(),
        Some(l) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(
                header::LOCATION,
                format!("//{}{path_and_query}", l.endpoint()),
            )],
        )
            .into_response(),
    }
}

/// `/master/redirect`: the leader's base URL.
async fn redirect_base(State(view): State<Arc<FollowerView>>) -> Response {
    to_leader(&view, "")
}

/// Any other call: the same path and query at the leader.
async fn redirect_same(State(view): State<Arc<FollowerView>>, request: Request) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    to_leader(&view, &target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn open(view: Arc<FollowerView>) -> Router {
        router(view, &HttpAuth::default())
    }

    fn view(leader: Option<MasterInfo>) -> Arc<FollowerView> {
        Arc::new(FollowerView {
            me: MasterInfo::new("me", "10.0.0.2".parse().unwrap(), 5050, "m2", "1.11.0"),
            leader: RwLock::new(leader),
            flags: json!({"flags": {"zk": "zk://h:2181/corral"}}),
        })
    }

    async fn call(router: Router, method: &str, uri: &str) -> (StatusCode, Option<String>, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            location,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn a_follower_sends_calls_to_the_leader_as_mesos_does_and_names_it_in_state() {
        let leader = MasterInfo::new("L", "10.0.0.1".parse().unwrap(), 5050, "m1", "1.11.0");
        let r = open(view(Some(leader)));
        let (status, location, _) = call(r.clone(), "POST", "/api/v1/scheduler").await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(location.as_deref(), Some("//m1:5050/api/v1/scheduler"));
        let (_, location, _) = call(r.clone(), "GET", "/master/tasks?limit=5").await;
        assert_eq!(location.as_deref(), Some("//m1:5050/master/tasks?limit=5"));
        let (status, location, _) = call(r.clone(), "GET", "/master/redirect").await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(location.as_deref(), Some("//m1:5050"));
        let (status, _, body) = call(r.clone(), "GET", "/master/state").await;
        assert_eq!(status, StatusCode::OK);
        let state: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(state["leader"], "master@10.0.0.1:5050");
        assert_eq!(state["leader_info"]["id"], "L");
        assert_eq!(state["leader_info"]["ip"], 16_777_226u32);
        assert_eq!(state["pid"], "master@10.0.0.2:5050");
        let (status, _, _) = call(r, "GET", "/health").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_followers_reads_ask_for_the_credentials_the_leaders_do() {
        let credentials = crate::domain::auth::Credentials::parse(
            r#"{"credentials": [{"principal": "ops", "secret": "s3cret"}]}"#,
            "creds.json",
        )
        .unwrap();
        let auth = HttpAuth {
            credentials: Some(Arc::new(credentials)),
            http_readonly: true,
            ..HttpAuth::default()
        };
        let r = router(view(None), &auth);
        let (status, _, _) = call(r.clone(), "GET", "/master/state").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = call(r.clone(), "GET", "/master/flags").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode("ops:s3cret");
        let request = Request::builder()
            .uri("/master/state")
            .header(header::AUTHORIZATION, format!("Basic {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            r.clone().oneshot(request).await.unwrap().status(),
            StatusCode::OK
        );
        // Health and the way to the leader stay open, as on the leader.
        let (status, _, _) = call(r.clone(), "GET", "/health").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = call(r, "GET", "/master/redirect").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn with_no_leader_a_follower_answers_503_and_state_names_none() {
        let r = open(view(None));
        let (status, location, body) = call(r.clone(), "POST", "/api/v1/scheduler").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(location, None);
        assert!(body.contains("No leader"), "{body}");
        let (status, _, _) = call(r.clone(), "GET", "/master/redirect").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (_, _, body) = call(r, "GET", "/master/state").await;
        let state: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(state.get("leader").is_none(), "{state}");
    }
}
