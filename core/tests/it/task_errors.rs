//! Invalid launches end as TASK_ERROR from the master, with REASON_TASK_INVALID
//! and a message saying what was wrong, while the ACCEPT itself is accepted.

use crate::common::{task, Cluster, Scheduler};
use corral::wire::codec::Encoding;
use serde_json::{json, Value};

fn assert_task_error(status: &Value, message_part: &str) {
    assert_eq!(status["state"], "TASK_ERROR", "{status}");
    assert_eq!(status["source"], "SOURCE_MASTER", "{status}");
    assert_eq!(status["reason"], "REASON_TASK_INVALID", "{status}");
    assert!(
        status.get("uuid").is_none(),
        "master updates are not acknowledged: {status}"
    );
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(message_part),
        "expected {message_part:?} in {message:?}"
    );
}

async fn each_invalid_launch_is_a_task_error(encoding: Encoding) {
    let cluster = Cluster::start().await;
    let mut s = Scheduler::subscribe(cluster.master, encoding).await;
    let offer = s.offer().await;

    let mut no_command = task("no-command", &offer, "true", 0.1, 32.0);
    no_command.as_object_mut().unwrap().remove("command");
    let mut no_mem = task("no-mem", &offer, "true", 0.1, 32.0);
    no_mem["resources"].as_array_mut().unwrap().pop();
    let mut foreign_agent = task("elsewhere", &offer, "true", 0.1, 32.0);
    foreign_agent["agent_id"] = json!({"value": "some-other-agent"});
    s.launch(
        &offer,
        vec![
            task("too-big", &offer, "true", 100.0, 32.0),
            task("zero-cpus", &offer, "true", 0.0, 32.0),
            no_mem,
            no_command,
            foreign_agent,
            task("twice", &offer, "sleep 30", 0.1, 32.0),
            task("twice", &offer, "sleep 30", 0.1, 32.0),
        ],
    )
    .await;
    assert_task_error(
        &s.update_for("too-big").await,
        "uses resources cpus:100;mem:32 that are not in the offers",
    );
    assert_task_error(
        &s.update_for("zero-cpus").await,
        "task 'zero-cpus' needs a positive 'cpus' resource",
    );
    assert_task_error(
        &s.update_for("no-mem").await,
        "task 'no-mem' needs a positive 'mem' resource",
    );
    assert_task_error(
        &s.update_for("no-command").await,
        "must have exactly one of 'command' or 'executor'",
    );
    assert_task_error(
        &s.update_for("elsewhere").await,
        "names agent 'some-other-agent' but its offers are for agent",
    );
    // The first "twice" is valid and runs; the second is refused.
    let first = s.update_for("twice").await;
    let second = s.update_for("twice").await;
    let (ok, refused) = if first["state"] == "TASK_ERROR" {
        (second, first)
    } else {
        (first, second)
    };
    assert_task_error(
        &refused,
        "task id 'twice' appears more than once in this ACCEPT",
    );
    assert_eq!(ok["state"], "TASK_RUNNING", "{ok}");

    // The offer is used: accepting it again, or an unknown offer, fails every task.
    s.launch(&offer, vec![task("reused", &offer, "true", 0.1, 32.0)])
        .await;
    assert_task_error(
        &s.update_for("reused").await,
        "is unknown or no longer valid",
    );
    let bogus = json!({"id": {"value": "no-such-offer"}, "agent_id": offer["agent_id"]});
    s.launch(&bogus, vec![task("bogus", &offer, "true", 0.1, 32.0)])
        .await;
    assert_task_error(
        &s.update_for("bogus").await,
        "offer 'no-such-offer' is unknown or no longer valid",
    );

    // A task id already in use by a running task.
    let offer = s.offer().await;
    s.launch(&offer, vec![task("twice", &offer, "true", 0.1, 32.0)])
        .await;
    assert_task_error(
        &s.update_for("twice").await,
        "task id 'twice' is already in use",
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invalid_launch_is_a_task_error_over_json() {
    each_invalid_launch_is_a_task_error(Encoding::Json).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invalid_launch_is_a_task_error_over_protobuf() {
    each_invalid_launch_is_a_task_error(Encoding::Protobuf).await;
}
