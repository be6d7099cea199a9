//! ACLs in Mesos' format, with authentication on: who may register which
//! role and agents, run tasks as which user (root only when an ACL says
//! so), tear down whose framework, see which frameworks and tasks, and read
//! which sandboxes. Each refusal leaves everything as it was.

use std::{sync::Arc, time::Duration};

use crate::common::{http_client, task, Cluster, Options, Scheduler};
use crate::operator_events::Observer;
use corral::{
    domain::{
        acls::Acls,
        auth::{Credential, Credentials},
    },
    wire::codec::Encoding,
};
use serde_json::{json, Value};

const CREDENTIALS: &str = r#"{"credentials": [
    {"principal": "alice", "secret": "a"}, {"principal": "mallory", "secret": "m"},
    {"principal": "agent", "secret": "g"}, {"principal": "ops", "secret": "o"}]}"#;

const ACLS: &str = r#"{
  "permissive": false,
  "register_frameworks": [
    {"principals": {"values": ["alice", "mallory"]}, "roles": {"values": ["*", "web"]}}],
  "register_agents": [{"principals": {"values": ["agent"]}, "agents": {"type": "ANY"}}],
  "run_tasks": [
    {"principals": {"values": ["alice"]}, "users": {"values": ["tester", "nobody"]}},
    {"principals": {"values": ["mallory"]}, "users": {"values": ["tester"]}}],
  "teardown_frameworks": [
    {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}],
  "view_frameworks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
  "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
  "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
  "get_endpoints": [{"principals": {"values": ["ops"]}, "paths": {"values": ["/flags", "/metrics/snapshot"]}}]
}"#;

fn credentials() -> Arc<Credentials> {
    Arc::new(Credentials::parse(CREDENTIALS, "test credentials").unwrap())
}

fn acls() -> Arc<Acls> {
    Arc::new(Acls::parse(ACLS, "test acls").unwrap())
}

async fn guarded_cluster() -> Cluster {
    Cluster::start_with(Options {
        tweak_master: |c| {
            c.auth.credentials = Some(credentials());
            c.auth.frameworks = true;
            c.auth.agents = true;
            c.auth.http_readonly = true;
            c.auth.http_readwrite = true;
            c.acls = Some(acls());
        },
        tweak_agent: |c| {
            c.credential = Some(Credential {
                principal: "agent".into(),
                secret: "g".into(),
            });
            c.http_auth.credentials = Some(credentials());
            c.http_auth.http_readonly = true;
            c.acls = Some(acls());
        },
        ..Options::default()
    })
    .await
}

async fn get_as(url: &str, principal: &str, secret: &str) -> (u16, Value) {
    let response = http_client()
        .get(url)
        .basic_auth(principal, Some(secret))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

async fn subscribe(
    cluster: &Cluster,
    principal: &str,
    secret: &str,
    info: Value,
) -> Result<Scheduler, (u16, String)> {
    Scheduler::subscribe_as(
        cluster.master,
        Encoding::Json,
        info,
        Some((principal, secret)),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_decide_roles_users_teardowns_views_and_sandboxes() {
    let cluster = guarded_cluster().await;
    let master = format!("http://{}", cluster.master);
    // Operators following the event stream: ops sees every framework and
    // task, mallory (no view ACL) none.
    let mut ops_events =
        Observer::subscribe_as(cluster.master, Encoding::Json, Some(("ops", "o"))).await;
    let mut mallory_events =
        Observer::subscribe_as(cluster.master, Encoding::Json, Some(("mallory", "m"))).await;
    // register_frameworks: a role the principal may not use.
    let refused = subscribe(
        &cluster,
        "mallory",
        "m",
        json!({"user": "tester", "name": "m", "roles": ["prod"],
        "capabilities": [{"type": "MULTI_ROLE"}]}),
    )
    .await
    .err()
    .expect("mallory may not register role prod");
    assert_eq!(refused.0, 403, "{}", refused.1);
    assert!(refused.1.contains("role 'prod'"), "{}", refused.1);

    // run_tasks: as an allowed user, as root (never without an ACL), as
    // a user the principal may not use.
    let mut alice = subscribe(
        &cluster,
        "alice",
        "a",
        json!({"user": "tester", "name": "alice"}),
    )
    .await
    .unwrap();
    let offer = alice.offer().await;
    let mut as_root = task("as-root", &offer, "true", 0.1, 16.0);
    as_root["command"]["user"] = json!("root");
    alice
        .launch(
            &offer,
            vec![task("allowed", &offer, "sleep 600", 0.1, 16.0), as_root],
        )
        .await;
    let refused = alice.update_for("as-root").await;
    assert_eq!(refused["state"], "TASK_ERROR", "{refused}");
    assert_eq!(refused["reason"], "REASON_TASK_UNAUTHORIZED", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("user 'root'"),
        "{refused}"
    );
    assert_eq!(alice.update_for("allowed").await["state"], "TASK_RUNNING");
    let mut mallory = subscribe(
        &cluster,
        "mallory",
        "m",
        json!({"user": "tester", "name": "mallory"}),
    )
    .await
    .unwrap();
    let offer = mallory.offer().await;
    let mut as_nobody = task("as-nobody", &offer, "true", 0.1, 16.0);
    as_nobody["command"]["user"] = json!("nobody");
    mallory.launch(&offer, vec![as_nobody]).await;
    let refused = mallory.update_for("as-nobody").await;
    assert_eq!(refused["reason"], "REASON_TASK_UNAUTHORIZED", "{refused}");
    ops_events
        .next("TASK_UPDATED", |e| {
            e["task_updated"]["status"]["task_id"]["value"] == "allowed"
                && e["task_updated"]["state"] == "TASK_RUNNING"
        })
        .await;
    ops_events
        .next("FRAMEWORK_ADDED", |e| {
            e["framework_added"]["framework"]["framework_info"]["name"] == "mallory"
        })
        .await;
    // Published to both at once: had mallory been sent them, they would be
    // here well within the window.
    let seen = mallory_events
        .types_within(Duration::from_millis(500))
        .await;
    assert!(
        seen.iter()
            .all(|t| !t.starts_with("TASK_") && !t.starts_with("FRAMEWORK_")),
        "mallory may view no framework or task, yet got: {seen:?}"
    );

    // teardown_frameworks: mallory, authenticated, may not tear alice down;
    // ops may (checked at the end).
    let teardown = |who: &'static str, secret: &'static str| {
        http_client()
            .post(format!("{master}/master/teardown"))
            .basic_auth(who, Some(secret))
            .form(&[("frameworkId", alice.framework_id.clone())])
            .send()
    };
    assert_eq!(
        teardown("mallory", "m").await.unwrap().status().as_u16(),
        403
    );
    let (status, body) = crate::operator_api::operator_call_as(
        &master,
        json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": alice.framework_id}}}),
        ("mallory", "m"),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // view_frameworks / view_tasks: mallory sees nothing of anyone, ops
    // sees everything.
    let (_, state) = get_as(&format!("{master}/master/state"), "mallory", "m").await;
    assert_eq!(state["frameworks"], json!([]), "{state}");
    let (_, tasks) = get_as(&format!("{master}/master/tasks"), "mallory", "m").await;
    assert_eq!(tasks["tasks"], json!([]), "{tasks}");
    let (status, body) = crate::operator_api::operator_call_as(
        &master,
        json!({"type": "GET_TASKS"}),
        ("mallory", "m"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body.contains("allowed"), "{body}");
    let (_, state) = get_as(&format!("{master}/master/state"), "ops", "o").await;
    let names: Vec<&str> = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(
        names.contains(&"alice") && names.contains(&"mallory"),
        "{state}"
    );

    // get_endpoints: /flags and /metrics/snapshot for ops only, on the
    // master and on the agent.
    for url in [
        format!("{master}/flags"),
        format!("{master}/master/flags"),
        format!("{master}/metrics/snapshot"),
        format!("http://{}/flags", cluster.agent),
    ] {
        let (status, body) = get_as(&url, "mallory", "m").await;
        assert_eq!(status, 403, "{url}: {body}");
        assert!(body.to_string().contains("not authorized"), "{url}: {body}");
        assert_eq!(get_as(&url, "ops", "o").await.0, 200, "{url}");
    }
    // An endpoint no get_endpoints ACL covers stays open to the
    // authenticated.
    assert_eq!(
        get_as(&format!("{master}/master/frameworks"), "mallory", "m")
            .await
            .0,
        200
    );

    // access_sandboxes on the agent.
    let sandbox = cluster.sandbox_of("allowed").display().to_string();
    let url = format!("http://{}/files/browse?path={sandbox}", cluster.agent);
    assert_eq!(get_as(&url, "mallory", "m").await.0, 403);
    assert_eq!(get_as(&url, "ops", "o").await.0, 200);

    // register_agents: valid credentials are not enough to be an agent.
    let fake = {
        use prost::Message;
        corral::proto::agent::Subscribe {
            protocol_version: corral::wire::agent_protocol::PROTOCOL_VERSION,
            agent_info: corral::proto::v1::AgentInfo {
                hostname: "fake".into(),
                ..Default::default()
            },
            tasks: vec![],
            endpoint: "127.0.0.1:9".into(),
        }
        .encode_to_vec()
    };
    let response = http_client()
        .post(format!("{master}/agent/v1/subscribe"))
        .basic_auth("mallory", Some("m"))
        .header("content-type", "application/x-protobuf")
        .header(
            corral::wire::agent_protocol::PROTOCOL_HEADER,
            corral::wire::agent_protocol::PROTOCOL_VERSION.to_string(),
        )
        .body(fake)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // Nothing changed: alice's task runs; then ops may tear her down.
    let (_, tasks) = get_as(
        &format!("{master}/master/tasks?task_id=allowed"),
        "ops",
        "o",
    )
    .await;
    assert_eq!(tasks["tasks"][0]["state"], "TASK_RUNNING", "{tasks}");
    assert_eq!(teardown("ops", "o").await.unwrap().status().as_u16(), 200);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_asks_for_credentials_and_shows_only_what_the_caller_may_view() {
    let cluster = guarded_cluster().await;
    let master = format!("http://{}", cluster.master);
    // The browser is asked for credentials (HTTP Basic), then sees the page.
    let page = http_client()
        .get(format!("{master}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    let challenge = page.headers().get("www-authenticate").unwrap();
    assert!(
        challenge.to_str().unwrap().starts_with("Basic"),
        "{challenge:?}"
    );
    let (status, _) = get_as(&format!("{master}/"), "mallory", "m").await;
    assert_eq!(status, 200);
    let (status, _) = get_as(&format!("{master}/ui/api/overview"), "mallory", "x").await;
    assert_eq!(status, 401, "a wrong secret is refused");

    let alice = subscribe(
        &cluster,
        "alice",
        "a",
        json!({"user": "tester", "name": "alice"}),
    )
    .await
    .unwrap();
    let framework = alice.framework_id.clone();
    // view_frameworks: ops sees alice's framework, mallory does not.
    let (_, ops) = get_as(&format!("{master}/ui/api/frameworks"), "ops", "o").await;
    assert_eq!(ops["total"], 1, "{ops}");
    assert_eq!(ops["items"][0]["id"], framework.as_str());
    let (_, hidden) = get_as(&format!("{master}/ui/api/frameworks"), "mallory", "m").await;
    assert_eq!(hidden["total"], 0, "{hidden}");
    let (_, overview) = get_as(&format!("{master}/ui/api/overview"), "mallory", "m").await;
    assert_eq!(overview["frameworks"]["active"], 0, "{overview}");
    let (status, _) = get_as(
        &format!("{master}/ui/api/frameworks/{framework}"),
        "mallory",
        "m",
    )
    .await;
    assert_eq!(status, 404);

    // The master passes the caller's credentials on: the agent's own
    // access_sandboxes decides (mallory refused by it; ops let through it,
    // then refused for the path, which is in no sandbox).
    let (_, agents) = get_as(&format!("{master}/ui/api/agents"), "ops", "o").await;
    let agent_id = agents["items"][0]["id"].as_str().unwrap().to_owned();
    let read = format!("{master}/ui/api/agents/{agent_id}/files/read?path=/no/such/sandbox/stdout");
    let (status, body) = get_as(&read, "mallory", "m").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.to_string().contains("'mallory' is not authorized"),
        "{body}"
    );
    let (status, body) = get_as(&read, "ops", "o").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.to_string().contains("outside the agent's sandboxes"),
        "{body}"
    );
    let anonymous = http_client().get(&read).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    drop(alice);
    cluster.stop().await;
}
