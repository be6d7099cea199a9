//! The v1 operator API (`POST /api/v1`) of master and agent, over JSON and
//! protobuf: every call Corral answers, against a cluster with one running
//! and one finished task; calls not served say which.

use std::time::Duration;

use crate::{
    common::{get_json, http_client},
    operator_endpoints::busy_cluster,
};
use base64::Engine;
use corral::proto::v1::{agent, master, TaskState};
use serde_json::{json, Value};

/// `POST /api/v1` on a master or agent with `call` in protobuf, asking for
/// protobuf; the answer must be a 200, decoded.
async fn protobuf_call<R: prost::Message + Default>(daemon: &str, call: &impl prost::Message) -> R {
    let response = http_client()
        .post(format!("{daemon}/api/v1"))
        .header("content-type", "application/x-protobuf")
        .header("accept", "application/x-protobuf")
        .body(call.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    R::decode(response.bytes().await.unwrap()).unwrap()
}

/// `POST /api/v1` on a master or agent with `body` as JSON; the status and
/// body.
pub(crate) async fn operator_call(daemon: &str, body: Value) -> (u16, String) {
    let response = http_client()
        .post(format!("{daemon}/api/v1"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// `operator_call` with HTTP Basic credentials.
pub(crate) async fn operator_call_as(
    daemon: &str,
    body: Value,
    (principal, secret): (&str, &str),
) -> (u16, String) {
    let response = http_client()
        .post(format!("{daemon}/api/v1"))
        .basic_auth(principal, Some(secret))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// A JSON call that must answer 200; its body as JSON.
async fn answer(daemon: &str, call: Value) -> Value {
    let (status, body) = operator_call(daemon, call.clone()).await;
    assert_eq!(status, 200, "{call} answered {status}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn ids(tasks: &Value) -> Vec<&str> {
    tasks
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|t| t["task_id"]["value"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v1_operator_api_answers_in_json_and_protobuf() {
    let (cluster, s) = busy_cluster().await;
    let master = format!("http://{}", cluster.master);

    assert_eq!(
        answer(&master, json!({"type": "GET_HEALTH"})).await,
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
    );
    let metrics = answer(&master, json!({"type": "GET_METRICS", "get_metrics": {"timeout": {"nanoseconds": 5_000_000_000i64}}})).await;
    assert!(
        metrics["get_metrics"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "master/tasks_running" && m["value"] == json!(1.0)),
        "{metrics}"
    );
    let flags = answer(&master, json!({"type": "GET_FLAGS"})).await;
    assert!(!flags["get_flags"]["flags"].as_array().unwrap().is_empty());
    let got = answer(&master, json!({"type": "GET_MASTER"})).await;
    assert_eq!(
        got["get_master"]["master_info"]["ip"],
        json!(16_777_343u32),
        "{got}"
    );
    assert!(got["get_master"]["start_time"].as_f64().unwrap() > 0.0);

    // Protobuf both ways.
    let call = master::Call {
        r#type: Some(master::call::Type::GetVersion as i32),
        ..Default::default()
    };
    let decoded: master::Response = protobuf_call(&master, &call).await;
    assert_eq!(
        decoded.get_version.unwrap().version_info.version,
        corral::VERSION
    );

    let agents = answer(&master, json!({"type": "GET_AGENTS"})).await;
    let agent = &agents["get_agents"]["agents"][0];
    assert_eq!(agent["active"], json!(true), "{agents}");
    assert!(agent["registered_time"]["nanoseconds"].as_i64().unwrap() > 0);
    assert_eq!(
        agent["agent_info"]["id"]["value"],
        get_json(format!("{master}/master/slaves")).await["slaves"][0]["id"]
    );
    assert!(
        agent["allocated_resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "cpus"),
        "the running task's resources: {agents}"
    );
    let frameworks = answer(&master, json!({"type": "GET_FRAMEWORKS"})).await;
    let framework = &frameworks["get_frameworks"]["frameworks"][0];
    assert_eq!(
        framework["framework_info"]["id"]["value"],
        json!(s.framework_id),
        "{frameworks}"
    );
    assert_eq!(framework["connected"], json!(true));

    // GET_STATE: every part, the running task with its container.
    let state = answer(&master, json!({"type": "GET_STATE"})).await;
    let state = &state["get_state"];
    let live = &state["get_tasks"]["tasks"];
    assert!(ids(live).contains(&"sleeper"), "{state}");
    let sleeper = live
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"]["value"] == "sleeper")
        .unwrap();
    assert_eq!(sleeper["state"], "TASK_RUNNING");
    assert_eq!(sleeper["framework_id"]["value"], json!(s.framework_id));
    assert_eq!(sleeper["user"], "tester");
    let container = &sleeper["statuses"][0]["container_status"]["container_id"]["value"];
    assert!(
        container.as_str().is_some_and(|c| !c.is_empty()),
        "a status names its container: {sleeper}"
    );
    let all = [ids(live), ids(&state["get_tasks"]["completed_tasks"])].concat();
    assert!(all.contains(&"quick"), "the finished task: {state}");
    assert_eq!(
        state["get_agents"]["agents"][0]["agent_info"]["id"],
        agent["agent_info"]["id"]
    );
    assert_eq!(
        state["get_frameworks"]["frameworks"][0]["framework_info"]["id"]["value"],
        json!(s.framework_id)
    );

    // The same over protobuf.
    let call = master::Call {
        r#type: Some(master::call::Type::GetTasks as i32),
        ..Default::default()
    };
    let decoded: master::Response = protobuf_call(&master, &call).await;
    let tasks = decoded.get_tasks.unwrap();
    let sleeper = tasks
        .tasks
        .iter()
        .find(|t| t.task_id.value == "sleeper")
        .unwrap();
    assert_eq!(sleeper.state, TaskState::TaskRunning as i32);
    assert!(sleeper.resources.iter().any(|r| r.name == "mem"));

    // GET_ROLES: the framework's role with what its task holds.
    let roles = answer(&master, json!({"type": "GET_ROLES"})).await;
    let role = &roles["get_roles"]["roles"][0];
    assert_eq!(role["name"], "*", "{roles}");
    assert_eq!(role["weight"], json!(1.0));
    assert_eq!(role["frameworks"][0]["value"], json!(s.framework_id));
    assert!(role["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "cpus" && r["scalar"]["value"] == json!(0.5)));
    // Command-executor tasks have no executor to list (as in Mesos).
    let executors = answer(&master, json!({"type": "GET_EXECUTORS"})).await;
    assert_eq!(executors["type"], "GET_EXECUTORS");
    assert_eq!(
        executors["get_executors"]["executors"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "{executors}"
    );

    // The master keeps no files: a clear 404 naming the path.
    let (status, body) = operator_call(
        &master,
        json!({"type": "LIST_FILES", "list_files": {"path": "/master/log"}}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("/master/log"), "{body}");
    let (status, body) = operator_call(&master, json!({"type": "READ_FILE"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("read_file"), "{body}");

    // Calls not served, and calls that do not exist, say so.
    let (status, body) = operator_call(&master, json!({"type": "GET_WEIGHTS"})).await;
    assert_eq!(status, 501, "{body}");
    assert!(body.contains("GET_WEIGHTS"), "{body}");
    let (status, body) = operator_call(&master, json!({"type": "NOT_A_CALL"})).await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = operator_call(
        &master,
        json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": s.framework_id}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let frameworks = get_json(format!("{master}/master/frameworks")).await;
    assert_eq!(frameworks["frameworks"], json!([]), "{frameworks}");
    let frameworks = answer(&master, json!({"type": "GET_FRAMEWORKS"})).await;
    assert_eq!(
        frameworks["get_frameworks"]["completed_frameworks"][0]["framework_info"]["id"]["value"],
        json!(s.framework_id),
        "{frameworks}"
    );
    cluster.stop().await;
}

/// Polls the agent's GET_STATE until `done` holds (10 s at most).
async fn agent_state_until(agent: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = answer(agent, json!({"type": "GET_STATE"})).await;
        if done(&state["get_state"]) {
            return state["get_state"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent's GET_STATE never showed {what}: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_v1_operator_api_answers() {
    let (cluster, s) = busy_cluster().await;
    let agent = format!("http://{}", cluster.agent);

    assert_eq!(
        answer(&agent, json!({"type": "GET_HEALTH"})).await,
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
    );
    let frameworks = answer(&agent, json!({"type": "GET_FRAMEWORKS"})).await;
    assert_eq!(
        frameworks["get_frameworks"]["frameworks"][0]["framework_info"]["id"]["value"],
        json!(s.framework_id),
        "{frameworks}"
    );
    let flags = answer(&agent, json!({"type": "GET_FLAGS"})).await;
    assert!(
        flags["get_flags"]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "work_dir"),
        "{flags}"
    );
    let call = agent::Call {
        r#type: Some(agent::call::Type::GetMetrics as i32),
        ..Default::default()
    };
    let decoded: agent::Response = protobuf_call(&agent, &call).await;
    let metrics = decoded.get_metrics.unwrap().metrics;
    assert!(
        metrics
            .iter()
            .any(|m| m.name == "slave/tasks_running" && m.value == Some(1.0)),
        "{metrics:?}"
    );

    // GET_CONTAINERS: the sleeper's container with its usage, the same
    // figures `/monitor/statistics` shows.
    let containers = answer(&agent, json!({"type": "GET_CONTAINERS"})).await;
    let listed = containers["get_containers"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(listed.len(), 1, "the sleeper's container: {containers}");
    assert_eq!(listed[0]["executor_id"]["value"], "sleeper");
    let container_id = listed[0]["container_id"]["value"].as_str().unwrap();
    assert_eq!(
        listed[0]["container_status"]["container_id"]["value"],
        container_id
    );
    let stats = &listed[0]["resource_statistics"];
    assert!(stats["timestamp"].as_f64().unwrap() > 0.0, "{containers}");
    let monitored = get_json(format!("{agent}/monitor/statistics")).await;
    for key in monitored[0]["statistics"].as_object().unwrap().keys() {
        assert!(
            stats.get(key).is_some(),
            "GET_CONTAINERS lacks '{key}' that /monitor/statistics has: {stats} vs {monitored}"
        );
    }

    // GET_STATE: the running task launched, the finished one completed
    // once acknowledged, the executor and the framework.
    let state = agent_state_until(&agent, "the finished task as completed", |st| {
        ids(&st["get_tasks"]["completed_tasks"]).contains(&"quick")
    })
    .await;
    assert_eq!(
        ids(&state["get_tasks"]["launched_tasks"]),
        vec!["sleeper"],
        "{state}"
    );
    let quick = &state["get_tasks"]["completed_tasks"][0];
    assert_eq!(quick["state"], "TASK_FINISHED", "{state}");
    assert_eq!(quick["framework_id"]["value"], json!(s.framework_id));
    let executors = state["get_executors"]["executors"].as_array().unwrap();
    assert!(
        executors
            .iter()
            .any(|e| e["executor_info"]["executor_id"]["value"] == "sleeper"),
        "{state}"
    );
    assert_eq!(
        state["get_frameworks"]["frameworks"][0]["framework_info"]["id"]["value"],
        json!(s.framework_id)
    );

    // LIST_FILES and READ_FILE: the sleeper's sandbox and its stdout.
    let sandbox = cluster.sandbox_of("sleeper").display().to_string();
    let listed = answer(
        &agent,
        json!({"type": "LIST_FILES", "list_files": {"path": sandbox}}),
    )
    .await;
    let stdout = format!("{sandbox}/stdout");
    let entry = listed["list_files"]["file_infos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == stdout.as_str())
        .unwrap_or_else(|| panic!("no stdout in {listed}"))
        .clone();
    assert!(entry["size"].as_u64().unwrap() > 0, "{entry}");
    let read = answer(
        &agent,
        json!({"type": "READ_FILE", "read_file": {"path": stdout, "offset": 0}}),
    )
    .await;
    let data = base64::engine::general_purpose::STANDARD
        .decode(read["read_file"]["data"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8_lossy(&data).contains("sleeping"),
        "{read}"
    );
    assert_eq!(read["read_file"]["size"].as_u64(), Some(data.len() as u64));
    // The sandbox protections of `/files/*` hold here too.
    let (status, body) = operator_call(
        &agent,
        json!({"type": "READ_FILE", "read_file": {"path": "/etc/passwd", "offset": 0}}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = operator_call(
        &agent,
        json!({"type": "LIST_FILES", "list_files": {"path": format!("{sandbox}/../..")}}),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = operator_call(&agent, json!({"type": "LAUNCH_CONTAINER"})).await;
    assert_eq!(status, 501, "{body}");
    assert!(body.contains("LAUNCH_CONTAINER"), "{body}");
    cluster.stop().await;
}
