//! The attacks of issue 14 with authentication on, each refused (401/403)
//! with nothing changed, and the legitimate path working: frameworks,
//! agents, operators and executors must prove who they are, and a
//! framework or agent id belongs to the principal that registered it.

use std::sync::Arc;

use crate::common::{http_client, task, Cluster, Options, Scheduler};
use corral::{
    domain::auth::{Credential, Credentials},
    master::MasterConfig,
    wire::codec::Encoding,
};
use serde_json::{json, Value};

const CREDENTIALS: &str = r#"{"credentials": [
    {"principal": "alice", "secret": "alice-secret"},
    {"principal": "mallory", "secret": "mallory-secret"},
    {"principal": "agent", "secret": "agent-secret"},
    {"principal": "ops", "secret": "ops-secret"}]}"#;

fn credentials() -> Arc<Credentials> {
    Arc::new(Credentials::parse(CREDENTIALS, "test credentials").unwrap())
}

fn lock_down_master(config: &mut MasterConfig) {
    config.auth.credentials = Some(credentials());
    config.auth.frameworks = true;
    config.auth.agents = true;
    config.auth.http_readonly = true;
    config.auth.http_readwrite = true;
}

fn lock_down_agent(config: &mut corral::agent::AgentConfig) {
    config.credential = Some(Credential {
        principal: "agent".into(),
        secret: "agent-secret".into(),
    });
    config.http_auth.credentials = Some(credentials());
    config.http_auth.http_readonly = true;
    config.authenticate_executors = true;
}

async fn locked_cluster() -> Cluster {
    Cluster::start_with(Options {
        tweak_master: lock_down_master,
        tweak_agent: lock_down_agent,
        ..Options::default()
    })
    .await
}

fn info(name: &str) -> Value {
    json!({"user": "tester", "name": name})
}

/// GET `url` as `principal` (or anonymously); status and body.
async fn get_as(url: &str, principal: Option<(&str, &str)>) -> (u16, String) {
    let mut request = http_client().get(url);
    if let Some((p, s)) = principal {
        request = request.basic_auth(p, Some(s));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

const OPS: Option<(&str, &str)> = Some(("ops", "ops-secret"));

/// The state of `task_id` as the master reports it (read as `ops`).
async fn task_state(cluster: &Cluster, task_id: &str) -> Value {
    let (status, body) = get_as(
        &format!("http://{}/master/tasks?task_id={task_id}", cluster.master),
        OPS,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let tasks: Value = serde_json::from_str(&body).unwrap();
    tasks["tasks"][0]["state"].clone()
}

/// Alice's framework with one running task, `victim`.
async fn alice_with_a_task(cluster: &Cluster) -> Scheduler {
    let mut alice = Scheduler::subscribe_as(
        cluster.master,
        Encoding::Json,
        info("alice"),
        Some(("alice", "alice-secret")),
    )
    .await
    .expect("alice subscribes with her credentials");
    let offer = alice.offer().await;
    alice
        .launch(&offer, vec![task("victim", &offer, "sleep 600", 0.1, 16.0)])
        .await;
    assert_eq!(alice.update_for("victim").await["state"], "TASK_RUNNING");
    alice
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frameworks_must_authenticate_and_cannot_take_each_other_over() {
    let cluster = locked_cluster().await;
    // No credentials, wrong ones: 401 with Mesos' challenge.
    for creds in [None, Some(("alice", "guess")), Some(("nobody", "x"))] {
        let refused = Scheduler::subscribe_as(cluster.master, Encoding::Json, info("x"), creds)
            .await
            .err()
            .unwrap_or_else(|| panic!("{creds:?} subscribed"));
        assert_eq!(refused.0, 401, "{creds:?}: {}", refused.1);
    }
    let response = http_client()
        .post(format!("http://{}/api/v1/scheduler", cluster.master))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));

    let mut alice = alice_with_a_task(&cluster).await;
    // Mallory has credentials of her own, and Alice's framework id (it is
    // listed by /master/frameworks): she may not subscribe as it...
    let mut stolen = info("alice");
    stolen["id"] = json!({"value": alice.framework_id});
    let refused = Scheduler::subscribe_as(
        cluster.master,
        Encoding::Json,
        stolen,
        Some(("mallory", "mallory-secret")),
    )
    .await
    .err()
    .expect("mallory cannot subscribe with alice's framework id");
    assert_eq!(refused.0, 403, "{}", refused.1);
    assert!(refused.1.contains("another principal"), "{}", refused.1);
    // ...nor claim Alice's principal...
    let mut claimed = info("fake");
    claimed["principal"] = json!("alice");
    let refused = Scheduler::subscribe_as(
        cluster.master,
        Encoding::Json,
        claimed,
        Some(("mallory", "mallory-secret")),
    )
    .await
    .err()
    .expect("mallory cannot claim alice's principal");
    assert_eq!(refused.0, 403, "{}", refused.1);
    // ...nor call (TEARDOWN) as Alice's framework.
    let response = http_client()
        .post(format!("http://{}/api/v1/scheduler", cluster.master))
        .basic_auth("mallory", Some("mallory-secret"))
        .header("content-type", "application/json")
        .header("mesos-stream-id", "guessed")
        .body(
            json!({"type": "TEARDOWN", "framework_id": {"value": alice.framework_id}}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // Nothing changed: Alice's stream still works, her task still runs.
    let (code, body) = alice.call(json!({"type": "REVIVE"})).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(task_state(&cluster, "victim").await, "TASK_RUNNING");
    let _ = alice.next("OFFERS").await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_must_authenticate_and_cannot_take_over_a_registered_agent() {
    let mut cluster = Cluster::start_with(Options {
        tweak_master: lock_down_master,
        tweak_agent: lock_down_agent,
        registry: true,
        ..Options::default()
    })
    .await;
    let _alice = alice_with_a_task(&cluster).await;
    let slaves = get_as(&format!("http://{}/master/slaves", cluster.master), OPS).await;
    let slaves: Value = serde_json::from_str(&slaves.1).unwrap();
    let agent_id = slaves["slaves"][0]["id"].as_str().unwrap().to_owned();

    let subscribe = |id: Option<&str>| {
        use prost::Message;
        corral::proto::agent::Subscribe {
            protocol_version: corral::wire::agent_protocol::PROTOCOL_VERSION,
            agent_info: corral::proto::v1::AgentInfo {
                hostname: "fake".into(),
                id: id.map(|value| corral::proto::v1::AgentId {
                    value: value.into(),
                }),
                resources: corral::domain::convert::resources_to_proto(&[
                    corral::domain::Resource::scalar("cpus", 1000.0),
                ]),
                ..Default::default()
            },
            tasks: vec![],
            endpoint: "127.0.0.1:9".into(),
        }
        .encode_to_vec()
    };
    let master = cluster.master;
    let post = move |path: &str, body: Vec<u8>, creds: Option<(&str, &str)>| {
        let mut request = http_client()
            .post(format!("http://{master}{path}"))
            .header("content-type", "application/x-protobuf")
            .header(
                corral::wire::agent_protocol::PROTOCOL_HEADER,
                corral::wire::agent_protocol::PROTOCOL_VERSION.to_string(),
            )
            .timeout(std::time::Duration::from_secs(5))
            .body(body);
        if let Some((p, s)) = creds {
            request = request.basic_auth(p, Some(s));
        }
        request.send()
    };
    // A fake agent without credentials is not admitted.
    let response = post("/agent/v1/subscribe", subscribe(None), None)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // A principal other than the agent's may not re-register under its id
    // (which would declare its tasks lost) nor post its updates.
    let take_over = || {
        post(
            "/agent/v1/subscribe",
            subscribe(Some(&agent_id)),
            Some(("mallory", "mallory-secret")),
        )
    };
    let response = take_over().await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let update = {
        use prost::Message;
        corral::proto::agent::AgentCall {
            agent_id: corral::proto::v1::AgentId {
                value: agent_id.clone(),
            },
            r#type: Some(corral::proto::agent::agent_call::Type::Pong as i32),
            ..Default::default()
        }
        .encode_to_vec()
    };
    let response = post(
        "/agent/v1/call",
        update.clone(),
        Some(("mallory", "mallory-secret")),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let response = post("/agent/v1/call", update, None).await.unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // Nothing changed: one agent, its task running.
    let slaves = get_as(&format!("http://{}/master/slaves", cluster.master), OPS).await;
    let slaves: Value = serde_json::from_str(&slaves.1).unwrap();
    assert_eq!(slaves["slaves"].as_array().unwrap().len(), 1, "{slaves}");
    assert_eq!(slaves["slaves"][0]["active"], json!(true));
    assert_eq!(task_state(&cluster, "victim").await, "TASK_RUNNING");

    // The binding survives a master restart (the registry keeps it): while
    // the agent is away, another principal still may not take its id.
    cluster.stop_agent().await;
    cluster.restart_master().await;
    let response = take_over().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("another principal"), "{body}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_executors_must_prove_who_they_are() {
    let cluster = locked_cluster().await;
    let _alice = alice_with_a_task(&cluster).await;
    let master = format!("http://{}", cluster.master);
    let agent = format!("http://{}", cluster.agent);

    // Reads need credentials on master and agent; health does not.
    for url in [
        format!("{master}/master/state"),
        format!("{master}/metrics/snapshot"),
        format!("{agent}/state"),
        format!("{agent}/files/debug"),
    ] {
        assert_eq!(get_as(&url, None).await.0, 401, "{url}");
        assert_eq!(get_as(&url, Some(("ops", "wrong"))).await.0, 401, "{url}");
        assert_eq!(get_as(&url, OPS).await.0, 200, "{url}");
    }
    assert_eq!(get_as(&format!("{master}/health"), None).await.0, 200);
    assert_eq!(get_as(&format!("{agent}/health"), None).await.0, 200);
    // The victim's sandbox cannot be read without credentials.
    let sandbox = cluster.sandbox_of("victim").display().to_string();
    let read = format!("{agent}/files/read?path={sandbox}/stdout&offset=0");
    assert_eq!(get_as(&read, None).await.0, 401);
    assert_eq!(get_as(&read, OPS).await.0, 200);
    // Writes too: /master/teardown and the operator API's TEARDOWN.
    let teardown = http_client()
        .post(format!("{master}/master/teardown"))
        .form(&[("frameworkId", _alice.framework_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(teardown.status().as_u16(), 401);

    // The executor API: without the executor's token, or with another one,
    // nobody can subscribe as the victim's executor or finish its task.
    let state: Value =
        serde_json::from_str(&get_as(&format!("{agent}/state"), OPS).await.1).unwrap();
    let framework_id = state["frameworks"][0]["id"].as_str().unwrap().to_owned();
    let executor_call = |kind: &str, token: Option<&str>| {
        let mut call = json!({"type": kind, "framework_id": {"value": framework_id},
                              "executor_id": {"value": "victim"}});
        if kind == "UPDATE" {
            call["update"] = json!({"status": {"task_id": {"value": "victim"},
                "state": "TASK_FINISHED", "source": "SOURCE_EXECUTOR",
                "uuid": "AAAAAAAAAAAAAAAAAAAAAA=="}});
        }
        let mut request = http_client()
            .post(format!("{agent}/api/v1/executor"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .timeout(std::time::Duration::from_secs(5))
            .body(call.to_string());
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send()
    };
    for kind in ["SUBSCRIBE", "UPDATE"] {
        let response = executor_call(kind, None).await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{kind}");
        let forged = "0".repeat(64);
        let response = executor_call(kind, Some(&forged)).await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{kind}");
    }
    // Nothing changed; and the command executor's own token works (it
    // keeps the task running and reports it).
    assert_eq!(task_state(&cluster, "victim").await, "TASK_RUNNING");
    let metrics = get_json_as(&format!("{agent}/metrics/snapshot")).await;
    assert_eq!(metrics["slave/tasks_running"], json!(1.0), "{metrics}");
    cluster.stop().await;
}

async fn get_json_as(url: &str) -> Value {
    let (status, body) = get_as(url, OPS).await;
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}
