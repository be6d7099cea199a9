//! Ids that would become paths, sent as an attacker or a buggy client
//! would: through the scheduler API (TASK_ERROR or 400), the agent
//! protocol and the executor API (400), and from a hostile master straight
//! to the agent (TASK_FAILED, nothing created). Each test checks that no
//! directory appeared outside the work dir, nor a sandbox inside it.

use std::{path::Path, path::PathBuf, time::Duration};

use crate::common::{task, Cluster, Scheduler, EVENT_TIMEOUT};
use corral::{
    agent::{AgentConfig, AgentModules},
    proto::{
        agent::{self as ap, master_event},
        v1,
    },
    server,
    wire::{
        codec::{decode, encode, Encoding},
        recordio::record,
    },
};
use serde_json::{json, Value};

/// A path outside the work dir that an absolute id would put a sandbox at.
fn outside(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("corral-escape-{}-{name}", std::process::id()))
}

fn assert_task_error(status: &Value, parts: &[&str]) {
    assert_eq!(status["state"], "TASK_ERROR", "{status}");
    assert_eq!(status["source"], "SOURCE_MASTER", "{status}");
    assert_eq!(status["reason"], "REASON_TASK_INVALID", "{status}");
    let message = status["message"].as_str().unwrap_or_default();
    for part in parts {
        assert!(message.contains(part), "expected {part:?} in {message:?}");
    }
}

/// A task run by its own executor `executor_id`.
fn executor_task(task_id: &str, executor_id: &str, offer: &Value) -> Value {
    let mut t = task(task_id, offer, "true", 0.1, 16.0);
    let command = t.as_object_mut().unwrap().remove("command").unwrap();
    t["executor"] = json!({"executor_id": {"value": executor_id}, "command": command});
    t
}

/// Nothing under the work dir but the agent's own `meta`: no sandbox was
/// made for any of the refused tasks.
fn assert_no_sandbox(work_dir: &Path) {
    let entries: Vec<String> = std::fs::read_dir(work_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "meta")
        .collect();
    assert!(entries.is_empty(), "made in the work dir: {entries:?}");
}

const SEPARATOR: &str = "it must not contain '/' or '\\'";
const DOTS: &str = "'.' and '..' are not allowed";
const CONTROL: &str = "it must not contain control characters (NUL included)";
const WHITESPACE: &str = "it must not contain whitespace";
const TOO_LONG: &str = "256 bytes long, more than the 255 allowed";

async fn bad_task_and_executor_ids_are_task_errors(encoding: Encoding) {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, encoding).await;
    let offer = s.offer().await;
    let absolute = outside(&format!("{encoding:?}"));
    let absolute_id = absolute.display().to_string();
    let long = "e".repeat(256);
    let executors: Vec<(&str, &str, &str)> = vec![
        ("ex-absolute", &absolute_id, SEPARATOR),
        ("ex-up", "../../x", SEPARATOR),
        ("ex-dotdot", "..", DOTS),
        ("ex-dot", ".", DOTS),
        ("ex-nul", "a\0b", CONTROL),
        ("ex-long", &long, TOO_LONG),
        ("ex-space", "a b", WHITESPACE),
        ("ex-newline", "a\nb", CONTROL),
    ];
    let long_task = "t".repeat(256);
    let tasks: Vec<(&str, &str)> = vec![
        (".", DOTS),
        ("..", DOTS),
        ("t\0", CONTROL),
        (&long_task, TOO_LONG),
        ("t b", WHITESPACE),
        ("t\nb", CONTROL),
        ("/tmp/t", SEPARATOR),
    ];
    let mut launches: Vec<Value> = executors
        .iter()
        .map(|(task_id, executor_id, _)| executor_task(task_id, executor_id, &offer))
        .collect();
    launches.extend(
        tasks
            .iter()
            .map(|(task_id, _)| task(task_id, &offer, "true", 0.1, 16.0)),
    );
    s.launch(&offer, launches).await;
    for (task_id, executor_id, rule) in &executors {
        let shown: String = executor_id.escape_debug().take(64).collect();
        assert_task_error(
            &s.update_for(task_id).await,
            &[
                &format!("task '{task_id}' has an invalid executor: executor id '{shown}"),
                rule,
            ],
        );
    }
    for (task_id, rule) in &tasks {
        let shown: String = task_id.escape_debug().take(64).collect();
        assert_task_error(
            &s.update_for(task_id).await,
            &[&format!("task id '{shown}"), rule],
        );
    }
    assert!(!absolute.exists(), "{} was created", absolute.display());
    assert_no_sandbox(cluster.work_dir.path());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_task_and_executor_ids_are_task_errors_over_json() {
    bad_task_and_executor_ids_are_task_errors(Encoding::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_task_and_executor_ids_are_task_errors_over_protobuf() {
    bad_task_and_executor_ids_are_task_errors(Encoding::Protobuf).await;
}

/// POSTs `body` (JSON) to `url`; the status and the text answered.
async fn post_json(url: String, body: Value, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_framework_ids_and_a_missing_user_are_refused_with_400() {
    let cluster = Cluster::start().await;
    let url = format!("http://{}/api/v1/scheduler", cluster.master);
    let long = "f".repeat(256);
    let escape = outside("framework").display().to_string();
    for (id, rule) in [
        ("../x", SEPARATOR),
        (escape.as_str(), SEPARATOR),
        ("..", DOTS),
        ("f\0", CONTROL),
        (long.as_str(), TOO_LONG),
        ("f g", WHITESPACE),
    ] {
        let subscribe = json!({"type": "SUBSCRIBE", "framework_id": {"value": id},
            "subscribe": {"framework_info": {"user": "root", "name": "bad", "id": {"value": id}}}});
        let (code, body) = post_json(url.clone(), subscribe, &[]).await;
        let shown: String = id.escape_debug().take(64).collect();
        assert_eq!(code, 400, "{id:?}: {body}");
        assert!(
            body.starts_with(&format!("framework id '{shown}")) && body.contains(rule),
            "{id:?}: {body}"
        );
        // Calls with such an id are refused too, before the stream is looked at.
        let call = json!({"type": "REVIVE", "framework_id": {"value": id}});
        let (code, body) = post_json(url.clone(), call, &[("mesos-stream-id", "s")]).await;
        assert_eq!(code, 400, "{id:?}: {body}");
        assert!(body.contains(rule), "{id:?}: {body}");
    }
    // Mesos requires framework_info.user.
    let subscribe =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "no-user"}}});
    let (code, body) = post_json(url.clone(), subscribe, &[]).await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body,
        "Missing required fields: subscribe.framework_info.user"
    );
    assert!(!outside("framework").exists());
    assert_no_sandbox(cluster.work_dir.path());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversed_port_range_is_a_task_error_naming_it() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let mut reversed = task("reversed", &offer, "true", 0.1, 16.0);
    reversed["resources"].as_array_mut().unwrap().push(json!({
        "name": "ports", "type": "RANGES",
        "ranges": {"range": [{"begin": 32000, "end": 31000}]}}));
    s.launch(&offer, vec![reversed]).await;
    assert_task_error(
        &s.update_for("reversed").await,
        &["task 'reversed' has resource 'ports' with reversed range [32000-31000]"],
    );
    assert_no_sandbox(cluster.work_dir.path());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_on_the_agent_protocol_and_the_executor_api_are_refused_with_400() {
    let cluster = Cluster::start().await;
    let client = reqwest::Client::new();
    let protocol = |url: String, body: Vec<u8>| {
        client
            .post(url)
            .header("content-type", "application/x-protobuf")
            .header("Corral-Agent-Protocol", "1")
            .body(body)
            .send()
    };
    for id in ["../x", "..", "a/b", "a\0b"] {
        let subscribe = ap::Subscribe {
            protocol_version: 1,
            agent_info: v1::AgentInfo {
                hostname: "evil".into(),
                id: Some(v1::AgentId { value: id.into() }),
                ..Default::default()
            },
            tasks: vec![],
            endpoint: "127.0.0.1:1".into(),
        };
        let r = protocol(
            format!("http://{}/agent/v1/subscribe", cluster.master),
            encode(&subscribe, Encoding::Protobuf),
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{id:?}");
        let body = r.text().await.unwrap();
        assert!(body.starts_with("agent id '"), "{id:?}: {body}");
        assert!(body.contains("is invalid: "), "{id:?}: {body}");

        let call = ap::AgentCall {
            agent_id: v1::AgentId { value: id.into() },
            r#type: Some(ap::agent_call::Type::Pong as i32),
            ..Default::default()
        };
        let r = protocol(
            format!("http://{}/agent/v1/call", cluster.master),
            encode(&call, Encoding::Protobuf),
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{id:?}");
        assert!(r.text().await.unwrap().starts_with("agent id '"));

        for (framework_id, executor_id, kind) in
            [(id, "e", "framework id"), ("F", id, "executor id")]
        {
            let call = json!({"type": "SUBSCRIBE", "framework_id": {"value": framework_id},
                "executor_id": {"value": executor_id}, "subscribe": {}});
            let (code, body) = post_json(
                format!("http://{}/api/v1/executor", cluster.agent),
                call,
                &[],
            )
            .await;
            assert_eq!(code, 400, "{id:?}: {body}");
            assert!(body.starts_with(&format!("{kind} '")), "{id:?}: {body}");
        }
    }
    assert_no_sandbox(cluster.work_dir.path());
    cluster.stop().await;
}

/// A master that registers the agent and sends it `tasks` (whatever their
/// ids), then reports each UPDATE the agent posts back.
async fn hostile_master(
    tasks: Vec<(v1::FrameworkInfo, v1::TaskInfo)>,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<v1::TaskStatus>,
) {
    use axum::{body::Body, body::Bytes, routing::post, Router};
    let (updates, received) = tokio::sync::mpsc::unbounded_channel();
    let subscribe = move || {
        let tasks = tasks.clone();
        async move {
            let mut events = vec![ap::MasterEvent {
                r#type: Some(master_event::Type::Registered as i32),
                registered: Some(master_event::Registered {
                    agent_id: v1::AgentId {
                        value: "S-hostile".into(),
                    },
                    ping_interval_seconds: 1.0,
                }),
                ..Default::default()
            }];
            events.extend(
                tasks
                    .into_iter()
                    .map(|(framework_info, task)| ap::MasterEvent {
                        r#type: Some(master_event::Type::RunTask as i32),
                        run_task: Some(master_event::RunTask {
                            framework_info,
                            task,
                        }),
                        ..Default::default()
                    }),
            );
            let records: Vec<Result<Bytes, std::io::Error>> = events
                .iter()
                .map(|e| Ok(Bytes::from(record(&encode(e, Encoding::Protobuf)))))
                .collect();
            // The stream stays open after the events.
            let body = futures::stream::iter(records).chain(futures::stream::pending());
            Body::from_stream(body)
        }
    };
    let call = move |body: Bytes| {
        let updates = updates.clone();
        async move {
            let call: ap::AgentCall = decode(&body, Encoding::Protobuf).unwrap();
            if let Some(update) = call.update {
                let _ = updates.send(update.status);
            }
            axum::http::StatusCode::ACCEPTED
        }
    };
    let app = Router::new()
        .route("/agent/v1/subscribe", post(subscribe))
        .route("/agent/v1/call", post(call));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

use futures::StreamExt;

fn run_task(
    framework_id: &str,
    task_id: &str,
    executor_id: Option<&str>,
) -> (v1::FrameworkInfo, v1::TaskInfo) {
    let command = v1::CommandInfo {
        value: Some("touch escaped".into()),
        ..Default::default()
    };
    let framework = v1::FrameworkInfo {
        user: "root".into(),
        name: "hostile".into(),
        id: Some(v1::FrameworkId {
            value: framework_id.into(),
        }),
        ..Default::default()
    };
    let task = v1::TaskInfo {
        name: task_id.into(),
        task_id: v1::TaskId {
            value: task_id.into(),
        },
        agent_id: v1::AgentId {
            value: "S-hostile".into(),
        },
        command: executor_id.is_none().then(|| command.clone()),
        executor: executor_id.map(|id| v1::ExecutorInfo {
            executor_id: v1::ExecutorId { value: id.into() },
            command: Some(command),
            ..Default::default()
        }),
        ..Default::default()
    };
    (framework, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_refuses_bad_ids_from_a_hostile_master_and_creates_nothing() {
    let absolute = outside("agent");
    let tasks = vec![
        run_task("F", "t-absolute", Some(&absolute.display().to_string())),
        run_task("F", "t-up", Some("../../x")),
        run_task("F", "t-dotdot", Some("..")),
        run_task("F", "..", None),
        run_task("F", "t-nul", Some("a\0b")),
        run_task("F", "t-long", Some(&"e".repeat(256))),
        // Nobody could acknowledge an update of this one: it is dropped.
        run_task("../../f", "t-framework", None),
    ];
    let (master, mut updates) = hostile_master(tasks).await;
    let work_dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::new(
        master.to_string(),
        work_dir.path().to_path_buf(),
        PathBuf::from(env!("CARGO_BIN_EXE_corral")),
    );
    config.cgroups_root = format!("corral-test-{}-hostile", std::process::id());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(server::agent::run(
        listener,
        config,
        AgentModules {
            hooks: corral::extension::Hooks::from(Vec::new()),
            isolators: Vec::new(),
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let mut failed = std::collections::BTreeMap::new();
    while failed.len() < 6 {
        let status = tokio::time::timeout(EVENT_TIMEOUT, updates.recv())
            .await
            .expect("an update for every refused task")
            .unwrap();
        failed.insert(status.task_id.value.clone(), status);
    }
    for (task_id, rule) in [
        ("t-absolute", SEPARATOR),
        ("t-up", SEPARATOR),
        ("t-dotdot", DOTS),
        ("..", DOTS),
        ("t-nul", CONTROL),
        ("t-long", TOO_LONG),
    ] {
        let status = &failed[task_id];
        assert_eq!(status.state, v1::TaskState::TaskFailed as i32, "{status:?}");
        assert_eq!(
            status.reason,
            Some(v1::task_status::Reason::TaskInvalid as i32)
        );
        assert_eq!(status.agent_id.as_ref().unwrap().value, "S-hostile");
        let message = status.message.clone().unwrap_or_default();
        assert!(
            message.starts_with("Refused by the agent: ") && message.contains(rule),
            "{task_id}: {message}"
        );
    }
    // Nothing more comes: the task of the bad framework id is dropped.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(status) = updates.try_recv() {
        assert!(failed.contains_key(&status.task_id.value), "{status:?}");
    }
    assert!(!absolute.exists(), "{} was created", absolute.display());
    assert_no_sandbox(work_dir.path());
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(20), agent).await;
    if let Ok(freezer) = corral::containerizer::Freezer::detect(&format!(
        "corral-test-{}-hostile",
        std::process::id()
    )) {
        let _ = std::fs::remove_dir(freezer.base());
    }
}
