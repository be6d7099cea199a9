//! A custom executor (a Python program speaking the v1 executor API in
//! JSON) runs a task, sees Mesos' environment, and the hook module's labels
//! and variables reach it.

use crate::common::{Cluster, Options, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_executor_runs_a_task_with_hooks_applied() {
    let cluster = Cluster::start_with(Options {
        hook_params:
            r#"labels = "team=infra", remove_labels = "secret", environment = "CORRAL_HOOKED=yes""#
                .into(),
        ..Options::default()
    })
    .await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/executors/report_executor.py"
    );
    let task = json!({
        "name": "custom",
        "task_id": {"value": "custom-1"},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}
        ],
        "labels": {"labels": [{"key": "report_env", "value": "CORRAL_HOOKED,FROM_COMMAND"}, {"key": "secret", "value": "x"}]},
        "executor": {
            "executor_id": {"value": "reporter"},
            "name": "report executor",
            "command": {
                "shell": false,
                "value": "/usr/bin/env",
                "arguments": ["env", "python3", script],
                "environment": {"variables": [{"name": "FROM_COMMAND", "value": "1"}]}
            },
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]
        }
    });
    s.launch(&offer, vec![task]).await;
    let running = s.update_for("custom-1").await;
    assert_eq!(running["state"], "TASK_RUNNING", "{running}");
    assert_eq!(running["executor_id"]["value"], "reporter");
    let finished = s.update_for("custom-1").await;
    assert_eq!(finished["state"], "TASK_FINISHED", "{finished}");
    let report: Value = serde_json::from_str(finished["message"].as_str().unwrap()).unwrap();

    let mesos = &report["mesos"];
    assert_eq!(mesos["MESOS_FRAMEWORK_ID"], s.framework_id.as_str());
    assert_eq!(mesos["MESOS_EXECUTOR_ID"], "reporter");
    assert_eq!(mesos["MESOS_SLAVE_ID"], offer["agent_id"]["value"]);
    assert_eq!(
        mesos["MESOS_AGENT_ENDPOINT"],
        format!("127.0.0.1:{}", cluster.agent.port()).as_str()
    );
    assert_eq!(mesos["MESOS_CHECKPOINT"], "0");
    assert_eq!(mesos["MESOS_HTTP_COMMAND_EXECUTOR"], "0");
    assert_eq!(
        mesos["MESOS_DIRECTORY"], report["cwd"],
        "the executor runs in its sandbox"
    );
    assert!(report["cwd"]
        .as_str()
        .unwrap()
        .starts_with(cluster.work_dir.path().to_str().unwrap()));

    // The hook's executor environment and the command's own variables.
    assert_eq!(report["env"]["CORRAL_HOOKED"], "yes");
    assert_eq!(report["env"]["FROM_COMMAND"], "1");
    // Labels: added by the hook at the master and the agent, "secret" removed.
    assert_eq!(report["labels"]["team"], "infra");
    assert!(
        report["labels"].get("secret").is_none(),
        "{}",
        report["labels"]
    );
    cluster.stop().await;
}

fn staying_task(offer: &Value, script: &str) -> Value {
    json!({
        "name": "stay",
        "task_id": {"value": "stay-1"},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}
        ],
        "labels": {"labels": [{"key": "stay"}]},
        "executor": {
            "executor_id": {"value": "stayer"},
            "command": {"shell": true, "value": format!("exec python3 {script}")}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_both_ways_and_shutdown_ends_the_executor() {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, Encoding::Json).await;
    let offer = s.offer().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/executors/report_executor.py"
    );
    s.launch(&offer, vec![staying_task(&offer, script)]).await;
    assert_eq!(s.update_for("stay-1").await["state"], "TASK_RUNNING");

    // MESSAGE to the executor; it answers, and the answer reaches us.
    let (code, body) = s
        .call(json!({"type": "MESSAGE", "message": {
            "agent_id": offer["agent_id"], "executor_id": {"value": "stayer"}, "data": "cGluZw=="}}))
        .await;
    assert_eq!(code, 202, "{body}");
    let message = s.next("MESSAGE").await;
    assert_eq!(message["message"]["executor_id"]["value"], "stayer");
    assert_eq!(
        message["message"]["data"], "ZWNobzpwaW5n",
        "base64 of 'echo:ping'"
    );

    // SHUTDOWN: the executor exits; its task is reported and a FAILURE follows.
    let (code, _) = s
        .call(json!({"type": "SHUTDOWN", "shutdown": {"agent_id": offer["agent_id"], "executor_id": {"value": "stayer"}}}))
        .await;
    assert_eq!(code, 202);
    let ended = s.update_for("stay-1").await;
    assert_eq!(ended["state"], "TASK_KILLED", "{ended}");
    assert_eq!(ended["source"], "SOURCE_AGENT");
    assert_eq!(ended["reason"], "REASON_EXECUTOR_TERMINATED");
    let failure = s.next("FAILURE").await;
    assert_eq!(failure["failure"]["executor_id"]["value"], "stayer");
    assert_eq!(failure["failure"]["agent_id"], offer["agent_id"]);
    cluster.stop().await;
}
